//! ADD of a URL. This builder has no HTTP client: an ADD from a URL fails with an error that
//! says whether the host could be reached at all.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::BuildError;

/// How long the reachability probe waits.
const PROBE: Duration = Duration::from_secs(3);

/// The error of `ADD <url>`.
pub(crate) fn add_url_error(url: &str) -> BuildError {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = if scheme == "https" { 443 } else { 80 };
    let target = if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    };
    let reached = target
        .to_socket_addrs()
        .map_err(|e| e.to_string())
        .and_then(|mut addrs| {
            let addr = addrs.next().ok_or_else(|| "no address".to_string())?;
            TcpStream::connect_timeout(&addr, PROBE).map_err(|e| e.to_string())
        });
    match reached {
        Err(why) => BuildError::Invalid(format!("ADD {url}: cannot reach {target}: {why}")),
        Ok(_) => BuildError::Unsupported(format!(
            "ADD {url}: downloading from a URL (download the file into the context and ADD or COPY it)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_urls_say_so() {
        // Port 9 (discard) on loopback: nothing listens there on a test machine.
        let err = add_url_error("http://127.0.0.1:9/file.tar.gz").to_string();
        assert!(err.contains("cannot reach 127.0.0.1:9"), "{err}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let err = add_url_error(&format!("http://127.0.0.1:{port}/x")).to_string();
        assert!(err.contains("not supported"), "{err}");
    }
}
