//! End-to-end: attaching through the real `bosun` binary (run as root), as docker does:
//! `attach` to any running container streams its output from now on (from its log files when
//! its shim has no attach socket) and ends with its exit code; `--detach-keys`; signals proxied to the container (`--sig-proxy`); `create -i` then
//! `start -a -i`; `-it` refused without a terminal; detaching from `exec -it` leaves the
//! process running. Each test has its own roots and agent, stopped with its containers even
//! when it fails.

#![allow(clippy::unwrap_used)]

mod container_env;
mod piped;
mod stdin_env;
use testkit::teardown;

use container_env::{Env, text};
use stdin_env::{PATIENCE, Terminal, code_and_out, read_until};

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Signals `cli` (the `bosun` process) as a user's shell would.
fn signal(cli: &std::process::Child, sig: Signal) {
    kill(Pid::from_raw(cli.id() as i32), sig).unwrap();
}

/// A CLI process whose output the test reads as it comes.
struct Watched {
    cli: std::process::Child,
    stdout: std::process::ChildStdout,
    fd: std::os::fd::OwnedFd,
}

impl Watched {
    /// Starts `bosun <args>` with no stdin, reading its stdout as it comes.
    fn start(env: &Env, args: &[&str]) -> Watched {
        let mut cli = env
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = cli.stdout.take().unwrap();
        let fd = stdout.as_fd().try_clone_to_owned().unwrap();
        Watched { cli, stdout, fd }
    }

    /// What it printed until `want` appeared.
    fn until(&mut self, want: &str) -> String {
        read_until(&mut self.stdout, self.fd.as_fd(), want)
    }

    /// Signals the CLI as a user's shell would.
    fn signal(&self, sig: Signal) {
        signal(&self.cli, sig);
    }

    /// Waits for the CLI to end: its status and the rest of its stderr.
    fn finish(self) -> std::process::Output {
        let Watched { cli, stdout, fd } = self;
        drop((stdout, fd));
        cli.wait_with_output().unwrap()
    }
}

/// Waits until `exec name cat path` succeeds; returns what it printed.
fn wait_file(env: &Env, name: &str, path: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let out = env.bosun(&["exec", name, "cat", path]);
        if out.status.success() {
            return text(&out.stdout);
        }
        assert!(
            Instant::now() < deadline,
            "{path} never appeared in {name}: {}",
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn attach_streams_a_plain_container_from_now_on_and_ends_with_its_code() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    // No -i, no -t. The trap runs between two sleeps, so ticks keep coming until then.
    let script = "trap 'echo after; echo oops >&2; exit 4' USR1; echo before; \
                  i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.1; done";
    env.ok(&env.run_args(&rootfs, &["-d", "--name", "plain"], &["sh", "-c", script]));
    env.wait_logs("plain", "tick2\n");
    let mut cli = Watched::start(&env, &["attach", "--no-stdin", "plain"]);
    // Live output: the ticks written from now on.
    let shown = cli.until("tick");
    // The signal reaches the container through the attached CLI (sig-proxy is on by default).
    cli.signal(Signal::SIGUSR1);
    let rest = cli.until("after\n");
    let out = cli.finish();
    let shown = shown + &rest;
    assert!(
        !shown.contains("before"),
        "attach replayed the past: {shown:?}"
    );
    assert!(shown.ends_with("after\n"), "{shown:?}");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "oops\n");

    let out = env.bosun(&["attach", "plain"]);
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (
            Some(1),
            "error: you cannot attach to a stopped container, start it first\n".into()
        )
    );
}

/// The attach sockets under `dir`.
fn attach_sockets(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            found.extend(attach_sockets(&path));
        } else if entry.file_name() == "attach.sock" {
            found.push(path);
        }
    }
    found
}

