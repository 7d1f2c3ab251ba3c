//! `bosun service …`: create, list, inspect, scale, update and remove replicated and global
//! services, list their tasks and read their logs (as `docker service`). Talks to this node's manager; the
//! manager decodes, validates and forwards writes to the leader.

pub(crate) mod auth;
mod create;
mod knobs;
mod logs;
mod ls;
mod progress;
pub(crate) mod ps;
pub(crate) mod resolve;
mod update_status;
pub(crate) mod wait;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use cluster_manager::Manager;
use cluster_manager::services::proto::{self, DesiredStateFilter};

use super::cluster::{DataRootArg, runtime};
pub(super) use create::CreateArgs;
use knobs::{RollbackKnobs, UpdateKnobs};
pub(crate) use ls::print as print_services;
use ps::TaskOutput;
use wait::Expect;

/// Arguments of `bosun service`.
#[derive(Debug, Args)]
pub(crate) struct ServiceArgs {
    #[command(flatten)]
    root: DataRootArg,
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Create a service.
    Create(Box<CreateArgs>),
    /// List the services.
    #[command(alias = "list")]
    Ls {
        /// Print service ids only.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`,
        /// or a Go template (fields as docker's: ID, Name, Mode, Replicas, Image, Ports).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// List the tasks of services.
    Ps {
        /// Services (name, id or id prefix).
        #[arg(required = true)]
        services: Vec<String>,
        /// Filter: desired-state=running|shutdown, node=NODE.
        #[arg(short = 'f', long = "filter")]
        filter: Vec<String>,
        #[command(flatten)]
        output: TaskOutput,
    },
    /// Show services' records as json (with the last update's UpdateStatus).
    Inspect {
        /// Services (name, id or id prefix).
        #[arg(required = true)]
        services: Vec<String>,
        /// Format output: `json` (one object per line) or a Go template such as
        /// '{{.Spec.Name}}' (default: the indented JSON array).
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
    /// Change the replica count of services (SERVICE=REPLICAS).
    Scale {
        /// SERVICE=REPLICAS pairs.
        #[arg(required = true)]
        pairs: Vec<String>,
        /// Return at once instead of waiting for the tasks to run.
        #[arg(short = 'd', long)]
        detach: bool,
    },
    /// Remove services (their tasks are stopped).
    #[command(alias = "remove")]
    Rm {
        /// Services (name, id or id prefix).
        #[arg(required = true)]
        services: Vec<String>,
    },
    /// Change a service: a rolling update of its tasks when more than the replica count and
    /// the update knobs change; or pause, resume or cancel the update under way.
    Update(Box<UpdateArgs>),
    /// Go back to the service's previous spec (with its rollback knobs).
    Rollback {
        /// Return at once instead of waiting for the rollback to finish.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Service (name, id or id prefix).
        service: String,
    },
    /// Show the logs of a service's tasks (or of one task), merged from every node.
    Logs(logs::LogsArgs),
}

/// Arguments of `service update`.
#[derive(Debug, Args)]
struct UpdateArgs {
    /// Number of tasks (replicated), or completions (replicated-job).
    #[arg(long)]
    replicas: Option<u64>,
    /// Job tasks running at the same time (replicated-job).
    #[arg(long)]
    max_concurrent: Option<u64>,
    /// New image.
    #[arg(long, default_value = "")]
    image: String,
    /// Record the new image as typed, not pinned to this node's manifest digest.
    #[arg(long)]
    no_resolve_image: bool,
    /// Send this user's credentials for the image's registry (`bosun login`) again, in place
    /// of those the service has.
    #[arg(long)]
    with_registry_auth: bool,
    /// Add or change an environment variable (NAME=VALUE).
    #[arg(long)]
    env_add: Vec<String>,
    /// Remove an environment variable.
    #[arg(long)]
    env_rm: Vec<String>,
    /// Add or change a service label (KEY=VALUE).
    #[arg(long)]
    label_add: Vec<String>,
    /// Remove a service label.
    #[arg(long)]
    label_rm: Vec<String>,
    /// Add a placement constraint.
    #[arg(long)]
    constraint_add: Vec<String>,
    /// Remove a placement constraint.
    #[arg(long)]
    constraint_rm: Vec<String>,
    /// Stop the service's tasks on a node that has heard from no manager for this long
    /// (10s; 0 turns it off).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "",
        hide_default_value = true
    )]
    stop_on_disconnect: String,
    /// Join a cluster network, or change its aliases: NAME or name=NAME[,alias=ALIAS…].
    #[arg(long, value_name = "NETWORK")]
    network_add: Vec<String>,
    /// Leave a cluster network.
    #[arg(long, value_name = "NETWORK")]
    network_rm: Vec<String>,
    /// Change how the service is reached: vip or dnsrr (no task is replaced).
    #[arg(long, value_name = "MODE", value_parser = ["vip", "dnsrr"])]
    endpoint_mode: Option<String>,
    /// Add a secret, or change its file: NAME or
    /// source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444].
    #[arg(long, value_name = "SECRET")]
    secret_add: Vec<String>,
    /// Remove a secret (by name).
    #[arg(long, value_name = "SECRET")]
    secret_rm: Vec<String>,
    /// Add a config, or change its file: NAME or
    /// source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444].
    #[arg(long, value_name = "CONFIG")]
    config_add: Vec<String>,
    /// Remove a config (by name).
    #[arg(long, value_name = "CONFIG")]
    config_rm: Vec<String>,
    /// Replace every task even if nothing changed.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    update: UpdateKnobs,
    #[command(flatten)]
    rollback: RollbackKnobs,
    /// Pause the update (or rollback) under way.
    #[arg(long, conflicts_with_all = ["resume", "cancel"])]
    pause: bool,
    /// Resume a paused update (or rollback).
    #[arg(long, conflicts_with = "cancel")]
    resume: bool,
    /// Stop the update under way and return its updated tasks to the previous spec.
    #[arg(long)]
    cancel: bool,
    /// Return at once instead of waiting for the update to finish.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Service (name, id or id prefix).
    service: String,
}

