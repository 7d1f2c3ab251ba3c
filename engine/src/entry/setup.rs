//! The in-container setup: runs as the container's PID 1 in its new namespaces, prepares the
//! rootfs and the process, reports to the shim, waits for `start`, then execs the entrypoint.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
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
    super::set_process_name(c"bosun-setup");
    let mut line = String::new();
    if BufReader::new(&sync).read_line(&mut line).is_err() {
        return 1;
    }
    let message: SetupMessage = match serde_json::from_str(&line) {
        Ok(m) => m,
        Err(e) => return fail(sync, &format!("setup message: {e}")),
    };
    let (fifo, user, pty) = match prepare(&message) {
        Ok(v) => v,
        Err(e) => return fail(sync, &e.to_string()),
    };
    let ok = serde_json::to_string(&Report::Ok { pid: 0 }).unwrap_or_default();
    let master = pty.as_ref().map(|p| p.master.as_fd());
    if crate::shim::fdpass::send_line(&sync, &ok, master).is_err() {
        return 1;
    }
    drop(sync);
    let slave = pty.map(|p| p.slave);
    if let Err(e) = wait_for_start(&fifo) {
        eprintln!("container start: {e}");
        return 1;
    }
    drop(fifo);
    if let Some(slave) = slave
        && let Err(e) = attach_terminal(slave)
    {
        eprintln!("container setup: {e}");
        return 126;
    }
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
    if spec.init {
        // Still running from the sealed copy, the setup becomes the init.
        return super::init::run(&spec.args, &env);
    }
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

/// A terminal opened in the container's own devpts.
pub(super) struct Pty {
    /// The master side, for the shim or the agent.
    pub(super) master: OwnedFd,
    /// The slave side, the process's stdio.
    pub(super) slave: OwnedFd,
}

/// Opens a terminal in the devpts of the mount namespace the caller is in.
pub(super) fn open_pty() -> Result<Pty, SetupError> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx".to_string())?;
    grantpt(&master).ctx(|| "grantpt".to_string())?;
    unlockpt(&master).ctx(|| "unlockpt".to_string())?;
    let name = ptsname_r(&master).ctx(|| "ptsname".to_string())?;
    let slave = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {name}"))?;
    Ok(Pty {
        master: OwnedFd::from(master),
        slave,
    })
}

/// Makes the terminal the process's stdio and controlling terminal, in a new session.
#[allow(unsafe_code)]
pub(super) fn attach_terminal(slave: OwnedFd) -> Result<(), SetupError> {
    nix::unistd::setsid().ctx(|| "setsid".to_string())?;
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "dup2 terminal".to_string());
        }
    }
    drop(slave);
    // SAFETY: TIOCSCTTY takes an int argument; fd 0 is the terminal just installed.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "set controlling terminal".to_string());
    }
    Ok(())
}

/// Everything that can fail before the container counts as created.
fn prepare(message: &SetupMessage) -> Result<(OwnedFd, User, Option<Pty>), SetupError> {
    let spec = &message.spec;
    // We are in our cgroup now: make it the root of our cgroup namespace.
    unshare(CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare cgroup namespace".to_string())?;
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| message.id.chars().take(12).collect());
    nix::unistd::sethostname(&hostname).ctx(|| format!("set hostname {hostname}"))?;
    // Held open (read and write: the open does not wait for a writer, and the read below never
    // sees an end of file) from before the container counts as created until the release byte
    // is read: `start` tells a released setup by the fifo having no reader.
    let fifo = open(
        &message.fifo,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", message.fifo.display()))?;
    crate::rootfs::prepare(spec, &message.layout, message.shm_of.as_deref())?;
    let user = process::resolve_user(spec)?;
    process::enter_cwd(&spec.cwd)?;
    let mut env = spec.effective_env();
    env.push(format!("HOME={}", user.home));
    let program = spec
        .args
        .first()
        .ok_or_else(|| SetupError::Invalid("no command".into()))?;
    process::find_program(program, &env)?;
    let pty = if spec.tty { Some(open_pty()?) } else { None };
    Ok((fifo, user, pty))
}

/// Blocks until `start` writes the release byte into the fifo.
fn wait_for_start(fifo: &OwnedFd) -> Result<(), SetupError> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(fifo, &mut byte) {
            Ok(1) => return Ok(()),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| "read exec fifo".to_string()),
        }
    }
}
