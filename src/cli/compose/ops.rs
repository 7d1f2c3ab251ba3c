//! Lifecycle commands over the project's existing containers: `start`, `stop`, `restart`,
//! `kill`, `rm`, `pause`, `unpause`, plus `pull`, `push` and `scale`. What each acts on, and in
//! what order, is decided in [`orchestrator::compose::ops`]; here are the arguments, the
//! session and the printing.

use std::process::ExitCode;
use std::time::Duration;

use agent::compose::translate::signal_number;
use anyhow::Context;
use clap::Args;
use orchestrator::compose::ops::{self, Batch, Outcome};
use orchestrator::compose::{Backend, PlanOptions, plan};

use super::Globals;
use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Services to act on.
#[derive(Debug, Args)]
pub(crate) struct ServicesArgs {
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `stop` and `restart`.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `restart`.
#[derive(Debug, Args)]
pub(crate) struct RestartArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Don't restart dependent services.
    #[arg(long)]
    pub no_deps: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `kill`.
#[derive(Debug, Args)]
pub(crate) struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    /// Remove containers for services not defined in the compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `rm`.
#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short, long)]
    pub volumes: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `pull` and `push`.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Ignore images that fail, only warn.
    #[arg(long, alias = "ignore-push-failures")]
    pub ignore_pull_failures: bool,
    /// Pull without printing progress information.
    #[arg(short, long)]
    pub quiet: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `scale`.
#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    /// Common compose options.
    #[command(flatten)]
    pub globals: Globals,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// SERVICE=REPLICAS pairs.
    #[arg(required = true, value_name = "SERVICE=REPLICAS")]
    pub scale: Vec<String>,
}

/// Runs the batches one after the other, every container of a batch at once, printing
/// Compose's lines for each container (` Container demo-web-1  Stopping`, then `Stopped`);
/// stops after a batch that failed on some container. On a dry run
/// (`bosun --dry-run stop`) prints what would be done to each container instead.
fn run(session: &Session, batches: &[Batch]) -> anyhow::Result<()> {
    for batch in batches {
        let word = batch.op.done_word();
        if session.dry_run(None) {
            for name in &batch.containers {
                eprintln!("DRY-RUN MODE -  Container {name}  {word}");
            }
            continue;
        }
        if let Some(working) = batch.op.working_word() {
            for name in &batch.containers {
                eprintln!(" Container {name}  {working}");
            }
        }
        report(ops::run_batch(session.backend(), batch), word)?;
    }
    Ok(())
}

/// Opens the project (from its containers' labels when there is no compose file) and checks
/// the named services.
fn open(project: &ProjectArgs, services: &[String]) -> anyhow::Result<Session> {
    let session = Session::open_existing(project)?;
    session.check_services(services)?;
    Ok(session)
}

/// Runs `bosun start`: the stopped containers of the named services and of everything they
/// depend on start, dependencies first (an exited container runs again).
pub(super) fn start(project: &ProjectArgs, args: ServicesArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let batches = ops::start(session.project(), &session.observe()?, &args.services)?;
    run(&session, &batches)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun stop`: every container at once, each with its grace period.
pub(super) fn stop(project: &ProjectArgs, args: StopArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let timeout = args.timeout.map(Duration::from_secs);
    let batch = ops::stop(
        session.project(),
        &session.observe()?,
        &args.services,
        timeout,
    );
    run(&session, &[batch])?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun restart`: the named services' containers and those of the services that
/// declared `restart: true` on them, service by service in dependency order.
pub(super) fn restart(project: &ProjectArgs, args: RestartArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let batches = ops::restart(
        session.project(),
        &session.observe()?,
        &args.services,
        args.no_deps,
        args.timeout.map(Duration::from_secs),
    )?;
    run(&session, &batches)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun kill`.
pub(super) fn kill(project: &ProjectArgs, args: KillArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let signal =
        signal_number(&args.signal).with_context(|| format!("invalid signal {:?}", args.signal))?;
    let batch = ops::kill(
        session.project(),
        &session.observe()?,
        &args.services,
        signal,
    );
    run(&session, &[batch])?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun rm`: stopped containers (running ones too with `--stop`).
pub(super) fn rm(project: &ProjectArgs, args: RmArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    if args.stop {
        let batch = ops::stop(session.project(), &session.observe()?, &args.services, None);
        run(&session, &[batch])?;
    }
    let batch = ops::remove(
        session.project(),
        &session.observe()?,
        &args.services,
        args.volumes,
    );
    if batch.is_empty() {
        eprintln!("No stopped containers");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.force && !session.dry_run(None) {
        let question = format!(
            "Going to remove {}\nAre you sure?",
            batch.containers.join(", ")
        );
        if !crate::cli::image::confirm(&question)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    run(&session, &[batch])?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun pause` (`pause`) or `bosun unpause`.
pub(super) fn pause(
    project: &ProjectArgs,
    args: ServicesArgs,
    pause: bool,
) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let observed = session.observe()?;
    let batch = if pause {
        ops::pause(session.project(), &observed, &args.services)
    } else {
        ops::unpause(session.project(), &observed, &args.services)
    };
    run(&session, &[batch])?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun pull` (`pull`) or `bosun push`: the services' images, one after the other.
pub(super) fn pull(project: &ProjectArgs, args: PullArgs, pull: bool) -> anyhow::Result<ExitCode> {
    let session = Session::open_enabling(project, &args.services)?;
    session.check_services(&args.services)?;
    let verb = if pull { "Pulled" } else { "Pushed" };
    for image in ops::images_to_transfer(session.project(), &args.services) {
        if session.dry_run(None) {
            eprintln!("DRY-RUN MODE -  {image}  {verb}");
            continue;
        }
        let backend = session.backend();
        let result = if pull {
            backend.pull_image(&image)
        } else {
            backend.push_image(&image)
        };
        match result {
            Ok(_) if args.quiet => {}
            Ok(result) => eprintln!(" ✔ {image}  {verb} {result}"),
            Err(err) if args.ignore_pull_failures => eprintln!("warning: {image}: {err}"),
            Err(err) => anyhow::bail!("{image}: {err}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun scale SERVICE=N…`.
pub(super) fn scale(project: &ProjectArgs, args: ScaleArgs) -> anyhow::Result<ExitCode> {
    let scale = super::up::parse_scale(&args.scale)?;
    let services: Vec<String> = scale.keys().cloned().collect();
    let session = Session::open_enabling(project, &services)?;
    session.check_services(&services)?;
    session.check_env_files(&services)?;
    let options = PlanOptions {
        services,
        no_deps: args.no_deps,
        scale,
        ..PlanOptions::default()
    };
    let _lock = session.lock()?;
    let desired = session.desired()?;
    let plan = plan(&desired, &session.observe()?, &options)?;
    session.apply(&plan, &args.globals, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per container (`✔ Container web-1  Stopped` or the agent's error) and fails
/// naming every container the call failed on.
fn report(outcomes: Vec<Outcome>, word: &str) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for Outcome { container, result } in outcomes {
        match result {
            Ok(()) => eprintln!(" Container {container}  {word}"),
            Err(err) => {
                eprintln!(" Container {container}  Error {err}");
                failed.push(container);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("failed on {}", failed.join(", "))
    }
}