impl UpdateArgs {
    /// The request to the update under way, if one is asked for.
    fn action(&self) -> Option<proto::UpdateAction> {
        if self.pause {
            Some(proto::UpdateAction::Pause)
        } else if self.resume {
            Some(proto::UpdateAction::Resume)
        } else if self.cancel {
            Some(proto::UpdateAction::Cancel)
        } else {
            None
        }
    }
}

fn count(value: Option<u64>) -> Option<proto::Count> {
    value.map(|value| proto::Count { value })
}

/// The `--filter` values of `service ps` and `node ps` as a request.
pub(crate) fn task_filter(
    filters: &[String],
    mut request: proto::ListTasksRequest,
) -> anyhow::Result<proto::ListTasksRequest> {
    for filter in filters {
        match filter.split_once('=') {
            Some(("desired-state", "running")) => {
                request.desired_state = DesiredStateFilter::DesiredRunning as i32
            }
            Some(("desired-state", "shutdown")) => {
                request.desired_state = DesiredStateFilter::DesiredShutdown as i32
            }
            Some(("node", node)) => request.node = node.to_owned(),
            _ => anyhow::bail!(
                "invalid filter {filter:?}: expected desired-state=running|shutdown or node=NODE"
            ),
        }
    }
    Ok(request)
}

