//! `up --wait` (every service container running and healthy, or completed) and `bosun wait`
//! (block until the containers stop, print their exit codes).

use std::process::ExitCode;
use std::time::Duration;

use agent::proto;
use clap::Args;
use orchestrator::compose::SystemClock;
use orchestrator::compose::ops;

use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun wait`.
#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// Drop the project once the first container stops.
    #[arg(long)]
    pub down_project: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Waits until the named services' containers (all when empty) are running and healthy, or
/// have completed successfully ([`ops::wait_ready`]).
pub(super) fn wait_ready(
    session: &Session,
    services: &[String],
    timeout: Duration,
) -> anyhow::Result<()> {
    let poll = Duration::from_millis(200);
    ops::wait_ready(
        session.backend(),
        &SystemClock,
        session.name(),
        services,
        timeout,
        poll,
    )?;
    Ok(())
}

/// Runs `bosun wait`.
pub(super) fn run(project: &ProjectArgs, args: WaitArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    let containers = session.containers(&args.services, true, false)?;
    let client = session.backend().client().containers.clone();
    let codes = session.agent.block_on(async move {
        let mut waits = tokio::task::JoinSet::new();
        for c in containers {
            let mut client = client.clone();
            waits.spawn(async move {
                let request = proto::ContainerRef {
                    container: c.id.clone(),
                };
                (
                    c.name,
                    client.wait(request).await.map(|r| r.into_inner().exit_code),
                )
            });
        }
        let mut codes = Vec::new();
        while let Some(Ok(done)) = waits.join_next().await {
            codes.push(done);
            if args.down_project {
                waits.abort_all();
                break;
            }
        }
        codes
    });
    let mut last = 0;
    for (name, code) in codes {
        let code = code.map_err(|e| anyhow::anyhow!("cannot wait for {name}: {}", e.message()))?;
        println!("{name} {code}");
        last = code;
    }
    if args.down_project {
        let plan = orchestrator::compose::plan_down(
            session.project(),
            &session.observe()?,
            &orchestrator::compose::DownOptions::default(),
        )?;
        session.apply(&plan, &super::quiet(), None)?;
    }
    Ok(ExitCode::from(
        u8::try_from(last.clamp(0, 255)).unwrap_or(1),
    ))
}
