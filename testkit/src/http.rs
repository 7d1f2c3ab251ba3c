//! A bare HTTP/1.0 client for tests that read what a container serves on a published port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The body of `GET path` on 127.0.0.1:`port` (`None` while nothing answers).
pub fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Polls `GET path` every 200 ms until the body contains `want` or `within` has passed;
/// returns the last body (the caller asserts on it, so a failure shows what was served).
pub fn until_contains(port: u16, path: &str, want: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let body = get(port, path).unwrap_or_default();
        if body.contains(want) || Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
