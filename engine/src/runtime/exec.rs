//! Running an extra process in a running container (`exec`): the runtime starts the exec
//! helper (the sealed binary re-exec'd) with pipes for the process's stdio, hands it the
//! container's settings on the first line of its stdin, and returns the handle. With a
//! terminal, the helper opens it in the container's devpts and hands its master side back
//! over its stdout (a unix socket then), so that the caller reads and writes the terminal.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Runtime, RuntimeError, conflict};
use crate::cgroups::Layout;
use crate::events::Action;
use crate::spec::ContainerSpec;
use crate::state::ContainerState;

/// What to run in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecSpec {
    /// The command line (`args[0]` looked up in the container's `PATH`).
    pub args: Vec<String>,
    /// Extra environment entries over the container's.
    pub env: Vec<String>,
    /// `user[:group]`; the container's user when `None`.
    pub user: Option<String>,
    /// Working directory; the container's when `None`.
    pub cwd: Option<PathBuf>,
    /// Keep the process's stdin open for the caller (otherwise it reads end of file).
    pub stdin: bool,
    /// Give the process a terminal (its stdin, stdout and stderr); the caller gets the
    /// master side as [`ExecProcess::tty`].
    pub tty: bool,
    /// The terminal's initial size (rows, columns).
    pub size: Option<(u16, u16)>,
}

impl ExecSpec {
    /// Runs `args` with the container's defaults.
    pub fn new(args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// What the exec helper receives (first line of its stdin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecConfig {
    /// The container id (for messages).
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// The host's cgroup layout.
    pub layout: Layout,
    /// The container's cgroup, relative to the hierarchy roots.
    pub cgroup_path: String,
    /// The container's spec (identity, capabilities, rlimits, environment).
    pub spec: ContainerSpec,
    /// The process to run.
    pub exec: ExecSpec,
}

/// A process running in a container through exec.
#[derive(Debug)]
pub struct ExecProcess {
    child: Child,
    /// The process's stdin, when [`ExecSpec::stdin`] was set.
    pub stdin: Option<ChildStdin>,
    /// The process's stdout.
    pub stdout: Option<ChildStdout>,
    /// The process's stderr (with a terminal: only the helper's own errors).
    pub stderr: Option<ChildStderr>,
    /// The master side of the process's terminal, when [`ExecSpec::tty`] was set and the
    /// helper got as far as opening it: the process's input and output.
    pub tty: Option<OwnedFd>,
}

impl ExecProcess {
    /// Waits for the process; returns its exit code (128 + signal when killed; 126 when it
    /// could not be started, 127 when the command was not found).
    pub fn wait(&mut self) -> std::io::Result<i32> {
        self.stdin.take();
        Ok(exit_code(self.child.wait()?))
    }

    /// The exit code if the process has finished.
    pub(crate) fn try_wait(&mut self) -> std::io::Result<Option<i32>> {
        Ok(self.child.try_wait()?.map(exit_code))
    }

    /// Kills the process (its helper, which takes the process with it).
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()
    }

    /// A handle that kills the process from another thread, even while [`ExecProcess::wait`]
    /// blocks; it can never signal another process that reused the pid.
    pub fn killer(&self) -> std::io::Result<ExecKiller> {
        ExecKiller::open(self.child.id())
    }
}

/// Kills an exec's process through a pidfd of its helper (see [`ExecProcess::killer`]).
#[derive(Debug)]
pub struct ExecKiller(OwnedFd);

impl ExecKiller {
    #[allow(unsafe_code)]
    fn open(pid: u32) -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1. The
        // helper is our unreaped child, so the pid cannot have been reused yet.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the descriptor was just created for us and nothing else owns it.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Sends SIGKILL to the helper (a process already gone is not an error).
    #[allow(unsafe_code)]
    pub fn kill(&self) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, no siginfo, no flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        match rc {
            0 => Ok(()),
            _ => match std::io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                e => Err(e),
            },
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(255)
}

/// The collected result of [`Runtime::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code; -1 when the timeout struck.
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// The process was killed because it outlived the timeout.
    pub timed_out: bool,
}

