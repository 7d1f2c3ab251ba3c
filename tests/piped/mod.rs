//! Running a CLI command with given bytes on its stdin, shared by the stdin tests of the
//! container and the compose commands.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `command` with `input` on its stdin (then end of file) and collects its output.
pub fn with_input(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}
