//! End-to-end: a command whose stdout reader has gone ends quietly, as `ls` in `ls | head -1`
//! does — killed by SIGPIPE, nothing on stderr — instead of reporting a panic or an error.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

/// Runs `bosun args` in `dir` with stdout a pipe whose read end is already closed.
fn run_into_closed_pipe(dir: &Path, args: &[&str]) -> std::process::Output {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    Command::new(BOSUN)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .expect("bosun runs")
}

#[test]
fn commands_end_quietly_when_stdout_is_closed() {
    let webapp = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webapp");
    let cases: [&[&str]; 4] = [
        // print! panics on EPIPE.
        &["version", "--format", "json"],
        // clap_complete writes and expects success.
        &["completion", "bash"],
        // write_all returns the error.
        &["config"],
        &["config", "--format", "json"],
    ];
    for args in cases {
        let out = run_into_closed_pipe(&webapp, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "bosun {args:?} printed: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(libc_sigpipe()),
            "bosun {args:?} should end as `ls | head` does: {:?}",
            out.status
        );
    }
}

fn libc_sigpipe() -> i32 {
    nix::sys::signal::Signal::SIGPIPE as i32
}

#[test]
fn an_open_stdout_still_gets_the_output() {
    let out = Command::new(BOSUN)
        .args(["version", "--format", "json"])
        .output()
        .expect("bosun runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains('{'));
}
