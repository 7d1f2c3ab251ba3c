//! `exec` inside a running container: this helper joins the container's cgroup and every one
//! of its namespaces, then forks the process, which takes the container's identity (user,
//! capabilities, rlimits, no_new_privs, seccomp filter), working directory and environment and execs the
//! command. The helper waits and exits with the command's status.
//!
//! With a terminal, the helper opens it in the container's devpts once inside, sends the
//! master side to the runtime over its stdout (a unix socket), and the process gets the
//! terminal as its stdio and controlling terminal in a session of its own.
//!
//! The helper is non-dumpable while it works inside the container's namespaces, so no process
//! of the container can open its `/proc/<pid>` entries; and it runs from the sealed copy of the
//! binary anyway (see [`crate::sealed`]).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid};

use super::setup::{Pty, attach_terminal, open_pty};
use crate::cgroups::{AnyManager, CgroupManager};
use crate::process;
use crate::runtime::ExecConfig;
use crate::sys::{Context, SetupError};

/// The namespaces joined, in order: the mount namespace last, since it changes what
/// `/proc` shows.
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Runs the helper: its stdin starts with one JSON line of [`ExecConfig`], followed by the
/// process's own input.
#[allow(unsafe_code)]
pub(super) fn run() -> i32 {
    super::set_process_name(c"bosun-exec");
    let config = match read_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("exec: {e}");
            return 126;
        }
    };
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Err(e) = enter(&config) {
        eprintln!("exec in container {}: {e}", config.id);
        return 126;
    }
    let slave = if config.exec.tty {
        match open_terminal(&config) {
            Ok(slave) => Some(slave),
            Err(e) => {
                eprintln!("exec in container {}: {e}", config.id);
                return 126;
            }
        }
    } else {
        None
    };
    // SAFETY: the helper is single-threaded (just exec'd), so the child may run any code.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            if let Some(slave) = slave
                && let Err(e) = attach_terminal(slave)
            {
                eprintln!("exec in container {}: {e}", config.id);
                std::process::exit(126);
            }
            std::process::exit(child(&config))
        }
        Ok(ForkResult::Parent { child }) => {
            drop(slave);
            wait(child)
        }
        Err(e) => {
            eprintln!("exec in container {}: fork: {e}", config.id);
            126
        }
    }
}

/// Reads the first line of stdin byte by byte, so that the rest stays for the process.
fn read_config() -> Result<ExecConfig, String> {
    let stdin = std::io::stdin();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(&stdin, &mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("read exec config: {e}")),
        }
    }
    serde_json::from_slice(&line).map_err(|e| format!("exec config: {e}"))
}

fn enter(config: &ExecConfig) -> Result<(), SetupError> {
    let cgroup = AnyManager::for_layout(&config.layout, &config.cgroup_path);
    let init = Pid::from_raw(config.pid);
    let namespaces: Vec<(OwnedFd, CloneFlags)> = NAMESPACES
        .iter()
        .map(|(name, flag)| {
            let path = format!("/proc/{}/ns/{name}", config.pid);
            open(
                path.as_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ctx(|| format!("open {path}"))
            .map(|fd| (fd, *flag))
        })
        .collect::<Result<_, _>>()?;
    // The pid could have been reused since the record was read: only the container's init
    // is in its cgroup.
    let members = cgroup
        .pids()
        .map_err(|e| SetupError::Invalid(e.to_string()))?;
    if !members.contains(&init) {
        return Err(SetupError::Invalid("the container is not running".into()));
    }
    cgroup
        .add_pid(getpid())
        .map_err(|e| SetupError::Invalid(format!("join cgroup: {e}")))?;
    for (fd, flag) in &namespaces {
        setns(fd, *flag).ctx(|| format!("setns {flag:?}"))?;
    }
    Ok(())
}

/// The process: identity, directory, environment, then exec. Returns only on failure.
fn child(config: &ExecConfig) -> i32 {
    let mut spec = config.spec.clone();
    if let Some(user) = &config.exec.user {
        spec.user = Some(user.clone());
    }
    spec.env.extend(config.exec.env.iter().cloned());
    let mut env = spec.effective_env();
    let fail = |e: SetupError| {
        eprintln!("exec in container {}: {e}", config.id);
        126
    };
    let user = match process::resolve_user(&spec) {
        Ok(u) => u,
        Err(e) => return fail(e),
    };
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let cwd = config.exec.cwd.clone().unwrap_or(spec.cwd.clone());
    if let Err(e) = process::enter_cwd(&cwd) {
        return fail(e);
    }
    let Some(program) = config.exec.args.first() else {
        return fail(SetupError::Invalid("no command".into()));
    };
    if let Err(e) = process::find_program(program, &env) {
        eprintln!("exec in container {}: {e}", config.id);
        return 127;
    }
    if let Err(e) = process::finalize(&spec, &user) {
        return fail(e);
    }
    // The process dies with the helper, so killing the helper ends the exec.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if let Err(e) = process::reset_signals() {
        return fail(SetupError::Invalid(format!("reset signals: {e}")));
    }
    process::cloexec_from(3);
    fail(process::exec(&config.exec.args, &env))
}

/// Opens a terminal in the container's devpts (the helper is in its mount namespace now),
/// sets its initial size, and sends the master side to the runtime; returns the slave side.
fn open_terminal(config: &ExecConfig) -> Result<OwnedFd, SetupError> {
    let Pty { master, slave } = open_pty()?;
    if let Some((rows, cols)) = config.exec.size {
        crate::shim::attach::set_window_size(master.as_fd(), rows, cols)
            .ctx(|| "set the terminal size".to_string())?;
    }
    let out = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .ctx(|| "dup stdout".to_string())?;
    crate::shim::fdpass::send_line(&UnixStream::from(out), "ok", Some(master.as_fd()))
        .ctx(|| "send the terminal".to_string())?;
    Ok(slave)
}

fn wait(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}