#[test]
fn attach_follows_the_logs_of_a_container_without_an_attach_socket() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    let script = "trap 'echo after; exit 4' USR1; echo before; \
                  i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.1; done";
    env.ok(&env.run_args(&rootfs, &["-d", "--name", "old"], &["sh", "-c", script]));
    env.wait_logs("old", "tick2\n");
    // As a container whose shim predates attach sockets.
    let sockets = attach_sockets(&env.run_root());
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    std::fs::remove_file(&sockets[0]).unwrap();
    let mut cli = Watched::start(&env, &["attach", "old"]);
    let shown = cli.until("tick");
    cli.signal(Signal::SIGUSR1);
    let shown = shown + &cli.until("after\n");
    let out = cli.finish();
    let err = text(&out.stderr);
    assert!(
        !shown.contains("before"),
        "attach replayed the past: {shown:?}"
    );
    assert!(shown.ends_with("after\n"), "{shown:?} {err}");
    assert_eq!(out.status.code(), Some(4), "{err}");
}

#[test]
fn detach_keys_are_docker_s_and_leave_the_container_and_its_stdin() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    // A bad value is one error line, before anything runs.
    let out = env.bosun(&env.run_args(&rootfs, &["--detach-keys", "ctrl-1", "-d"], &["true"]));
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: invalid detach keys \"ctrl-1\": unknown key \"ctrl-1\"")
            && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(env.ok(&["ls", "-aq"]), "", "a container was created");

    // `run -it` with custom keys: detaching leaves the shell running with its stdin open.
    let mut term = Terminal::open(24, 80);
    let mut cli = env
        .command(&env.run_args(
            &rootfs,
            &["-it", "--name", "shell", "--detach-keys", "ctrl-a,x"],
            &["sh"],
        ))
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    term.master.write_all(b"echo first-$((1+1))\n").unwrap();
    term.read_until("first-2");
    term.master.write_all(&[0x01, b'x']).unwrap();
    assert_eq!(cli.wait().unwrap().code(), Some(0), "detached");
    let ls = env.ok(&["ls", "--filter", "name=shell"]);
    assert!(ls.contains("Up "), "detaching stopped the container: {ls}");

    // Attached again with other keys: the shell still reads its terminal.
    let bad = env.bosun(&["attach", "--detach-keys", "ctrl-p,zz", "shell"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        text(&bad.stderr).lines().count(),
        1,
        "{}",
        text(&bad.stderr)
    );
    let mut term = Terminal::open(24, 80);
    let mut cli = env
        .command(&["attach", "--detach-keys", "ctrl-@,q", "shell"])
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    term.master.write_all(b"echo second-$((2+2))\n").unwrap();
    term.read_until("second-4");
    term.master.write_all(&[0x00, b'q']).unwrap();
    assert_eq!(cli.wait().unwrap().code(), Some(0), "detached");
    let ls = env.ok(&["ls", "--filter", "name=shell"]);
    assert!(ls.contains("Up "), "detaching stopped the container: {ls}");
}

#[test]
fn sig_proxy_forwards_signals_unless_turned_off() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    let script = "trap 'echo got-usr2; exit 7' USR2; trap 'echo got-int; exit 9' INT; \
                  trap 'echo got-term; exit 3' TERM; echo ready; \
                  while :; do sleep 0.1; done";
    // A foreground run passes the CLI's signals on; the container's trap decides.
    let mut cli = Watched::start(
        &env,
        &env.run_args(&rootfs, &["--rm"], &["sh", "-c", script]),
    );
    cli.until("ready\n");
    cli.signal(Signal::SIGUSR2);
    let shown = cli.until("got-usr2\n");
    let status = cli.finish().status;
    assert_eq!((status.code(), shown.as_str()), (Some(7), "got-usr2\n"));

    // With --sig-proxy=false, Ctrl-C ends the CLI and leaves the container alone.
    let mut cli = Watched::start(
        &env,
        &env.run_args(
            &rootfs,
            &["--sig-proxy=false", "--name", "alone"],
            &["sh", "-c", script],
        ),
    );
    cli.until("ready\n");
    cli.signal(Signal::SIGINT);
    assert_eq!(cli.finish().status.signal(), Some(Signal::SIGINT as i32));
    // The container's first handled signal ends it: SIGTERM sent now, not the SIGINT.
    env.ok(&["kill", "-s", "TERM", "alone"]);
    assert_eq!(env.ok(&["wait", "alone"]), "3\n");
    let logs = env.ok(&["logs", "alone"]);
    assert_eq!(logs, "ready\ngot-term\n");
}

