//! Starting and stopping the manager daemon (`bosun manager`) in the background: its pid file
//! and log live in the cluster directory of its data root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::ManagerError;
use super::state::cluster_dir;

/// The pid file of the manager daemon of `data_root`.
pub fn pid_file(data_root: &Path) -> PathBuf {
    cluster_dir(data_root).join("manager.pid")
}

/// The log file of the manager daemon of `data_root`.
pub fn log_file(data_root: &Path) -> PathBuf {
    cluster_dir(data_root).join("manager.log")
}

/// The pid of the running manager daemon of `data_root`, if any.
pub fn running_pid(data_root: &Path) -> Option<u32> {
    let pid: i32 = std::fs::read_to_string(pid_file(data_root))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    kill(Pid::from_raw(pid), None).ok()?;
    u32::try_from(pid).ok()
}

/// Starts `exe manager --data-root <data_root>` detached (own process group, output to the
/// log file) and records its pid.
pub fn spawn_background(exe: &Path, data_root: &Path) -> Result<u32, ManagerError> {
    use std::os::unix::process::CommandExt as _;
    let log_path = log_file(data_root);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ManagerError::Io { path, source }
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io(&log_path))?;
    let err = log.try_clone().map_err(io(&log_path))?;
    let child = Command::new(exe)
        .arg("manager")
        .arg("--data-root")
        .arg(data_root)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(io(exe))?;
    let pid = child.id();
    let path = pid_file(data_root);
    std::fs::write(&path, format!("{pid}\n")).map_err(io(&path))?;
    Ok(pid)
}

/// Stops the manager daemon of `data_root` (SIGTERM, then SIGKILL after `grace`); true when
/// one was running.
pub fn stop(data_root: &Path, grace: Duration) -> bool {
    let Some(pid) = running_pid(data_root) else {
        return false;
    };
    let pid = Pid::from_raw(pid as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if kill(pid, None).is_err() {
            return true;
        }
        // A zombie of ours (when the caller is the parent) still answers signal 0.
        let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(pid, Signal::SIGKILL);
    true
}

/// Waits until the manager of `data_root` exits by itself (after being removed).
pub fn wait_exit(data_root: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if running_pid(data_root).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
