//! Starting an agent in the background, as the CLI does when no agent answers: detached in its
//! own session, output appended to `<run-root>/agent.log`, then waiting (bounded) for its socket.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::client::{AgentClient, ClientError};
use super::daemon::{AgentConfig, DaemonError};

/// Starts `exe agent --foreground` over `config`'s roots, detached; returns its pid.
#[allow(unsafe_code)]
pub fn spawn_background(exe: &Path, config: &AgentConfig) -> Result<u32, DaemonError> {
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| DaemonError::Io { op, path, source }
    };
    std::fs::create_dir_all(&config.run_root).map_err(io("create", &config.run_root))?;
    let log_path = config.log_file();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io("open", &log_path))?;
    let log_err = log.try_clone().map_err(io("open", &log_path))?;
    let mut command = Command::new(exe);
    command
        .arg("agent")
        .arg("--foreground")
        .arg("--data-root")
        .arg(&config.data_root)
        .arg("--run-root")
        .arg(&config.run_root);
    if let Some(docker) = &config.docker_socket {
        command.arg("--docker-socket").arg(docker);
    }
    command.stdin(Stdio::null()).stdout(log).stderr(log_err);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it is the only
    // call made between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn().map_err(io("start", exe))?;
    Ok(child.id())
}

/// Connects to `socket`, retrying until `timeout` while nothing listens yet.
pub async fn wait_ready(socket: &Path, timeout: Duration) -> Result<AgentClient, ClientError> {
    let deadline = Instant::now() + timeout;
    loop {
        match AgentClient::connect(socket).await {
            Ok(client) => return Ok(client),
            Err(err) if err.no_agent() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => return Err(err),
        }
    }
}
