//! A closed stdout ends a command quietly, as it ends `ls` in `ls | head -1`.
//!
//! Rust ignores SIGPIPE, so writing to a pipe whose reader has gone fails with `EPIPE`: `print!`
//! panics and `write_all` returns an error. Restoring SIGPIPE's default for the whole process
//! would also kill the CLI when the agent closes a unix socket it is writing to (tokio writes
//! sockets with `write(2)`, without `MSG_NOSIGNAL`), turning "the agent went away" into a silent
//! death. So Bosun does what Go programs do instead: only a broken stdout is fatal, and it kills
//! the process with SIGPIPE, so the shell sees what it sees for `ls` (status 141). The daemons
//! (`bosun agent`, `bosun manager`) opt out: they never die because of a reader.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, Signal, raise, signal};

/// Whether a closed stdout ends this process (false for the daemons).
static QUIET_ON_CLOSED_STDOUT: AtomicBool = AtomicBool::new(true);

/// Keeps the process alive when its stdout closes: for the long-running daemons.
pub(super) fn keep_running_on_closed_stdout() {
    QUIET_ON_CLOSED_STDOUT.store(false, Ordering::Relaxed);
}

/// Whether stdout is a pipe or socket whose reader has gone (poll reports an error on it).
pub(super) fn stdout_closed() -> bool {
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&stdout),
        PollFlags::empty(),
    )];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        _ => false,
    }
}

/// Ends the process as SIGPIPE does when stdout is closed (and the command is not a daemon);
/// returns otherwise.
pub(super) fn exit_if_stdout_closed() {
    if QUIET_ON_CLOSED_STDOUT.load(Ordering::Relaxed) && stdout_closed() {
        die_of_sigpipe();
    }
}

/// Whether `err` is, at its root, a write to a closed pipe.
pub(super) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn die_of_sigpipe() -> ! {
    #[allow(unsafe_code)]
    // SAFETY: SIG_DFL installs no handler, so no code of ours runs in signal context.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let _ = raise(Signal::SIGPIPE);
    // Only reached if the signal could not be delivered: the status a shell would show.
    std::process::exit(141)
}