impl Runtime {
    /// Connects to the attach socket of the container `id`: its live output and, with a
    /// terminal or an open stdin, its stdin and its terminal's size, as
    /// [`crate::shim::attach`] frames. Every created or running container has one (but one
    /// whose shim predates it: then the error names the missing socket).
    pub fn attach(&self, id: &str) -> crate::Result<UnixStream> {
        let record = self.state(id)?;
        if !record.state.is_alive() {
            return Err(conflict(id, record.state, "attach"));
        }
        crate::shim::attach::connect(&self.run_dir(id)).map_err(|e| {
            let state = self.state(id).map(|r| r.state).unwrap_or(record.state);
            if state.is_alive() {
                RuntimeError::Create {
                    id: id.to_string(),
                    message: format!("attach: {e}"),
                }
                .into()
            } else {
                conflict(id, state, "attach")
            }
        })
    }

    /// Whether the container `id` has an attach socket (its shim serves one; a shim of a
    /// release from before every container had one does not).
    pub fn has_attach_socket(&self, id: &str) -> bool {
        crate::shim::attach::socket_path(&self.run_dir(id)).exists()
    }

    /// Starts `exec` in the running container `id`; the caller reads and writes its pipes.
    pub fn exec_spawn(&self, id: &str, exec: &ExecSpec) -> crate::Result<ExecProcess> {
        if exec.args.is_empty() {
            return Err(crate::spec::SpecError::EmptyArgs.into());
        }
        let record = self.state(id)?;
        let pid = match (record.state, record.pid) {
            (ContainerState::Running, Some(pid)) => pid,
            (state, _) => return Err(conflict(id, state, "exec")),
        };
        let config = ExecConfig {
            id: id.to_string(),
            pid,
            layout: self.layout.clone(),
            cgroup_path: self.cgroup_path(id),
            spec: self.spec(id)?,
            exec: exec.clone(),
        };
        let exec_err = |message: String| -> crate::Error {
            RuntimeError::Exec {
                id: id.to_string(),
                message,
            }
            .into()
        };
        let mut line = serde_json::to_vec(&config).map_err(|e| exec_err(e.to_string()))?;
        line.push(b'\n');
        // With a terminal, the helper's stdout is a socket that brings back the master side.
        let (stdout, tty_socket) = if exec.tty {
            let (ours, theirs) =
                UnixStream::pair().map_err(|e| exec_err(format!("socketpair: {e}")))?;
            (Stdio::from(OwnedFd::from(theirs)), Some(ours))
        } else {
            (Stdio::piped(), None)
        };
        let mut child = Command::new(self.sealed.path())
            .arg(crate::entry::EXEC_COMMAND)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| exec_err(format!("spawn exec helper: {e}")))?;
        let mut stdin = child.stdin.take();
        if let Some(pipe) = stdin.as_mut() {
            pipe.write_all(&line)
                .map_err(|e| exec_err(format!("send exec config: {e}")))?;
        }
        if !exec.stdin || exec.tty {
            stdin = None;
        }
        // The helper sends the master once the terminal is open, or exits (its reason on
        // stderr, its code from wait): either way the socket answers.
        let tty = match &tty_socket {
            Some(sock) => crate::shim::fdpass::recv_line(sock)
                .map_err(|e| exec_err(format!("receive the terminal: {e}")))?
                .1
                .pop(),
            None => None,
        };
        self.events
            .emit_or_warn(&self.event(id, Action::ExecStart).with("execID", child.id()));
        Ok(ExecProcess {
            stdin,
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            tty,
            child,
        })
    }

    /// Runs `exec` in the container and collects its output; a process still running after
    /// `timeout` is killed.
    pub fn exec(
        &self,
        id: &str,
        exec: &ExecSpec,
        timeout: Option<Duration>,
    ) -> crate::Result<ExecOutput> {
        let mut process = self.exec_spawn(id, exec)?;
        let collect = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = collect(
            process
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let err = collect(
            process
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let io = |e: std::io::Error| -> crate::Error {
            RuntimeError::Exec {
                id: id.to_string(),
                message: format!("wait: {e}"),
            }
            .into()
        };
        process.stdin.take();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut timed_out = false;
        let code = loop {
            if let Some(code) = process.try_wait().map_err(io)? {
                break code;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = process.kill();
                process.wait().map_err(io)?;
                timed_out = true;
                break -1;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // After a timeout, a leftover grandchild may still hold the pipes: do not wait for it.
        let grace = Instant::now() + Duration::from_millis(if timed_out { 200 } else { 5_000 });
        while !(out.is_finished() && err.is_finished()) && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(2));
        }
        let take = |h: std::thread::JoinHandle<Vec<u8>>| {
            if h.is_finished() {
                h.join().unwrap_or_default()
            } else {
                Vec::new()
            }
        };
        Ok(ExecOutput {
            code,
            stdout: take(out),
            stderr: take(err),
            timed_out,
        })
    }
}
