//! The host's resolvers, and relaying a query to them unchanged: the upstream's answer goes
//! back to the container byte for byte (flags, EDNS, every record type). The resolvers are
//! re-read from their file when it changes (a DHCP lease, a VPN, NetworkManager rewriting it).
//!
//! The servers run in the host's namespace, so loopback resolvers (systemd-resolved's
//! 127.0.0.53, a local dnsmasq) are reachable too, unlike from inside a container.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one upstream gets to answer before the next is tried.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// The nameservers of a resolv.conf text, in order, as `addr:53` (scoped IPv6 addresses, with
/// `%iface`, are skipped).
pub(crate) fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|addr| addr.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The host's resolvers from `path` (normally `/etc/resolv.conf`); none when it is unreadable.
pub(crate) fn host_resolvers(path: &Path) -> Vec<SocketAddr> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_resolv_conf(&text),
        Err(err) => {
            tracing::warn!(path = %path.display(), cause = %err, "cannot read the host's resolvers: names outside the networks will not resolve");
            Vec::new()
        }
    }
}

/// What identifies one version of a file: its modification time and size.
type Stamp = (Option<SystemTime>, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok(), meta.len()))
}

/// The resolvers other names are relayed to: a fixed list, or the nameservers of a resolv.conf
/// file, read again at the next query after the file changed (checked by its modification
/// time and size, one `stat` per forwarded query).
#[derive(Debug)]
pub struct Upstreams {
    path: Option<PathBuf>,
    // A std mutex: held for a stat and a small read, never across an await.
    cached: Mutex<(Option<Stamp>, Arc<Vec<SocketAddr>>)>,
}

impl Upstreams {
    /// The nameservers of the resolv.conf at `path` (normally `/etc/resolv.conf`), read now
    /// and whenever the file changes.
    pub fn from_file(path: &Path) -> Self {
        let stamp = stamp(path);
        Self {
            path: Some(path.to_path_buf()),
            cached: Mutex::new((stamp, Arc::new(host_resolvers(path)))),
        }
    }

    /// Always these servers.
    pub fn fixed(servers: Vec<SocketAddr>) -> Self {
        Self {
            path: None,
            cached: Mutex::new((None, Arc::new(servers))),
        }
    }

    /// The servers now: re-read when the file changed since the last read.
    pub fn current(&self) -> Arc<Vec<SocketAddr>> {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.path {
            let now = stamp(path);
            if now != cached.0 {
                let servers = host_resolvers(path);
                tracing::info!(path = %path.display(), servers = ?servers, "dns: the host's resolvers changed");
                *cached = (now, Arc::new(servers));
            }
        }
        Arc::clone(&cached.1)
    }
}

/// Whether `answer` is the answer to `query`: same id, QR bit set.
fn answers(query: &[u8], answer: &[u8]) -> bool {
    answer.len() >= 12 && query.len() >= 2 && answer[..2] == query[..2] && answer[2] & 0x80 != 0
}

async fn ask_udp(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // A stray datagram with another id is skipped, as a stub resolver does.
        if answers(query, &buf[..n]) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn ask_tcp(server: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u16::try_from(query.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "query too long"))?;
    let mut stream = TcpStream::connect(server).await?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let n = stream.read_u16().await?;
    let mut buf = vec![0u8; usize::from(n)];
    stream.read_exact(&mut buf).await?;
    if !answers(query, &buf) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the answer does not match the query",
        ));
    }
    Ok(buf)
}

/// Relays `query` to each of `servers` in turn (over TCP when `tcp`) and returns the first
/// answer; `None` when none answered in time.
pub(crate) async fn forward(servers: &[SocketAddr], query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    for server in servers {
        let asked = if tcp {
            tokio::time::timeout(UPSTREAM_TIMEOUT, ask_tcp(*server, query)).await
        } else {
            tokio::time::timeout(UPSTREAM_TIMEOUT, ask_udp(*server, query)).await
        };
        match asked {
            Ok(Ok(answer)) => return Some(answer),
            Ok(Err(err)) => {
                tracing::debug!(upstream = %server, cause = %err, "upstream resolver failed")
            }
            Err(_) => tracing::debug!(upstream = %server, "upstream resolver timed out"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_in_order() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.53\n  nameserver   10.0.0.2 # office\nnameserver fe80::1%eth0\nnameserver 2001:db8::1\nnameserver bogus\noptions edns0\n";
        let got: Vec<String> = parse_resolv_conf(text)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(got, ["127.0.0.53:53", "10.0.0.2:53", "[2001:db8::1]:53"]);
        assert!(parse_resolv_conf("").is_empty());
    }

    #[test]
    fn rereads_the_file_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        std::fs::write(&path, "nameserver 10.0.0.1\n").unwrap();
        let upstreams = Upstreams::from_file(&path);
        let addrs =
            |u: &Upstreams| -> Vec<String> { u.current().iter().map(|a| a.to_string()).collect() };
        assert_eq!(addrs(&upstreams), ["10.0.0.1:53"]);
        // Another size, so the change shows even within the file system's time granularity.
        std::fs::write(&path, "nameserver 10.0.0.2\nnameserver 10.0.0.3\n").unwrap();
        assert_eq!(addrs(&upstreams), ["10.0.0.2:53", "10.0.0.3:53"]);
        std::fs::remove_file(&path).unwrap();
        assert!(
            upstreams.current().is_empty(),
            "a missing file names no resolvers"
        );
        let fixed = Upstreams::fixed(vec!["192.0.2.53:53".parse().unwrap()]);
        assert_eq!(addrs(&fixed), ["192.0.2.53:53"]);
    }

    #[test]
    fn matches_answers_by_id_and_qr() {
        let query = [0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut answer = query;
        answer[2] |= 0x80;
        assert!(answers(&query, &answer));
        assert!(!answers(&query, &query), "a query is not an answer");
        let mut other = answer;
        other[1] = 0x35;
        assert!(!answers(&query, &other));
        assert!(!answers(&query, &answer[..5]));
    }

    #[tokio::test]
    async fn relays_over_udp_and_tcp_and_skips_dead_servers() {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (udp_addr, tcp_addr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = udp.recv_from(&mut buf).await.unwrap();
            let mut answer = buf[..n].to_vec();
            answer[2] |= 0x80;
            answer.push(b'u');
            udp.send_to(&answer, peer).await.unwrap();
        });
        tokio::spawn(async move {
            let (mut s, _) = tcp.accept().await.unwrap();
            let n = s.read_u16().await.unwrap();
            let mut q = vec![0u8; usize::from(n)];
            s.read_exact(&mut q).await.unwrap();
            q[2] |= 0x80;
            q.push(b't');
            s.write_u16(q.len() as u16).await.unwrap();
            s.write_all(&q).await.unwrap();
        });
        let query = [7, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        // Nothing listens on the first server: it is skipped after its error.
        let dead = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let got = forward(&[dead, udp_addr], &query, false).await.unwrap();
        assert_eq!((got[2] & 0x80, got.last()), (0x80, Some(&b'u')));
        let got = forward(&[tcp_addr], &query, true).await.unwrap();
        assert_eq!(got.last(), Some(&b't'));
        assert_eq!(forward(&[], &query, false).await, None);
    }
}
