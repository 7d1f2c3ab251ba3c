//! The relay against a stand-in container (threads over pipes) and real attach sockets.

use std::io::{Read, Write};

use super::*;
use crate::shim::attach::{self, Frame, FrameReader};
use crate::shim::logs::read_logs;

/// A stand-in container: copies its stdin to its stdout until end of file.
struct Echo {
    relay: std::thread::JoinHandle<()>,
    echo: std::thread::JoinHandle<()>,
    dir: tempfile::TempDir,
}

fn start() -> Echo {
    let dir = tempfile::tempdir().unwrap();
    let pipe = || nix::unistd::pipe().unwrap();
    let ((out_r, out_w), (err_r, err_w), (in_r, in_w)) = (pipe(), pipe(), pipe());
    let listener = attach::bind(dir.path()).unwrap();
    let log = LogWriter::open(dir.path(), 0, 1).ok();
    let stdio = Stdio {
        stdout: out_r,
        stderr: err_r,
        tty: None,
        stdin: Some(in_w),
        open_stdin: true,
    };
    let relay = Relay::new(stdio, Some(listener), dir.path().to_path_buf(), log);
    let relay = std::thread::spawn(move || relay.run());
    let echo = std::thread::spawn(move || {
        let (mut input, mut output) = (std::fs::File::from(in_r), std::fs::File::from(out_w));
        std::io::copy(&mut input, &mut output).unwrap();
        drop(err_w);
    });
    Echo { relay, echo, dir }
}

/// Everything a caller reads until the relay closes its connection.
fn output(mut sock: std::os::unix::net::UnixStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    sock.read_to_end(&mut bytes).unwrap();
    let mut frames = FrameReader::default();
    frames.feed(&bytes);
    let mut out = Vec::new();
    while let Some(frame) = frames.next_frame().unwrap() {
        match frame {
            Frame::Stdout(data) => out.extend(data),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[test]
fn input_reaches_the_container_and_output_every_caller_and_the_log() {
    let echo = start();
    let caller = attach::connect(echo.dir.path()).unwrap();
    let watcher = attach::connect(echo.dir.path()).unwrap();
    let big = vec![b'q'; 3 << 20];
    let mut frames = Frame::Stdin(b"hello\n".to_vec()).encode();
    for chunk in big.chunks(attach::MAX_FRAME) {
        Frame::Stdin(chunk.to_vec()).encode_into(&mut frames);
    }
    Frame::CloseStdin.encode_into(&mut frames);
    let writer = caller.try_clone().unwrap();
    let sender = std::thread::spawn(move || (&writer).write_all(&frames).unwrap());
    let watched = std::thread::spawn(move || output(watcher));
    let seen = output(caller.try_clone().unwrap());
    sender.join().unwrap();
    echo.echo.join().unwrap();
    echo.relay.join().unwrap();
    assert_eq!(seen.len(), 6 + big.len());
    assert!(seen.starts_with(b"hello\nqqq"));
    assert_eq!(
        watched.join().unwrap(),
        seen,
        "a second caller sees the same output"
    );
    let logged: usize = read_logs(echo.dir.path())
        .unwrap()
        .iter()
        .map(|e| e.log.len())
        .sum();
    assert_eq!(logged, seen.len());
    assert!(!attach::socket_path(echo.dir.path()).exists());
}

#[test]
fn a_caller_that_asked_closes_stdin_by_going_away() {
    let echo = start();
    let mut caller = attach::connect(echo.dir.path()).unwrap();
    let mut frames = Frame::Stdin(b"bye\n".to_vec()).encode();
    Frame::CloseStdinOnDetach.encode_into(&mut frames);
    caller.write_all(&frames).unwrap();
    drop(caller);
    echo.echo.join().unwrap();
    echo.relay.join().unwrap();
    let logs = read_logs(echo.dir.path()).unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        (logs[0].stream.as_str(), logs[0].log.as_str()),
        ("stdout", "bye\n")
    );
}

#[test]
fn a_caller_that_detaches_leaves_stdin_open() {
    let echo = start();
    let mut first = attach::connect(echo.dir.path()).unwrap();
    let mut frames = Frame::Stdin(b"one\n".to_vec()).encode();
    Frame::CloseStdinOnDetach.encode_into(&mut frames);
    Frame::Detach.encode_into(&mut frames);
    first.write_all(&frames).unwrap();
    drop(first);
    let mut second = attach::connect(echo.dir.path()).unwrap();
    let mut frames = Frame::Stdin(b"two\n".to_vec()).encode();
    Frame::CloseStdin.encode_into(&mut frames);
    second.write_all(&frames).unwrap();
    echo.echo.join().unwrap();
    echo.relay.join().unwrap();
    let logged: Vec<String> = read_logs(echo.dir.path())
        .unwrap()
        .into_iter()
        .map(|e| e.log)
        .collect();
    assert_eq!(logged, ["one\n", "two\n"]);
}

#[test]
fn a_watcher_that_does_not_read_never_holds_a_plain_container_back() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = || nix::unistd::pipe().unwrap();
    let ((out_r, out_w), (err_r, err_w)) = (pipe(), pipe());
    let listener = attach::bind(dir.path()).unwrap();
    let log = LogWriter::open(dir.path(), 0, 1).ok();
    let stdio = Stdio {
        stdout: out_r,
        stderr: err_r,
        tty: None,
        stdin: None,
        open_stdin: false,
    };
    let relay = Relay::new(stdio, Some(listener), dir.path().to_path_buf(), log);
    let relay = std::thread::spawn(move || relay.run());
    let watcher = attach::connect(dir.path()).unwrap();
    let line = [b"x".repeat(1023), b"\n".to_vec()].concat();
    let writes = 3 << 10;
    // The container writes 3 MiB while the watcher reads nothing: it must still finish.
    let container = std::thread::spawn(move || {
        let mut output = std::fs::File::from(out_w);
        for _ in 0..writes {
            output.write_all(&line).unwrap();
        }
        drop(err_w);
    });
    container.join().unwrap();
    relay.join().unwrap();
    let logged: usize = read_logs(dir.path())
        .unwrap()
        .iter()
        .map(|e| e.log.len())
        .sum();
    assert_eq!(logged, writes * 1024, "the log has everything");
    let seen = output(watcher);
    assert!(
        seen.len() < writes * 1024,
        "the watcher fell behind and was let go ({} bytes seen)",
        seen.len()
    );
}
