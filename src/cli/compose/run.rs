//! `bosun run`: a one-off container of a service (`<project>-<service>-run-<id>`), its
//! dependencies brought up first unless `--no-deps`; attached, it streams the output and
//! returns the command's exit code.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use cluster::agent::proto;
use cluster::compose::translate;
use compose_spec::model::port::parse_port;
use compose_spec::model::volume_mount::parse_volume;
use compose_spec::model::{Service, VolumeType};
use orchestrator::compose::graph::ServiceGraph;
use orchestrator::compose::resources::{Resources, image_of};
use orchestrator::compose::spec::container_spec;
use orchestrator::compose::{Plan, PlanOptions, labels, plan};

use super::Globals;
use super::logs::{Follower, Style};
use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Common compose options.
    #[command(flatten)]
    pub globals: Globals,
    /// Run the container in the background and print its name.
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Set environment variables.
    #[arg(short, long, value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Add or override a label.
    #[arg(short, long, value_name = "KEY=VAL")]
    pub label: Vec<String>,
    /// Publish a container's port(s) to the host.
    #[arg(short, long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// Run with the service's ports published.
    #[arg(short = 'P', long)]
    pub service_ports: bool,
    /// Override the entrypoint of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as this user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Bind mount a volume.
    #[arg(short, long, value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Disable pseudo-TTY allocation (always the case).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open (not supported: the command gets no input).
    #[arg(short, long)]
    pub interactive: bool,
    /// The service.
    pub service: String,
    /// The command and its arguments (the service's when none).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The service definition with the command line's overrides.
fn overridden(service: &Service, args: &RunArgs) -> anyhow::Result<Service> {
    let mut service = service.clone();
    if !args.command.is_empty() {
        service.command = Some(args.command.clone());
    }
    if let Some(entrypoint) = &args.entrypoint {
        service.entrypoint = Some(vec![entrypoint.clone()]);
    }
    for pair in &args.env {
        match pair.split_once('=') {
            Some((k, v)) => service.environment.insert(k.into(), Some(v.into())),
            None => service
                .environment
                .insert(pair.clone(), std::env::var(pair).ok()),
        };
    }
    for pair in &args.label {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        service.labels.insert(k.into(), v.into());
    }
    if let Some(user) = &args.user {
        service.user = Some(user.clone());
    }
    if let Some(dir) = &args.workdir {
        service.working_dir = Some(dir.clone());
    }
    if !args.service_ports {
        service.ports.clear();
    }
    for text in &args.publish {
        service
            .ports
            .extend(parse_port(text).map_err(anyhow::Error::msg)?);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    for text in &args.volume {
        let mut volume = parse_volume(text).map_err(anyhow::Error::msg)?;
        if volume.kind == VolumeType::Bind
            && let Some(source) = &volume.source
            && !source.starts_with('/')
        {
            volume.source = Some(cwd.join(source).display().to_string());
        }
        service.volumes.push(volume);
    }
    // A one-off never restarts by itself.
    service.restart = None;
    service.container_name = None;
    Ok(service)
}

fn suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:012x}",
        (nanos ^ u128::from(std::process::id()) << 40) & 0xffff_ffff_ffff
    )
}

/// Runs `bosun run`.
pub fn run(project: &ProjectArgs, args: RunArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open(project)?;
    let name = args.service.clone();
    let Some(definition) = session.project().services.get(&name) else {
        anyhow::bail!("no such service: {name}");
    };
    session.warn_unsupported(std::slice::from_ref(&name));
    let desired = session.desired()?;
    if !args.no_deps {
        let graph = ServiceGraph::new(session.project())?;
        let mut deps = graph.with_dependencies(std::slice::from_ref(&name));
        deps.remove(&name);
        if !deps.is_empty() {
            let options = PlanOptions {
                services: deps.into_iter().collect(),
                ..PlanOptions::default()
            };
            let plan = plan(&desired, &session.observe()?, &options)?;
            if session.apply(&plan, &args.globals, None)?.is_none() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let service = overridden(definition, &args)?;
    let observed = session.observe()?;
    let mut resources = Resources::find(&desired, [&service], &observed)?;
    let mut plan = Plan::new();
    resources.emit(&desired, &mut plan);
    if !plan.is_empty() && session.apply(&plan, &args.globals, None)?.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    if args.globals.dry_run {
        println!("create and start a one-off container of {name}");
        return Ok(ExitCode::SUCCESS);
    }
    let image = image_of(session.name(), &name, definition);
    let mut spec = container_spec(
        &desired,
        &resources,
        &name,
        &service,
        &image,
        1,
        BTreeMap::new(),
    );
    spec.name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{name}-run-{}", session.name(), suffix()));
    spec.labels
        .insert(labels::ONEOFF.into(), labels::TRUE.into());
    let config = translate::container_config(&spec)?;
    let request = proto::CreateRequest {
        name: spec.name.clone(),
        config: Some(config),
        auto_remove: args.rm && args.detach,
    };
    let mut client = session.backend().client().containers.clone();
    let created = session.agent.block_on(async {
        let created = client.create(request).await?.into_inner();
        client
            .start(proto::ContainerRef {
                container: created.id.clone(),
            })
            .await?;
        Ok::<_, tonic::Status>(created)
    });
    let created =
        created.map_err(|s| anyhow::anyhow!("cannot run {}: {}", spec.name, s.message()))?;
    if args.detach {
        println!("{}", created.name);
        return Ok(ExitCode::SUCCESS);
    }
    let follower = Follower::new(Style::default());
    let summary = proto::ContainerSummary {
        id: created.id.clone(),
        name: created.name.clone(),
        ..Default::default()
    };
    let logs = proto::LogsRequest {
        follow: true,
        tail: -1,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let code = session.agent.block_on(async {
        let interrupted = tokio::signal::ctrl_c();
        tokio::select! {
            _ = follower.stream(client.clone(), &summary, logs, 0) => {}
            _ = interrupted => {
                let request = proto::StopRequest { container: created.id.clone(), timeout: None };
                let _ = client.stop(request).await;
            }
        }
        let reference = proto::ContainerRef {
            container: created.id.clone(),
        };
        let code = client
            .wait(reference)
            .await
            .map(|r| r.into_inner().exit_code);
        if args.rm {
            let request = proto::RemoveRequest {
                container: created.id.clone(),
                force: true,
                volumes: true,
            };
            let _ = client.remove(request).await;
        }
        code
    });
    let code =
        code.map_err(|s| anyhow::anyhow!("cannot wait for {}: {}", created.name, s.message()))?;
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}
