//! Waiting for a process that is not our child to exit, without polling: a pidfd becomes
//! readable when its process exits (a zombie counts as exited).

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// A handle on one process (Linux 5.3 and later).
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// Opens a handle on process `pid`; fails with `ESRCH` when no such process exists.
    #[allow(unsafe_code)]
    pub(crate) fn open(pid: i32) -> std::io::Result<Self> {
        // SAFETY: pidfd_open takes a pid and a flags word and returns a new descriptor or -1;
        // it touches no memory of ours.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let raw = i32::try_from(raw).map_err(|_| std::io::Error::other("pidfd out of range"))?;
        // SAFETY: the kernel just returned this descriptor (close-on-exec) to us; nothing else
        // owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Self { fd })
    }

    /// Waits at most `timeout` for the process to exit; `true` once it has.
    pub(crate) fn wait_exit(&self, timeout: Duration) -> bool {
        let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(n) if n > 0 => true,
            Ok(_) => false,
            // EINTR and the like: report "not yet", the caller's loop asks again.
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_when_the_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let pidfd = PidFd::open(child.id() as i32).unwrap();
        assert!(!pidfd.wait_exit(Duration::ZERO), "exited at once");
        // Not reaped yet (a zombie): still counts as exited.
        assert!(pidfd.wait_exit(Duration::from_secs(30)), "never exited");
        child.wait().unwrap();
    }

    #[test]
    fn a_missing_process_is_an_error() {
        let err = PidFd::open(i32::MAX).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
