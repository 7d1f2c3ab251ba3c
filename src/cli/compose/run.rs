//! `bosun run`: a one-off container of a service (`<project>-<service>-run-<id>`), its
//! dependencies brought up first unless `--no-deps`; attached, it forwards stdin (`-i` is the
//! default, as docker compose), gives the command a terminal when the CLI's stdin is one
//! (unless `-T`), streams the output and returns the command's exit code.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use agent::compose::translate;
use agent::proto;
use anyhow::Context;
use clap::Args;
use compose_spec::model::{Service, VolumeType, parse_port, parse_volume};
use orchestrator::compose::graph::ServiceGraph;
use orchestrator::compose::ops::run_dependencies;
use orchestrator::compose::resources::{Resources, image_of};
use orchestrator::compose::spec::container_spec;
use orchestrator::compose::{DivergedVolumes, Plan, PlanOptions, labels, plan};

use agent::attach_client::{AttachClient, size};

use super::Globals;
use super::session::Session;
use crate::cli::container::attach_io::{
    self, Ended, Options, check_tty, stdin_is_terminal, terminal_size,
};
use crate::cli::container::detach_keys::DetachKeys;
use crate::cli::container::run::read_env_file;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
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
    /// Disable pseudo-TTY allocation (by default, a TTY is allocated when stdin is one);
    /// `--no-TTY=false` asks for one.
    #[arg(short = 'T', long = "no-TTY", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, conflicts_with = "tty")]
    pub no_tty: Option<bool>,
    /// Allocate a pseudo-TTY (the default when stdin is one).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables from a file (KEY=VALUE lines), before the `-e` ones.
    #[arg(long, value_name = "FILE")]
    pub env_from_file: Vec<std::path::PathBuf>,
    /// Keep STDIN open (the default; accepted for compatibility).
    #[arg(short, long)]
    pub interactive: bool,
    /// The service.
    pub service: String,
    /// The command and its arguments (the service's when none).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The service definition with the command line's overrides.
fn overridden(service: &Service, args: &RunArgs, session: &Session) -> anyhow::Result<Service> {
    let mut service = service.clone();
    if !args.command.is_empty() {
        service.command = Some(args.command.clone());
    }
    if let Some(entrypoint) = &args.entrypoint {
        service.entrypoint = Some(vec![entrypoint.clone()]);
    }
    let from_files = args
        .env_from_file
        .iter()
        .map(|file| read_env_file(file))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for pair in from_files.iter().flatten().chain(&args.env) {
        match pair.split_once('=') {
            Some((k, v)) => service.environment.insert(k.into(), Some(v.into())),
            None => service
                .environment
                .insert(pair.clone(), session.variable(pair)),
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

/// An attached one-off: created, attached (so that no output is missed), started; the CLI's
/// stdin goes to the container until its end; returns the command's exit code.
fn attached(
    session: &Session,
    request: proto::CreateRequest,
    rm: bool,
) -> anyhow::Result<ExitCode> {
    let config = request.config.clone().unwrap_or_default();
    let name = request.name.clone();
    let mut client = session.backend().client().containers.clone();
    let mut sessions = AttachClient::new(client.clone());
    let code = session.agent.block_on(async {
        let id = client.create(request).await?.into_inner().id;
        let attach = proto::AttachRequest {
            container: id.clone(),
            close_stdin_on_detach: true,
            size: terminal_size()
                .filter(|_| config.tty)
                .map(|(rows, cols)| size(rows, cols)),
        };
        let ran = async {
            let (input, output) = sessions.attach(attach).await?;
            client
                .start(proto::ContainerRef {
                    container: id.clone(),
                })
                .await?;
            let options = Options {
                tty: config.tty,
                detach_keys: DetachKeys::default(),
                stdin: true,
                close_on_eof: true,
            };
            // With a terminal, Ctrl-C reaches the container as a keystroke; without, it stops
            // the container.
            let detached = tokio::select! {
                ended = attach_io::drive(input, output, options) => ended? == Ended::Detached,
                _ = tokio::signal::ctrl_c(), if !config.tty => {
                    let request = proto::StopRequest { container: id.clone(), timeout: None };
                    let _ = client.stop(request).await;
                    false
                }
            };
            if detached {
                return Ok(None);
            }
            let reference = proto::ContainerRef {
                container: id.clone(),
            };
            anyhow::Ok(Some(client.wait(reference).await?.into_inner().exit_code))
        }
        .await;
        if rm && !matches!(ran, Ok(None)) {
            let request = proto::RemoveRequest {
                container: id.clone(),
                force: true,
                volumes: true,
            };
            let _ = client.remove(request).await;
        }
        ran
    });
    let code = code.with_context(|| format!("cannot run {name}"))?;
    Ok(ExitCode::from(
        u8::try_from(code.unwrap_or(0).clamp(0, 255)).unwrap_or(1),
    ))
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
pub(super) fn run(project: &ProjectArgs, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_enabling(project, std::slice::from_ref(&args.service))?;
    session.check_env_files(std::slice::from_ref(&args.service))?;
    super::build::show_builds(&mut session, &args.globals, false);
    let name = args.service.clone();
    let Some(definition) = session.project().services.get(&name) else {
        anyhow::bail!("no such service: {name}");
    };
    session.warn_unsupported(std::slice::from_ref(&name));
    session.check_limits(std::slice::from_ref(&name))?;
    let desired = session.desired()?;
    // The dependencies and the resources are set up under the project's lock; the one-off
    // container has a name of its own and runs (attached, maybe for long) without it.
    let lock = session.lock()?;
    if !args.no_deps {
        let graph = ServiceGraph::new(session.project())?;
        let deps = run_dependencies(&graph, &name);
        if !deps.is_empty() {
            let options = PlanOptions {
                services: deps,
                ..PlanOptions::default()
            };
            let plan = plan(&desired, &session.observe()?, &options)?;
            if session.apply(&plan, &args.globals, None)?.is_none() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    if !session.dry_run(Some(&args.globals)) {
        super::build::build_missing(&session, &name, &args.globals)?;
    }
    let service = overridden(definition, &args, &session)?;
    let observed = session.observe()?;
    // A one-off container makes what is missing but never replaces a network or volume that
    // others use (`up` does, once asked).
    let keep = PlanOptions {
        no_recreate: true,
        diverged_volumes: DivergedVolumes::Keep,
        ..PlanOptions::default()
    };
    let mut plan = Plan::new();
    let mut resources = Resources::find(&desired, [&service], &observed, &keep, &mut plan)?;
    resources.emit(&desired, &mut plan);
    if !plan.is_empty() && session.apply(&plan, &args.globals, None)?.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    drop(lock);
    if session.dry_run(Some(&args.globals)) {
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
    let mut config = translate::container_config(&spec)?;
    // Stdin stays open even detached (`-i` is the default, as Compose's): `run -d svc cat`
    // keeps running.
    config.stdin_open = true;
    if !args.detach {
        config.tty = match (args.tty, args.no_tty) {
            (true, _) | (false, Some(false)) => true,
            (false, Some(true)) => false,
            (false, None) => stdin_is_terminal(),
        };
        check_tty(true, config.tty)?;
    }
    let request = proto::CreateRequest {
        name: spec.name.clone(),
        config: Some(config),
        auto_remove: args.rm && args.detach,
    };
    let mut client = session.backend().client().containers.clone();
    if !args.detach {
        return attached(&session, request, args.rm);
    }
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
    println!("{}", created.name);
    Ok(ExitCode::SUCCESS)
}
