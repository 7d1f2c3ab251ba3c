//! Attached `up`: the services' logs with prefixes until every container has exited, one exits
//! (`--abort-on-container-exit`, `--exit-code-from`) or fails (`--abort-on-container-failure`),
//! or Ctrl-C; then the containers of the services `up` was asked for (every service of the
//! loaded files when none was named: never their dependencies, nor another file's services)
//! stop, all at once, each with its grace period, as Compose does. A second Ctrl-C kills them.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use agent::proto;
use orchestrator::compose::labels;
use tokio::task::JoinSet;

use super::logs::{Follower, Style};
use super::session::Session;

/// What attached `up` watches and how it ends.
#[derive(Debug, Clone, Default)]
pub(super) struct AttachOptions {
    /// Services whose logs are shown.
    pub services: Vec<String>,
    /// Services whose containers stop when the display ends.
    pub stop: Vec<String>,
    /// Stop when a container exits.
    pub abort_on_exit: bool,
    /// Stop when a container exits with a non-zero code.
    pub abort_on_failure: bool,
    /// Exit with this service's container's exit code.
    pub exit_code_from: Option<String>,
    /// Show timestamps.
    pub timestamps: bool,
    /// Prefix lines with the container name.
    pub prefix: bool,
    /// Grace period of the final stop, over each container's own.
    pub timeout: Option<Duration>,
}

/// Why the display ended.
enum End {
    /// Ctrl-C.
    Interrupted,
    /// A container exited with this code (with `abort_on_exit` or, non-zero, with
    /// `abort_on_failure`).
    Exited(String, i32),
    /// Every container has exited.
    AllExited,
}

/// Attaches to the services' logs; returns the command's exit code.
pub(super) fn run(session: &Session, options: &AttachOptions) -> anyhow::Result<ExitCode> {
    let follower = Follower::new(Style {
        prefix: options.prefix,
        timestamps: options.timestamps,
        color: std::io::stdout().is_terminal(),
    });
    let request = proto::LogsRequest {
        follow: true,
        tail: -1,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let end = session.agent.block_on(async {
        let (_, end) = tokio::join!(
            follower.follow(session, &options.services, request, Some(stopped)),
            async {
                let end = watch(session, options).await;
                // Let the last lines of exited containers through.
                tokio::time::sleep(Duration::from_millis(600)).await;
                let _ = stop.send(true);
                end
            }
        );
        end
    });
    let code = match &end {
        End::Interrupted => {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            130
        }
        End::Exited(name, code) => {
            eprintln!("{name} exited with code {code}");
            eprintln!("Aborting on container exit...");
            *code
        }
        End::AllExited => 0,
    };
    if !matches!(end, End::AllExited) {
        stop_all(session, &options.stop, options.timeout)?;
    }
    let code = match &options.exit_code_from {
        Some(service) => session
            .containers(std::slice::from_ref(service), true, false)?
            .first()
            .map_or(code, |c| c.exit_code),
        None if options.abort_on_exit || options.abort_on_failure => code,
        None => {
            if matches!(end, End::Interrupted) {
                130
            } else {
                0
            }
        }
    };
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}

async fn watch(session: &Session, options: &AttachOptions) -> End {
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => return End::Interrupted,
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        let Ok(containers) = session.list_containers(&[], true, false).await else {
            continue;
        };
        let aborts = |c: &&proto::ContainerSummary| {
            c.state() == proto::ContainerState::Exited
                && (options.abort_on_exit || (options.abort_on_failure && c.exit_code != 0))
        };
        if let Some(c) = containers.iter().find(aborts) {
            return End::Exited(c.name.clone(), c.exit_code);
        }
        let attached = containers.iter().filter(|c| {
            c.labels
                .get(labels::SERVICE)
                .is_some_and(|s| options.services.contains(s))
        });
        let mut any = false;
        let mut live = false;
        for c in attached {
            any = true;
            live |= c.is_alive();
        }
        if any && !live {
            return End::AllExited;
        }
    }
}

/// Stops every running container of `services` at once; a second Ctrl-C kills them.
fn stop_all(
    session: &Session,
    services: &[String],
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    if services.is_empty() {
        return Ok(());
    }
    let containers = session.containers(services, false, false)?;
    let client = session.backend().client().containers.clone();
    session.agent.block_on(async move {
        let mut stops = JoinSet::new();
        for c in &containers {
            let mut client = client.clone();
            let request = proto::StopRequest {
                container: c.id.clone(),
                timeout: timeout.map(|t| t.as_secs()),
            };
            stops.spawn(async move { client.stop(request).await });
        }
        let all_stopped = async { while stops.join_next().await.is_some() {} };
        tokio::select! {
            () = all_stopped => {}
            _ = tokio::signal::ctrl_c() => {
                eprintln!("Killing...");
                for c in &containers {
                    let mut client = client.clone();
                    let request = proto::KillRequest { container: c.id.clone(), signal: 9 };
                    let _ = client.kill(request).await;
                }
            }
        }
    });
    Ok(())
}
