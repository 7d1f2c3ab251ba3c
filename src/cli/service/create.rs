//! `bosun service create` and its flags: collected as the user typed them into the request;
//! the manager decodes and validates them.

use std::path::PathBuf;

use clap::Args;
use cluster_manager::services::proto;

use super::knobs::{RollbackKnobs, UpdateKnobs};
use crate::cli::container::run::{env_entry, read_env_file};

/// Flags of the spec (`service create`).
#[derive(Debug, Args)]
pub(crate) struct SpecFlags {
    /// Service mode: replicated, global, replicated-job or global-job.
    #[arg(long, default_value = "replicated")]
    pub mode: String,
    /// Number of tasks (replicated), or completions (replicated-job).
    #[arg(long)]
    pub replicas: Option<u64>,
    /// Job tasks running at the same time (replicated-job; default: --replicas).
    #[arg(long)]
    pub max_concurrent: Option<u64>,
    /// Set an environment variable (NAME=VALUE, or NAME to take it from here).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Service label (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Container label (KEY=VALUE).
    #[arg(long)]
    pub container_label: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly].
    #[arg(long)]
    pub mount: Vec<String>,
    /// Publish a port: [mode=ingress|host,]target=80[,published=8080][,protocol=udp]
    /// [,name=http] or 8080:80. Ingress (the default) answers on every node through the
    /// routing mesh; host publishes on the task's node only. Without published=, ingress
    /// takes a port of 30000-32767. A named port answers the DNS SRV name
    /// _<name>._<protocol>.<service> on the service's overlays.
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Placement constraint (node.labels.zone==east).
    #[arg(long)]
    pub constraint: Vec<String>,
    /// Placement preference (spread=node.labels.zone).
    #[arg(long)]
    pub placement_pref: Vec<String>,
    /// Tasks of the service on one node at most.
    #[arg(long)]
    pub replicas_max_per_node: Option<u64>,
    /// CPUs set aside on the node for each task (0.5).
    #[arg(long, default_value = "")]
    pub reserve_cpu: String,
    /// Memory set aside on the node for each task (512m).
    #[arg(long, default_value = "")]
    pub reserve_memory: String,
    /// CPU limit of each task.
    #[arg(long, default_value = "")]
    pub limit_cpu: String,
    /// Memory limit of each task.
    #[arg(long, default_value = "")]
    pub limit_memory: String,
    /// Restart when: none, on-failure or any (default any).
    #[arg(long, default_value = "")]
    pub restart_condition: String,
    /// Delay between restarts (default 5s).
    #[arg(long, default_value = "")]
    pub restart_delay: String,
    /// Restarts at most (within --restart-window when set).
    #[arg(long)]
    pub restart_max_attempts: Option<u64>,
    /// Window the restart attempts are counted in.
    #[arg(long, default_value = "")]
    pub restart_window: String,
    /// Healthcheck command (run with /bin/sh -c).
    #[arg(long, default_value = "")]
    pub health_cmd: String,
    /// Time between healthchecks.
    #[arg(long, default_value = "")]
    pub health_interval: String,
    /// Time a healthcheck may take.
    #[arg(long, default_value = "")]
    pub health_timeout: String,
    /// Failures in a row that make a task unhealthy.
    #[arg(long)]
    pub health_retries: Option<u64>,
    /// Time after start before failures count.
    #[arg(long, default_value = "")]
    pub health_start_period: String,
    /// Disable the image's healthcheck.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// User (name, uid, uid:gid).
    #[arg(short = 'u', long, default_value = "")]
    pub user: String,
    /// Working directory.
    #[arg(short = 'w', long, default_value = "")]
    pub workdir: String,
    /// Container host name.
    #[arg(long, default_value = "")]
    pub hostname: String,
    /// Overrides the image's entrypoint.
    #[arg(long, default_value = "")]
    pub entrypoint: String,
    /// Time to wait after the stop signal before killing (default 10s).
    #[arg(long, default_value = "")]
    pub stop_grace_period: String,
    /// Signal that stops the container.
    #[arg(long, default_value = "")]
    pub stop_signal: String,
    /// Run an init process as PID 1.
    #[arg(long)]
    pub init: bool,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Stop the service's tasks on a node that has heard from no manager for this long
    /// (10s; 4s at the least), so a task that must never run twice does not run on a cut-off node while its
    /// replacement runs elsewhere; default: tasks keep running however long a node is cut off.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "",
        hide_default_value = true
    )]
    pub stop_on_disconnect: String,
    #[command(flatten)]
    pub update: UpdateKnobs,
    #[command(flatten)]
    pub rollback: RollbackKnobs,
    /// Join a cluster network: NAME, or name=NAME[,alias=ALIAS…] (repeat for more).
    #[arg(long = "network", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// How the service is reached on its networks: vip (default: one virtual address per
    /// network, load-balanced over the running tasks) or dnsrr (its name answers the tasks'
    /// addresses).
    #[arg(long, value_name = "MODE", value_parser = ["vip", "dnsrr"])]
    pub endpoint_mode: Option<String>,
    /// Give the tasks a secret as a file on a tmpfs (at /run/secrets/NAME by default): NAME,
    /// or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444] (repeat for more).
    #[arg(long = "secret", value_name = "SECRET")]
    pub secret: Vec<String>,
    /// Give the tasks a config as a file (at /NAME by default): NAME, or
    /// source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444] (repeat for more).
    #[arg(long = "config", value_name = "CONFIG")]
    pub config: Vec<String>,
}

