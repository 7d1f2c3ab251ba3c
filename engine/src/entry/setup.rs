//! The in-container setup: runs as the container's PID 1 in its new namespaces, prepares the
//! rootfs and the process, reports to the shim, waits for `start`, then execs the entrypoint.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, unshare};
use nix::sys::stat::Mode;

use crate::process::{self, User};
use crate::shim::protocol::{Report, SetupMessage};
use crate::sys::{Context, SetupError};

/// The fd on which the shim's sync socket arrives.
const SYNC_FD: i32 = 3;

/// Runs the setup; returns an exit code only on failure.
#[allow(unsafe_code)]
pub(super) fn run() -> i32 {
    // SAFETY: the shim placed the sync socket on fd 3 for this process and nothing else owns it.
    let sync = UnixStream::from(unsafe { OwnedFd::from_raw_fd(SYNC_FD) });
    let mut line = String::new();
    if BufReader::new(&sync).read_line(&mut line).is_err() {
        return 1;
    }
    let message: SetupMessage = match serde_json::from_str(&line) {
        Ok(m) => m,
        Err(e) => return fail(sync, &format!("setup message: {e}")),
    };
    let (fifo, user) = match prepare(&message) {
        Ok(v) => v,
        Err(e) => return fail(sync, &e.to_string()),
    };
    let mut sync = sync;
    let ok = serde_json::to_string(&Report::Ok { pid: 0 }).unwrap_or_default();
    if writeln!(sync, "{ok}").is_err() {
        return 1;
    }
    drop(sync);
    if let Err(e) = wait_for_start(&fifo) {
        eprintln!("container start: {e}");
        return 1;
    }
    drop(fifo);
    let spec = &message.spec;
    if let Err(e) = process::finalize(spec, &user) {
        eprintln!("container setup: {e}");
        return 126;
    }
    let mut env = spec.effective_env();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    if let Err(e) = process::reset_signals() {
        eprintln!("container setup: reset signals: {e}");
        return 126;
    }
    process::cloexec_from(3);
    let err = process::exec(&spec.args, &env);
    eprintln!("container setup: {err}");
    127
}

fn fail(mut sync: UnixStream, message: &str) -> i32 {
    let report = serde_json::to_string(&Report::Error {
        message: message.to_string(),
    })
    .unwrap_or_default();
    let _ = writeln!(sync, "{report}");
    1
}

/// Everything that can fail before the container counts as created.
fn prepare(message: &SetupMessage) -> Result<(OwnedFd, User), SetupError> {
    let spec = &message.spec;
    // We are in our cgroup now: make it the root of our cgroup namespace.
    unshare(CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare cgroup namespace".to_string())?;
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| message.id.chars().take(12).collect());
    nix::unistd::sethostname(&hostname).ctx(|| format!("set hostname {hostname}"))?;
    let fifo = open(
        &message.fifo,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", message.fifo.display()))?;
    crate::rootfs::prepare(spec, &message.layout)?;
    let user = process::resolve_user(spec)?;
    process::enter_cwd(&spec.cwd)?;
    let mut env = spec.effective_env();
    env.push(format!("HOME={}", user.home));
    let program = spec
        .args
        .first()
        .ok_or_else(|| SetupError::Invalid("no command".into()))?;
    process::find_program(program, &env)?;
    Ok((fifo, user))
}

/// Blocks until `start` opens the fifo for reading, then tells it we are going.
fn wait_for_start(fifo: &OwnedFd) -> Result<(), SetupError> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let file = open(
        path.as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open exec fifo".to_string())?;
    nix::unistd::write(&file, b"0").ctx(|| "write exec fifo".to_string())?;
    Ok(())
}