#[test]
fn create_i_keeps_stdin_for_start_a_i() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    let create = |name: &'static str, flags: &[&'static str], script: &'static str| {
        let mut args = vec!["create", "--name", name, "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--rootfs", &rootfs, "sh", "-c", script]);
        env.ok(&args);
    };
    create("fed", &["-i"], "read x; echo got $x; exit 6");
    let out = env.with_input(&["start", "-a", "-i", "fed"], b"hello\n");
    assert_eq!(
        code_and_out(&out),
        (Some(6), "got hello\n".into()),
        "{}",
        text(&out.stderr)
    );

    // `start -a` alone: the output and the exit code, stdin left alone.
    create("out", &[], "echo out; echo err >&2; exit 2");
    let out = env.with_input(&["start", "-a", "out"], b"ignored\n");
    assert_eq!(
        (code_and_out(&out), text(&out.stderr)),
        ((Some(2), "out\n".into()), "err\n".into())
    );

    // A terminal: `start -ai` needs one, as docker.
    create("term", &["-it"], "stty size; read x; echo got-$x; exit 5");
    let out = env.with_input(&["start", "-ai", "term"], b"x\n");
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(1), "error: the input device is not a TTY\n".into())
    );
    let mut term = Terminal::open(17, 43);
    let mut cli = env
        .command(&["start", "-ai", "term"])
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    term.read_until("17 43");
    term.master.write_all(b"typed\n").unwrap();
    term.read_until("got-typed");
    assert_eq!(cli.wait().unwrap().code(), Some(5));
}

#[test]
fn it_without_a_terminal_is_refused() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    let out = env.with_input(&env.run_args(&rootfs, &["-it"], &["true"]), b"");
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(1), "error: the input device is not a TTY\n".into())
    );
    assert_eq!(env.ok(&["ls", "-aq"]), "", "a container was created");
    // -t alone, or -d, does not need one.
    let out = env.with_input(&env.run_args(&rootfs, &["-t", "--rm"], &["true"]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    env.ok(&env.run_args(&rootfs, &["-dit", "--name", "bg"], &["sh"]));
    let out = env.with_input(&["attach", "bg"], b"exit 3\n");
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(1), "error: the input device is not a TTY\n".into())
    );
    env.ok(&["pause", "bg"]);
    let out = env.with_input(&["attach", "--no-stdin", "bg"], b"");
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (
            Some(1),
            "error: you cannot attach to a paused container, unpause it first\n".into()
        )
    );
}

#[test]
fn detaching_from_exec_it_leaves_the_process_running() {
    let env = Env::new("attachtest");
    let rootfs = env.rootfs();
    env.ok(&env.run_args(&rootfs, &["-d", "--name", "box"], &["sleep", "1000"]));
    // After the detach, the process writes more than a terminal holds, then records that it
    // got through.
    let script = "echo ready; while [ ! -f /go ]; do sleep 0.1; done; \
                  i=0; while [ $i -lt 5000 ]; do echo line-$i-of-some-output; i=$((i+1)); done; \
                  echo done > /finished; sleep 1000";
    let mut term = Terminal::open(24, 80);
    let mut cli = env
        .command(&["exec", "-it", "box", "sh", "-c", script])
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    term.read_until("ready");
    term.master.write_all(&[0x10, 0x11]).unwrap();
    assert_eq!(cli.wait().unwrap().code(), Some(0), "detached");
    env.ok(&["exec", "box", "touch", "/go"]);
    assert_eq!(wait_file(&env, "box", "/finished"), "done\n");
}
