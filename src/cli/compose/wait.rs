//! `up --wait` (every service container running and healthy, or completed) and `bosun wait`
//! (block until the containers stop, print their exit codes).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use agent::proto;
use clap::Args;

use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Drop the project once the first container stops.
    #[arg(long)]
    pub down_project: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Where one container stands for `--wait`: `Ok(true)` ready, `Ok(false)` not yet.
fn ready(c: &proto::ContainerSummary) -> Result<bool, String> {
    use proto::Health;
    match (c.state(), c.health()) {
        (proto::ContainerState::Exited, _) if c.exit_code == 0 => Ok(true),
        (proto::ContainerState::Exited, _) => {
            Err(format!("container {} exited ({})", c.name, c.exit_code))
        }
        (_, Health::Unhealthy) => Err(format!("container {} is unhealthy", c.name)),
        (proto::ContainerState::Running, Health::None | Health::Healthy) => Ok(true),
        _ => Ok(false),
    }
}

/// Waits until the named services' containers (all when empty) are running and healthy, or
/// have completed successfully.
pub fn wait_ready(session: &Session, services: &[String], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let containers = session.containers(services, true, false)?;
        let mut pending = Vec::new();
        for c in &containers {
            match ready(c) {
                Ok(true) => {}
                Ok(false) => pending.push(format!(
                    "{} ({}{})",
                    c.name,
                    c.state().docker_name(),
                    match c.health() {
                        proto::Health::None => String::new(),
                        health => format!(", {}", health.docker_name()),
                    }
                )),
                Err(why) => anyhow::bail!("{why}"),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {}s waiting for {}",
                timeout.as_secs(),
                pending.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `bosun wait`.
pub fn run(project: &ProjectArgs, args: WaitArgs) -> anyhow::Result<ExitCode> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn container(state: &str, health: &str, exit_code: i32) -> proto::ContainerSummary {
        proto::ContainerSummary {
            name: "demo-web-1".into(),
            state: proto::ContainerState::from_docker_name(state).map_or(0, |s| s as i32),
            health: proto::Health::from_docker_name(health) as i32,
            exit_code,
            ..Default::default()
        }
    }

    #[test]
    fn readiness_follows_state_and_health() {
        assert_eq!(ready(&container("running", "", 0)), Ok(true));
        assert_eq!(ready(&container("running", "starting", 0)), Ok(false));
        assert_eq!(ready(&container("running", "healthy", 0)), Ok(true));
        assert_eq!(ready(&container("exited", "", 0)), Ok(true));
        assert_eq!(ready(&container("created", "", 0)), Ok(false));
        assert_eq!(
            ready(&container("exited", "", 2)),
            Err("container demo-web-1 exited (2)".to_string())
        );
        assert_eq!(
            ready(&container("running", "unhealthy", 0)),
            Err("container demo-web-1 is unhealthy".to_string())
        );
    }
}
