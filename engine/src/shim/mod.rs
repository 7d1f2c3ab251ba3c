//! The per-container monitor (`shim`): detached from the caller, it creates the cgroup, clones
//! the container's init into new namespaces, copies its output into the log, reaps it and
//! records the exit in the state record. The container therefore outlives whoever created it.
//! Every container also gets an attach socket ([`attach`]) in its run directory, through which
//! callers read its output live and, with a terminal or an open stdin, feed its stdin.

pub mod attach;
pub(crate) mod fdpass;
mod logs;
pub(crate) mod protocol;
mod relay;
mod spawn;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, setsid};

use crate::ContainerSpec;
use crate::cgroups::{AnyManager, CgroupManager};
use crate::events::{Action, Event, EventLog};
use crate::state::{ContainerState, StateRecord, StateStore, Transition, now_nanos};

pub use logs::LogEntry;
pub(crate) use logs::{LogWriter, log_path};
pub(crate) use logs::{read_logs, rotated_logs};
use protocol::{Report, SetupMessage, ShimConfig};

/// Runs the shim; the process's stdin carries a [`ShimConfig`] and its stdout receives one
/// [`Report`] line. Returns the exit code.
#[allow(unsafe_code)]
pub fn run() -> i32 {
    let config: ShimConfig = match serde_json::from_reader(std::io::stdin().lock()) {
        Ok(c) => c,
        Err(e) => {
            return report_and_exit(&Report::Error {
                message: format!("shim config: {e}"),
            });
        }
    };
    // SAFETY: the shim was just exec'd and has not started any thread, so the child of fork
    // may run arbitrary code.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => return 0,
        Ok(ForkResult::Child) => {}
        Err(e) => {
            return report_and_exit(&Report::Error {
                message: format!("fork shim: {e}"),
            });
        }
    }
    // Our own session: signals to the caller's process group do not reach us.
    let _ = setsid();
    crate::entry::set_process_name(c"bosun-shim");
    crate::process::cloexec_from(3);
    let cgroup = AnyManager::for_layout(&config.layout, &config.cgroup_path);
    let launched = launch(&config, &cgroup).and_then(|launched| {
        // Bound before the report, so that a caller may attach as soon as `create` returns.
        let bound = attach::bind(&config.run_dir).map_err(|e| {
            format!(
                "listen on {}: {e}",
                attach::socket_path(&config.run_dir).display()
            )
        });
        match bound {
            Ok(listener) => Ok((launched, Some(listener))),
            Err(message) => {
                let _ = kill(launched.pid, Signal::SIGKILL);
                let _ = waitpid(launched.pid, None);
                Err(message)
            }
        }
    });
    match launched {
        Ok((launched, listener)) => {
            report(&Report::Ok {
                pid: launched.pid.as_raw(),
            });
            detach_stdio();
            supervise(&config, &cgroup, launched, listener)
        }
        Err(message) => {
            let _ = cgroup.remove();
            report_and_exit(&Report::Error { message })
        }
    }
}