/// Runs `bosun service`.
pub(super) fn run(args: ServiceArgs) -> anyhow::Result<ExitCode> {
    let manager = Manager::open(&args.root.data_root)?;
    let rt = runtime()?;
    let _context = rt.enter();
    let client = manager.services_client()?;
    match args.command {
        ServiceCommand::Logs(args) => return rt.block_on(logs::run(&manager, args)),
        ServiceCommand::Create(create) => {
            let mut request = create::request(&create)?;
            if !create.no_resolve_image
                && let Some(spec) = request.spec.as_mut()
            {
                spec.image = rt.block_on(resolve::resolve(&spec.image));
            }
            if create.with_registry_auth
                && let Some(spec) = &request.spec
            {
                request.registry_auth = auth::for_image(&spec.image)?;
            }
            let record = rt.block_on(client.create(request))?;
            if create.quiet || create.detach {
                println!("{}", record.meta.id);
            } else {
                println!("{}", record.meta.id);
                rt.block_on(wait::converge(&client, &record.meta.id))?;
            }
        }
        ServiceCommand::Ls { quiet, format } => {
            let services = rt.block_on(client.list())?;
            ls::print(&services, quiet, &format)?;
        }
        ServiceCommand::Ps {
            services,
            filter,
            output,
        } => {
            let mut all = cluster_manager::services::client::TaskList::default();
            for service in services {
                let request = task_filter(
                    &filter,
                    proto::ListTasksRequest {
                        service,
                        ..Default::default()
                    },
                )?;
                let list = rt.block_on(client.tasks(request))?;
                all.tasks.extend(list.tasks);
                all.node_names.extend(list.node_names);
                all.service_names.extend(list.service_names);
            }
            ps::print(&all, &output)?;
            if !output.quiet && output.format == "table" {
                let mut names: Vec<_> = all.service_names.values().cloned().collect();
                names.sort();
                for name in names {
                    if let Some(status) = rt
                        .block_on(client.inspect(&name))?
                        .record
                        .service
                        .update_status
                    {
                        println!("{name}: {}", update_status::summary(&status));
                    }
                }
            }
        }
        ServiceCommand::Inspect { services, format } => {
            let format = crate::cli::format::Format::parse_inspect(format.as_deref())?;
            let mut records = Vec::new();
            for service in services {
                let record = rt.block_on(client.inspect(&service))?.record;
                records.push(update_status::inspect_json(&record)?);
            }
            crate::cli::format::print(&format.objects(&records)?)?;
        }
        ServiceCommand::Scale { pairs, detach } => {
            let mut scaled = Vec::new();
            for pair in &pairs {
                let Some((service, replicas)) = pair.split_once('=') else {
                    anyhow::bail!("invalid scale {pair:?}: expected SERVICE=REPLICAS");
                };
                let replicas: u64 = replicas.parse().map_err(|_| {
                    anyhow::anyhow!("invalid scale {pair:?}: {replicas:?} is not a number")
                })?;
                let request = proto::UpdateServiceRequest {
                    service: service.to_owned(),
                    replicas: count(Some(replicas)),
                    ..Default::default()
                };
                rt.block_on(client.update(request))?;
                println!("{service} scaled to {replicas}");
                scaled.push(service.to_owned());
            }
            if !detach {
                for service in scaled {
                    rt.block_on(wait::converge(&client, &service))?;
                }
            }
        }
        ServiceCommand::Rm { services } => {
            for service in services {
                rt.block_on(client.remove(&service))?;
                println!("{service}");
            }
        }
        ServiceCommand::Update(update) if update.action().is_some() => {
            let action = update.action().expect("checked by the match guard");
            let request = proto::UpdateServiceRequest {
                service: update.service.clone(),
                action: action as i32,
                ..Default::default()
            };
            rt.block_on(client.update(request))?;
            println!("{}", update.service);
            let expect = match action {
                proto::UpdateAction::Cancel => Expect::Cancel,
                _ => Expect::Update,
            };
            if !update.detach && action != proto::UpdateAction::Pause {
                rt.block_on(wait::converge_update(&client, &update.service, expect))?;
            }
        }
        ServiceCommand::Rollback { detach, service } => {
            let request = proto::UpdateServiceRequest {
                service: service.clone(),
                action: proto::UpdateAction::Rollback as i32,
                ..Default::default()
            };
            rt.block_on(client.update(request))?;
            println!("{service}");
            if !detach {
                rt.block_on(wait::converge_update(&client, &service, Expect::Rollback))?;
            }
        }
        ServiceCommand::Update(update) => {
            let image = if update.image.is_empty() || update.no_resolve_image {
                update.image.clone()
            } else {
                rt.block_on(resolve::resolve(&update.image))
            };
            let registry_auth = if update.with_registry_auth {
                let image = if image.is_empty() {
                    rt.block_on(client.inspect(&update.service))?
                        .record
                        .service
                        .spec
                        .image
                } else {
                    image.clone()
                };
                auth::for_image(&image)?
            } else {
                None
            };
            let request = proto::UpdateServiceRequest {
                service: update.service.clone(),
                replicas: count(update.replicas),
                max_concurrent: count(update.max_concurrent),
                image,
                env_add: update.env_add.clone(),
                env_rm: update.env_rm.clone(),
                label_add: update.label_add.clone(),
                label_rm: update.label_rm.clone(),
                constraint_add: update.constraint_add.clone(),
                constraint_rm: update.constraint_rm.clone(),
                force: update.force,
                spec_json: Vec::new(),
                stop_on_disconnect: update.stop_on_disconnect.clone(),
                registry_auth,
                update_config: update.update.request(),
                rollback_config: update.rollback.request(),
                action: proto::UpdateAction::None as i32,
                network_add: update.network_add.clone(),
                network_rm: update.network_rm.clone(),
                endpoint_mode: update.endpoint_mode.clone().unwrap_or_default(),
                secret_add: update.secret_add.clone(),
                secret_rm: update.secret_rm.clone(),
                config_add: update.config_add.clone(),
                config_rm: update.config_rm.clone(),
            };
            let record = rt.block_on(client.update(request))?;
            println!("{}", update.service);
            // Only a change that started an update ends with its outcome; a scale or a change
            // of the knobs alone waits for the tasks, whatever an earlier update did.
            let started = record
                .service
                .update_status
                .as_ref()
                .is_some_and(|s| s.is_moving() && s.started_at == record.service.updated_at);
            let expect = if started {
                Expect::Update
            } else {
                Expect::Converge
            };
            if !update.detach {
                rt.block_on(wait::converge_update(&client, &update.service, expect))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct ServiceCli {
        #[command(flatten)]
        args: ServiceArgs,
    }

    #[test]
    fn definition_is_consistent() {
        ServiceCli::command().debug_assert();
    }

    #[test]
    fn create_collects_flags_and_the_command_after_the_image() {
        let cli = ServiceCli::try_parse_from([
            "service",
            "create",
            "-d",
            "--name",
            "web",
            "--replicas",
            "3",
            "-e",
            "A=1",
            "--constraint",
            "node.labels.zone==east",
            "--stop-on-disconnect",
            "10s",
            "--network",
            "front",
            "--network",
            "name=back,alias=api",
            "nginx",
            "nginx",
            "-g",
            "daemon off;",
        ])
        .unwrap();
        let ServiceCommand::Create(create) = cli.args.command else {
            panic!("not a create");
        };
        let request = create::request(&create).unwrap();
        let spec = request.spec.unwrap();
        assert_eq!(request.name, "web");
        assert_eq!(spec.image, "nginx");
        assert_eq!(spec.args, ["nginx", "-g", "daemon off;"]);
        assert_eq!(spec.replicas.map(|c| c.value), Some(3));
        assert_eq!(spec.env, ["A=1"]);
        assert_eq!(spec.constraints, ["node.labels.zone==east"]);
        assert_eq!(spec.stop_on_disconnect, "10s");
        assert_eq!(spec.networks, ["front", "name=back,alias=api"]);
    }

    #[test]
    fn update_knobs_and_requests_to_the_update_parse() {
        let cli = ServiceCli::try_parse_from([
            "service",
            "update",
            "--update-parallelism",
            "2",
            "--update-order",
            "start-first",
            "--rollback-failure-action",
            "continue",
            "web",
        ])
        .unwrap();
        let ServiceCommand::Update(update) = cli.args.command else {
            panic!("not an update");
        };
        let knobs = update.update.request().unwrap();
        assert_eq!(knobs.parallelism.map(|c| c.value), Some(2));
        assert_eq!(knobs.order, "start-first");
        assert_eq!(
            update.rollback.request().unwrap().failure_action,
            "continue"
        );
        assert_eq!(update.action(), None);
        let cli = ServiceCli::try_parse_from(["service", "update", "--pause", "web"]).unwrap();
        let ServiceCommand::Update(update) = cli.args.command else {
            panic!("not an update");
        };
        assert_eq!(update.action(), Some(proto::UpdateAction::Pause));
        assert!(update.update.request().is_none());
        assert!(
            ServiceCli::try_parse_from(["service", "update", "--pause", "--resume", "web"])
                .is_err()
        );
    }

    #[test]
    fn task_filters_map_to_the_request() {
        let request = task_filter(
            &["desired-state=shutdown".into(), "node=n1".into()],
            proto::ListTasksRequest::default(),
        )
        .unwrap();
        assert_eq!(
            request.desired_state,
            DesiredStateFilter::DesiredShutdown as i32
        );
        assert_eq!(request.node, "n1");
        let err = task_filter(&["state=x".into()], proto::ListTasksRequest::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid filter \"state=x\": expected desired-state=running|shutdown or node=NODE"
        );
    }
}
