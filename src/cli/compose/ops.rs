//! Lifecycle commands over the project's existing containers: `start`, `stop`, `restart`,
//! `kill`, `rm`, `pause`, `unpause`, plus `pull`, `push` and `scale`.

use std::process::ExitCode;

use agent::compose::translate::signal_number;
use agent::proto;
use anyhow::Context;
use clap::Args;
use orchestrator::compose::graph::ServiceGraph;
use orchestrator::compose::{PlanOptions, lifecycle, plan};
use tokio::task::JoinSet;

use super::Globals;
use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Services to act on.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `stop` and `restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
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
pub struct KillArgs {
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
pub struct RmArgs {
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
pub struct PullArgs {
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
pub struct ScaleArgs {
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

/// The containers API, as each per-container call gets it.
type Client = proto::agent_client::AgentClient<tonic::transport::Channel>;

/// On a dry run (`bosun --dry-run stop`), prints what would be done to each container and
/// returns true; the caller then changes nothing.
fn dry_run(session: &Session, containers: &[proto::ContainerSummary], verb: &str) -> bool {
    if !session.dry_run(None) {
        return false;
    }
    for c in containers {
        eprintln!("DRY-RUN MODE -  Container {}  {verb}", c.name);
    }
    true
}

/// Runs `call` (with a client and the container's id) on every listed container at once;
/// prints one line per container.
fn each<F, Fut>(
    session: &Session,
    containers: Vec<proto::ContainerSummary>,
    verb: &str,
    call: F,
) -> anyhow::Result<()>
where
    F: Fn(Client, String) -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    if dry_run(session, &containers, verb) {
        return Ok(());
    }
    let client = session.backend().client().containers.clone();
    let results = session.agent.block_on(async move {
        let mut calls = JoinSet::new();
        for c in containers {
            let call = call(client.clone(), c.id);
            calls.spawn(async move { (c.name, call.await) });
        }
        let mut results = Vec::new();
        while let Some(Ok(done)) = calls.join_next().await {
            results.push(done);
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        results
    });
    report(results, verb)
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
pub fn start(project: &ProjectArgs, args: ServicesArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let graph = ServiceGraph::new(session.project())?;
    for service in lifecycle::start_order(&graph, &args.services) {
        let stopped: Vec<proto::ContainerSummary> = session
            .containers(std::slice::from_ref(&service), true, false)?
            .into_iter()
            .filter(|c| c.state().is_stopped())
            .collect();
        each(&session, stopped, "Started", |mut client, id| async move {
            let request = proto::ContainerRef { container: id };
            client.start(request).await.map(drop)
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun stop`: every container at once, each with its grace period.
pub fn stop(project: &ProjectArgs, args: StopArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let containers = session.containers(&session.scope(&args.services), false, false)?;
    stop_or_restart(&session, containers, args.timeout, false)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun restart`: the named services' containers and those of the services that
/// declared `restart: true` on them, service by service in dependency order.
pub fn restart(project: &ProjectArgs, args: RestartArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let graph = ServiceGraph::new(session.project())?;
    let order = lifecycle::restart_order(session.project(), &graph, &args.services, args.no_deps);
    for service in order {
        let containers = session.containers(std::slice::from_ref(&service), true, false)?;
        stop_or_restart(&session, containers, args.timeout, true)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn stop_or_restart(
    session: &Session,
    containers: Vec<proto::ContainerSummary>,
    timeout: Option<u64>,
    restart: bool,
) -> anyhow::Result<()> {
    let verb = if restart { "Restarted" } else { "Stopped" };
    each(
        session,
        containers,
        verb,
        move |mut client, id| async move {
            let request = proto::StopRequest {
                container: id,
                timeout,
            };
            if restart {
                client.restart(request).await.map(drop)
            } else {
                client.stop(request).await.map(drop)
            }
        },
    )
}

/// Runs `bosun kill`.
pub fn kill(project: &ProjectArgs, args: KillArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let signal =
        signal_number(&args.signal).with_context(|| format!("invalid signal {:?}", args.signal))?;
    let containers = session.containers(&session.scope(&args.services), false, false)?;
    each(
        &session,
        containers,
        "Killed",
        move |mut client, id| async move {
            let request = proto::KillRequest {
                container: id,
                signal,
            };
            client.kill(request).await.map(drop)
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun rm`: stopped containers (running ones too with `--stop`).
pub fn rm(project: &ProjectArgs, args: RmArgs) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    if args.stop {
        let running = session.containers(&session.scope(&args.services), false, false)?;
        stop_or_restart(&session, running, None, false)?;
    }
    let stopped: Vec<proto::ContainerSummary> = session
        .containers(&session.scope(&args.services), true, false)?
        .into_iter()
        .filter(|c| c.state().is_stopped())
        .collect();
    if stopped.is_empty() {
        eprintln!("No stopped containers");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.force && !session.dry_run(None) {
        let names: Vec<&str> = stopped.iter().map(|c| c.name.as_str()).collect();
        let question = format!("Going to remove {}\nAre you sure?", names.join(", "));
        if !crate::cli::image::confirm(&question)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let volumes = args.volumes;
    each(
        &session,
        stopped,
        "Removed",
        move |mut client, id| async move {
            let request = proto::RemoveRequest {
                container: id,
                force: false,
                volumes,
            };
            client.remove(request).await.map(drop)
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun pause` (`pause`) or `bosun unpause`.
pub fn pause(project: &ProjectArgs, args: ServicesArgs, pause: bool) -> anyhow::Result<ExitCode> {
    let session = open(project, &args.services)?;
    let containers = session.containers(&session.scope(&args.services), false, false)?;
    let verb = if pause { "Paused" } else { "Unpaused" };
    each(
        &session,
        containers,
        verb,
        move |mut client, id| async move {
            let request = proto::ContainerRef { container: id };
            if pause {
                client.pause(request).await.map(drop)
            } else {
                client.unpause(request).await.map(drop)
            }
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun pull` (`pull`) or `bosun push`: the services' images, one after the other.
pub fn pull(project: &ProjectArgs, args: PullArgs, pull: bool) -> anyhow::Result<ExitCode> {
    let session = Session::open_enabling(project, &args.services)?;
    session.check_services(&args.services)?;
    let mut images: Vec<String> = session
        .project()
        .services
        .iter()
        .filter(|(name, _)| args.services.is_empty() || args.services.contains(name))
        .filter_map(|(_, s)| s.image.clone())
        .collect();
    images.sort();
    images.dedup();
    let verb = if pull { "Pulled" } else { "Pushed" };
    for image in images {
        if session.dry_run(None) {
            eprintln!("DRY-RUN MODE -  {image}  {verb}");
            continue;
        }
        let auth = crate::cli::image::credentials(&image)?;
        let mut client = session.backend().client().images.clone();
        let reference = image.clone();
        let result = session.agent.block_on(async move {
            let mut stream = if pull {
                let request = proto::PullRequest {
                    reference,
                    auth,
                    ..Default::default()
                };
                client.pull(request).await?.into_inner()
            } else {
                let request = proto::PushRequest { reference, auth };
                client.push(request).await?.into_inner()
            };
            while let Some(progress) = stream.message().await? {
                if progress.done {
                    return Ok(progress.result);
                }
            }
            Err(tonic::Status::unknown(
                "the transfer ended before it completed",
            ))
        });
        match result {
            Ok(_) if args.quiet => {}
            Ok(result) => eprintln!(" ✔ {image}  {verb} {result}"),
            Err(status) if args.ignore_pull_failures => {
                eprintln!("warning: {image}: {}", status.message());
            }
            Err(status) => anyhow::bail!("{image}: {}", status.message()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun scale SERVICE=N…`.
pub fn scale(project: &ProjectArgs, args: ScaleArgs) -> anyhow::Result<ExitCode> {
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
fn report(results: Vec<(String, Result<(), tonic::Status>)>, verb: &str) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for (name, result) in results {
        match result {
            Ok(()) => eprintln!(" ✔ Container {name}  {verb}"),
            Err(status) => {
                eprintln!(" ✘ Container {name}  {}", status.message());
                failed.push(name);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("failed on {}", failed.join(", "))
    }
}
