//! End-to-end: stdin and terminals of the compose `exec` and `run` (run as root), as docker
//! compose: stdin forwarded by default, a terminal when the CLI's stdin is one unless `-T`.
//! Each test has its own roots, cgroup parent and project; the project is taken down and the
//! agent stopped even when the test fails.

#![allow(clippy::unwrap_used)]

mod compose_env;
mod piped;
use testkit::teardown;
mod test_images;

use compose_env::{Env, text};

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = r#"
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    network_mode: none
"#;

impl Env {
    /// `bosun -p <project> <args>` with `input` on its stdin (then end of file).
    fn with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut all = vec!["-p", self.project.as_str()];
        all.extend_from_slice(args);
        piped::with_input(self.command(&all), input)
    }
}

fn code_and_out(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), text(&out.stdout))
}

#[test]
fn compose_exec_and_run_forward_stdin() {
    let env = Env::new(PROJECT);
    let out = env.with_input(&["up", "-d"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = env.with_input(&["exec", "web", "cat"], b"x\n");
    assert_eq!(
        code_and_out(&out),
        (Some(0), "x\n".into()),
        "{}",
        text(&out.stderr)
    );
    let script = "test -t 0 && echo tty || echo no tty; read a; exit $a";
    let out = env.with_input(&["exec", "-T", "web", "sh", "-c", script], b"4\n");
    assert_eq!(
        code_and_out(&out),
        (Some(4), "no tty\n".into()),
        "{}",
        text(&out.stderr)
    );

    let big = vec![b'z'; 1 << 20];
    let out = env.with_input(&["run", "--rm", "web", "sh", "-c", "cat | wc -c"], &big);
    assert_eq!(
        code_and_out(&out),
        (Some(0), "1048576\n".into()),
        "{}",
        text(&out.stderr)
    );
    let out = env.with_input(&["run", "--rm", "-T", "web", "sh", "-c", script], b"6\n");
    assert_eq!(
        code_and_out(&out),
        (Some(6), "no tty\n".into()),
        "{}",
        text(&out.stderr)
    );
    // Only the service's own container is left: the one-offs were removed.
    let out = env.with_input(&["ps", "-a", "-q"], b"");
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn compose_exec_gets_a_terminal_when_stdin_is_one() {
    let env = Env::new(PROJECT);
    let out = env.with_input(&["up", "-d"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = || Stdio::from(pty.slave.try_clone().unwrap());
    let mut cli = env
        .command(&[
            "-p",
            &env.project,
            "exec",
            "web",
            "sh",
            "-c",
            "test -t 0 && echo tty; exit 2",
        ])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 1024];
    while !seen.contains("tty\r\n") && Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap() == 0 {
            continue;
        }
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(seen.contains("tty\r\n"), "{seen:?}");
    assert_eq!(cli.wait().unwrap().code(), Some(2));
}
