//! End-to-end: stdin and terminals through the real `bosun` binary (run as root): `run -i`,
//! `exec -i`, `-t`, the CLI's terminal size, the container's stdin closing when the CLI dies,
//! and a detached `-i` container's stdin surviving an agent restart for a later `attach`.
//! Each test has its own roots and agent, stopped with its containers even when it fails.

#![allow(clippy::unwrap_used)]

mod container_env;
mod piped;
mod stdin_env;
use testkit::teardown;

use container_env::{Env, text, wait_gone};
use stdin_env::{PATIENCE, Terminal, code_and_out};

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Stdio};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn run_i_feeds_stdin_and_its_end_closes_it() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    let out = env.with_input(&env.run_args(&rootfs, &["-i"], &["cat"]), b"hi\n");
    assert_eq!(
        code_and_out(&out),
        (Some(0), "hi\n".into()),
        "{}",
        text(&out.stderr)
    );

    let script = "read x; echo got $x; exit 7";
    let out = env.with_input(
        &env.run_args(&rootfs, &["-i", "--rm"], &["sh", "-c", script]),
        b"abc\n",
    );
    assert_eq!(
        code_and_out(&out),
        (Some(7), "got abc\n".into()),
        "{}",
        text(&out.stderr)
    );

    // A large input arrives whole, and its end is the command's end of file.
    let big = vec![b'x'; 1 << 20];
    let out = env.with_input(
        &env.run_args(&rootfs, &["-i", "--rm"], &["sh", "-c", "cat | wc -c"]),
        &big,
    );
    assert_eq!(
        code_and_out(&out),
        (Some(0), "1048576\n".into()),
        "{}",
        text(&out.stderr)
    );

    // Echoed back, a large input comes out whole too (input and output flow at once).
    let out = env.with_input(&env.run_args(&rootfs, &["-i", "--rm"], &["cat"]), &big);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), big.len());

    // Without -i the container reads end of file at once, whatever the CLI's stdin holds.
    let out = env.with_input(
        &env.run_args(&rootfs, &["--rm"], &["sh", "-c", "cat | wc -c"]),
        b"ignored\n",
    );
    assert_eq!(
        code_and_out(&out),
        (Some(0), "0\n".into()),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exec_i_feeds_stdin_and_returns_the_exit_code() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    env.ok(&env.run_args(&rootfs, &["-d", "--name", "box"], &["sleep", "1000"]));
    let out = env.with_input(&["exec", "-i", "box", "cat"], b"x\n");
    assert_eq!(
        code_and_out(&out),
        (Some(0), "x\n".into()),
        "{}",
        text(&out.stderr)
    );

    let big = vec![b'y'; 1 << 20];
    let out = env.with_input(&["exec", "-i", "box", "sh", "-c", "cat | wc -c"], &big);
    assert_eq!(
        code_and_out(&out),
        (Some(0), "1048576\n".into()),
        "{}",
        text(&out.stderr)
    );

    let out = env.with_input(
        &[
            "exec",
            "-i",
            "box",
            "sh",
            "-c",
            "read a; echo $a >&2; exit $a",
        ],
        b"5\n",
    );
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stderr), "5\n");

    let out = env.with_input(&["exec", "box", "sh", "-c", "cat | wc -c"], b"ignored\n");
    assert_eq!(
        code_and_out(&out),
        (Some(0), "0\n".into()),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn t_gives_a_terminal_inside() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    let probe = "test -t 0 && test -t 1 && echo tty || echo no tty";
    let out = env.with_input(
        &env.run_args(&rootfs, &["-t", "--rm"], &["sh", "-c", probe]),
        b"",
    );
    // The terminal turns the newline into CR LF, as docker run -t shows.
    assert_eq!(
        code_and_out(&out),
        (Some(0), "tty\r\n".into()),
        "{}",
        text(&out.stderr)
    );

    env.ok(&env.run_args(&rootfs, &["-d", "--name", "box"], &["sleep", "1000"]));
    let out = env.with_input(&["exec", "-t", "box", "sh", "-c", probe], b"");
    assert_eq!(
        code_and_out(&out),
        (Some(0), "tty\r\n".into()),
        "{}",
        text(&out.stderr)
    );
    // With -i as well, the CLI's stdin must be a terminal, as docker requires.
    let out = env.with_input(
        &["exec", "-it", "box", "sh", "-c", "read a; exit $a"],
        b"3\n",
    );
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(1), "error: the input device is not a TTY\n".into())
    );
    let mut term = Terminal::open(24, 80);
    let mut cli = env
        .command(&["exec", "-it", "box", "sh", "-c", "read a; exit $a"])
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    term.master.write_all(b"3\n").unwrap();
    assert_eq!(cli.wait().unwrap().code(), Some(3));
    let out = env.with_input(&["exec", "box", "sh", "-c", probe], b"");
    assert_eq!(code_and_out(&out), (Some(0), "no tty\n".into()));
}

