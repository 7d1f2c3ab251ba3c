//! Helpers shared by the stdin and terminal tests: a container environment's shortcuts for
//! interactive commands, and a pseudo-terminal the test drives for the CLI.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code)]

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::container_env::{Env, text};

/// How long a test waits for something that should happen at once (a bound against hangs).
pub const PATIENCE: Duration = Duration::from_secs(20);

impl Env {
    /// `run --network none --rootfs <busybox> <words>` with the given flags before it.
    pub fn run_args<'a>(
        &'a self,
        rootfs: &'a str,
        flags: &[&'a str],
        words: &[&'a str],
    ) -> Vec<&'a str> {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--network", "none", "--rootfs", rootfs]);
        args.extend_from_slice(words);
        args
    }

    /// Runs the command with `input` on its stdin (then end of file).
    pub fn with_input(&self, args: &[&str], input: &[u8]) -> Output {
        super::piped::with_input(self.command(args), input)
    }

    /// Waits until `logs name` shows `want`.
    pub fn wait_logs(&self, name: &str, want: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // The container may not be there yet.
            let out = self.command(&["logs", name]).output().unwrap();
            let logs = text(&out.stdout);
            if logs.contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "logs of {name}: {logs:?}, want {want:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The exit code and the standard output of a command.
pub fn code_and_out(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), text(&out.stdout))
}

/// Reads `from` until `want` has been seen; returns everything read.
pub fn read_until(from: &mut impl Read, fd: std::os::fd::BorrowedFd<'_>, want: &str) -> String {
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    while !seen.contains(want) {
        assert!(Instant::now() < deadline, "read {seen:?}, want {want:?}");
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap() == 0 {
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    seen
}

/// A pseudo-terminal for the CLI: the test holds the master, the CLI gets the slave.
pub struct Terminal {
    pub master: std::fs::File,
    pub slave: OwnedFd,
}

impl Terminal {
    pub fn open(rows: u16, cols: u16) -> Terminal {
        let pty = nix::pty::openpty(None, None).unwrap();
        engine::shim::attach::set_window_size(pty.master.as_fd(), rows, cols).unwrap();
        Terminal {
            master: std::fs::File::from(pty.master),
            slave: pty.slave,
        }
    }

    pub fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    /// Reads from the master until `want` has been seen; returns everything read.
    pub fn read_until(&mut self, want: &str) -> String {
        let fd = self.master.try_clone().unwrap();
        read_until(&mut self.master, fd.as_fd(), want)
    }
}