fn report(r: &Report) {
    let mut out = std::io::stdout().lock();
    let line =
        serde_json::to_string(r).unwrap_or_else(|_| "{\"error\":{\"message\":\"report\"}}".into());
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn report_and_exit(r: &Report) -> i32 {
    report(r);
    1
}

/// Points stdin and stdout at /dev/null so the caller sees EOF and we hold nothing of theirs.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

struct Launched {
    pid: Pid,
    stdout: OwnedFd,
    stderr: OwnedFd,
    /// The terminal's master side, when the container has one: read as stdout.
    tty: Option<OwnedFd>,
    /// The write end of the container's stdin pipe (open stdin without a terminal).
    stdin: Option<OwnedFd>,
}

fn launch(config: &ShimConfig, cgroup: &AnyManager) -> Result<Launched, String> {
    cgroup.create().map_err(|e| e.to_string())?;
    cgroup
        .apply(&config.spec.resources)
        .map_err(|e| e.to_string())?;
    // The shim runs from the sealed copy of the binary; the setup runs from the same copy.
    let net = match (&config.spec.network.namespace, &config.join_netns) {
        (crate::spec::NetworkNamespace::Host, _) => spawn::Namespace::Inherit,
        (crate::spec::NetworkNamespace::Container(_), Some(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("open network namespace {}: {e}", path.display()))?;
            spawn::Namespace::Join(file.into())
        }
        (crate::spec::NetworkNamespace::Container(other), None) => {
            return Err(format!("no network namespace of container {other}"));
        }
        (crate::spec::NetworkNamespace::Own, _) => spawn::Namespace::New,
    };
    let ipc = match (&config.spec.ipc, &config.join_ipcns) {
        (crate::spec::IpcNamespace::Host, _) => spawn::Namespace::Inherit,
        (crate::spec::IpcNamespace::Container(_), Some(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("open IPC namespace {}: {e}", path.display()))?;
            spawn::Namespace::Join(file.into())
        }
        (crate::spec::IpcNamespace::Container(other), None) => {
            return Err(format!("no IPC namespace of container {other}"));
        }
        (crate::spec::IpcNamespace::Own, _) => spawn::Namespace::New,
    };
    // An open stdin without a terminal is a pipe whose write end the shim holds.
    let (stdin_read, stdin_write) = if config.spec.stdin && !config.spec.tty {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("stdin pipe: {e}"))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let child = spawn::clone_setup(std::path::Path::new("/proc/self/exe"), net, ipc, stdin_read)?;
    let fail = |msg: String| {
        let _ = kill(child.pid, Signal::SIGKILL);
        let _ = waitpid(child.pid, None);
        msg
    };
    cgroup.add_pid(child.pid).map_err(|e| fail(e.to_string()))?;
    let message = SetupMessage {
        id: config.id.clone(),
        spec: config.spec.clone(),
        fifo: config.run_dir.join("exec.fifo"),
        layout: config.layout.clone(),
        shm_of: config.shm_of.clone(),
    };
    let mut sync = UnixStream::from(child.sync);
    let mut line = serde_json::to_string(&message).map_err(|e| fail(e.to_string()))?;
    line.push('\n');
    sync.write_all(line.as_bytes())
        .map_err(|e| fail(format!("send setup message: {e}")))?;
    let (reply, mut fds) =
        fdpass::recv_line(&sync).map_err(|e| fail(format!("read setup reply: {e}")))?;
    match serde_json::from_str::<Report>(&reply) {
        Ok(Report::Ok { .. }) => {}
        Ok(Report::Error { message }) => return Err(fail(message)),
        Err(_) => return Err(fail("container setup exited without reporting".to_string())),
    }
    let record = StateRecord {
        id: config.id.clone(),
        state: ContainerState::Created,
        pid: Some(child.pid.as_raw()),
        shim_pid: Some(std::process::id() as i32),
        created_at: now_nanos(),
        started_at: None,
        finished_at: None,
        health: config
            .spec
            .healthcheck
            .as_ref()
            .filter(|h| h.test.argv().is_some())
            .map(|_| crate::health::Health::default()),
        manually_stopped: false,
        restart: Default::default(),
    };
    StateStore::new(&config.container_dir)
        .save(&record)
        .map_err(|e| fail(e.to_string()))?;
    let tty = if config.spec.tty { fds.pop() } else { None };
    if config.spec.tty && tty.is_none() {
        return Err(fail("container setup sent no terminal".to_string()));
    }
    Ok(Launched {
        pid: child.pid,
        stdout: child.stdout,
        stderr: child.stderr,
        tty,
        stdin: stdin_write,
    })
}

/// Relays the container's stdio until its output ends, then reaps the init and records its
/// exit.
fn supervise(
    config: &ShimConfig,
    cgroup: &AnyManager,
    launched: Launched,
    listener: Option<std::os::unix::net::UnixListener>,
) -> i32 {
    let log = LogWriter::open(
        &config.container_dir,
        config.spec.log_max_size,
        config.spec.log_max_files,
    )
    .ok();
    let stdio = relay::Stdio {
        stdout: launched.stdout,
        stderr: launched.stderr,
        tty: launched.tty,
        stdin: launched.stdin,
        open_stdin: config.spec.stdin,
    };
    relay::Relay::new(stdio, listener, config.run_dir.clone(), log).run();
    let code = loop {
        match waitpid(launched.pid, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break 255,
        }
    };
    let oom_killed = cgroup.stats().map(|s| s.oom_kills > 0).unwrap_or(false);
    // Events first: whoever sees the exit in the record also finds them in the log.
    let events = EventLog::new(&config.data_root);
    // The spec as recorded now: the container may have been renamed since it started.
    let recorded: Option<ContainerSpec> = std::fs::read(config.container_dir.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_slice(&text).ok());
    let spec = recorded.as_ref().unwrap_or(&config.spec);
    let event = |action| Event::of_container(&config.id, action, spec);
    if oom_killed {
        events.emit_or_warn(&event(Action::Oom));
    }
    events.emit_or_warn(&event(Action::Die).with("exitCode", code));
    let _ = StateStore::new(&config.container_dir)
        .transition(Transition::Exit { code, oom_killed }, "record exit");
    let _ = cgroup.remove();
    0
}