#[test]
fn it_follows_the_cli_terminal_and_restores_it() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    env.ok(&env.run_args(&rootfs, &["-d", "--name", "box"], &["sleep", "1000"]));
    let mut term = Terminal::open(33, 77);
    let before = nix::sys::termios::tcgetattr(term.slave.as_fd()).unwrap();
    let mut cli: Child = env
        .command(&[
            "exec",
            "-it",
            "box",
            "sh",
            "-c",
            "stty size; while read x; do stty size; done",
        ])
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    // The process starts with the CLI's size.
    let shown = term.read_until("33 77");
    assert!(shown.contains("33 77"), "{shown:?}");
    // A window change reaches it: ask again until the new size shows (the resize and the
    // newline travel separately).
    engine::shim::attach::set_window_size(term.master.as_fd(), 40, 100).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut shown = String::new();
    while !shown.contains("40 100") {
        assert!(Instant::now() < deadline, "no resize: {shown:?}");
        kill(Pid::from_raw(cli.id() as i32), Signal::SIGWINCH).unwrap();
        term.master.write_all(b"\n").unwrap();
        shown = term.read_until("\n");
    }
    // Ctrl-D ends the loop; the CLI exits with the command and restores the terminal.
    term.master.write_all(&[4]).unwrap();
    let status = cli.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let after = nix::sys::termios::tcgetattr(term.slave.as_fd()).unwrap();
    assert_eq!(after.local_flags, before.local_flags, "terminal left raw");
    assert_eq!(after.input_flags, before.input_flags, "terminal left raw");
    assert!(term.slave.as_raw_fd() >= 0);
}

#[test]
fn the_container_stdin_closes_when_the_cli_dies() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    let script = "echo ready; cat >/dev/null; echo stdin closed; sleep 1000";
    let mut cli = env
        .command(&env.run_args(&rootfs, &["-i", "--name", "fed"], &["sh", "-c", script]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = cli.stdin.take().unwrap();
    stdin.write_all(b"some input\n").unwrap();
    env.wait_logs("fed", "ready\n");
    kill(Pid::from_raw(cli.id() as i32), Signal::SIGKILL).unwrap();
    cli.wait().unwrap();
    // The CLI's stdin is still open here: only its death closed the container's.
    env.wait_logs("fed", "stdin closed\n");
    drop(stdin);
    let ls = env.ok(&["ls", "--filter", "name=fed"]);
    assert!(
        ls.contains("Up "),
        "the container died with its stdin: {ls}"
    );
}

#[test]
fn a_detached_i_container_keeps_its_stdin_across_an_agent_restart() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    let script = "read x; echo got $x; exit 3";
    env.ok(&env.run_args(
        &rootfs,
        &["-d", "-i", "--name", "later"],
        &["sh", "-c", script],
    ));
    let agent = env.agent_pid().unwrap();
    kill(Pid::from_raw(agent), Signal::SIGKILL).unwrap();
    wait_gone(agent);
    // The next command starts a new agent, which re-adopts the container with its stdin.
    let ls = env.ok(&["ls", "--filter", "name=later"]);
    assert!(ls.contains("Up "), "{ls}");
    assert_ne!(env.agent_pid(), Some(agent));
    // The container's init holds its stdio and nothing of the agent's or the shim's.
    let fds = env.ok(&["exec", "later", "ls", "/proc/1/fd"]);
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "{fds}"
    );
    // An attach's input reaches the container's stdin, which waited for it.
    let out = env.with_input(&["attach", "later"], b"one\n");
    assert_eq!(
        code_and_out(&out),
        (Some(3), "got one\n".into()),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_it_sizes_the_container_terminal_and_attach_detaches_with_ctrl_p_ctrl_q() {
    let env = Env::new("stdintest");
    let rootfs = env.rootfs();
    let mut term = Terminal::open(21, 61);
    let mut cli = env
        .command(&env.run_args(
            &rootfs,
            &["-it", "--rm"],
            &["sh", "-c", "stty size; exit 5"],
        ))
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    let shown = term.read_until("21 61");
    assert!(shown.contains("21 61"), "{shown:?}");
    assert_eq!(cli.wait().unwrap().code(), Some(5));

    env.ok(&env.run_args(&rootfs, &["-dit", "--name", "shell"], &["sh"]));
    let mut term = Terminal::open(24, 80);
    let mut cli = env
        .command(&["attach", "shell"])
        .stdin(term.stdio())
        .stdout(term.stdio())
        .stderr(term.stdio())
        .spawn()
        .unwrap();
    // Typed into the container's shell through the attach; only its answer reads "0k" (the
    // terminal's echo of the line shows the arithmetic).
    term.master.write_all(b"echo attached-$((1-1))k\n").unwrap();
    let shown = term.read_until("attached-0k");
    assert!(shown.contains("attached-0k"), "{shown:?}");
    term.master.write_all(&[0x10, 0x11]).unwrap();
    assert_eq!(cli.wait().unwrap().code(), Some(0), "detached");
    let ls = env.ok(&["ls", "--filter", "name=shell"]);
    assert!(ls.contains("Up "), "detaching stopped the container: {ls}");
}