/// Arguments of `service create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Service name (default: the image's name).
    #[arg(long, default_value = "")]
    pub name: String,
    /// Leave this service out of rebalancing.
    #[arg(long)]
    pub no_rebalance: bool,
    /// Return at once instead of waiting for the tasks to run.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Print the service id only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Record the image as typed instead of pinned to the manifest digest this node's agent
    /// holds it under (pinned, nodes no registry gives it to fetch it from a manager).
    #[arg(long)]
    pub no_resolve_image: bool,
    /// Send this user's credentials for the image's registry (`bosun login`) to the managers,
    /// which keep them sealed and hand them to the nodes that run the tasks.
    #[arg(long)]
    pub with_registry_auth: bool,
    #[command(flatten)]
    pub spec: SpecFlags,
    /// Image, then the command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub image_and_args: Vec<String>,
}

fn count(value: Option<u64>) -> Option<proto::Count> {
    value.map(|value| proto::Count { value })
}

/// The request for these arguments (env files read and bare names resolved here, where the
/// user's environment is).
pub(super) fn request(args: &CreateArgs) -> anyhow::Result<proto::CreateServiceRequest> {
    let flags = &args.spec;
    let mut env = Vec::new();
    for file in &flags.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(flags.env.iter().filter_map(|e| env_entry(e)));
    let (image, rest) = args
        .image_and_args
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("an image is required"))?;
    let spec = proto::SpecRequest {
        image: image.clone(),
        args: rest.to_vec(),
        entrypoint: flags.entrypoint.clone(),
        env,
        mode: flags.mode.clone(),
        replicas: count(flags.replicas),
        max_concurrent: count(flags.max_concurrent),
        labels: flags.label.clone(),
        container_labels: flags.container_label.clone(),
        mounts: flags.mount.clone(),
        publish: flags.publish.clone(),
        constraints: flags.constraint.clone(),
        placement_prefs: flags.placement_pref.clone(),
        max_replicas_per_node: count(flags.replicas_max_per_node),
        reserve_cpu: flags.reserve_cpu.clone(),
        reserve_memory: flags.reserve_memory.clone(),
        limit_cpu: flags.limit_cpu.clone(),
        limit_memory: flags.limit_memory.clone(),
        restart_condition: flags.restart_condition.clone(),
        restart_delay: flags.restart_delay.clone(),
        restart_max_attempts: count(flags.restart_max_attempts),
        restart_window: flags.restart_window.clone(),
        health_cmd: flags.health_cmd.clone(),
        health_interval: flags.health_interval.clone(),
        health_timeout: flags.health_timeout.clone(),
        health_retries: count(flags.health_retries),
        health_start_period: flags.health_start_period.clone(),
        no_healthcheck: flags.no_healthcheck,
        user: flags.user.clone(),
        workdir: flags.workdir.clone(),
        hostname: flags.hostname.clone(),
        stop_grace_period: flags.stop_grace_period.clone(),
        stop_signal: flags.stop_signal.clone(),
        init: flags.init,
        read_only: flags.read_only,
        stop_on_disconnect: flags.stop_on_disconnect.clone(),
        update_config: flags.update.request(),
        rollback_config: flags.rollback.request(),
        networks: flags.network.clone(),
        endpoint_mode: flags.endpoint_mode.clone().unwrap_or_default(),
        secrets: flags.secret.clone(),
        configs: flags.config.clone(),
    };
    Ok(proto::CreateServiceRequest {
        name: args.name.clone(),
        spec: Some(spec),
        no_rebalance: args.no_rebalance,
        spec_json: Vec::new(),
        registry_auth: None,
    })
}
