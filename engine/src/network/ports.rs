//! Published ports: the `[host_ip:][host_port:]container_port[/tcp|udp]` specifications (ports
//! may be ranges; IPv6 host addresses in brackets, `[::1]:8080:80`), and the mappings they
//! resolve to, with conflicts found before anything is created.
//!
//! A specification without a host address is published on every address: on IPv4, and on IPv6
//! too when the container's network has IPv6 (then it resolves to two mappings, `0.0.0.0` and
//! `::`, as Docker lists them). `0.0.0.0` alone means every IPv4 address, `::` every IPv6
//! address.

mod parse;
mod resolve;
mod socket;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

pub(crate) use resolve::host_port_free;
pub(crate) use resolve::resolve;
pub use socket::{bind_tcp, bind_udp};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// One `-p` specification as the user wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// The host address to listen on (`None`: every address of both families).
    pub host_ip: Option<IpAddr>,
    /// The host port range (`None`: random ports).
    pub host_ports: Option<(u16, u16)>,
    /// The container port range.
    pub container_ports: (u16, u16),
    /// The protocol.
    pub protocol: Protocol,
}

/// One host port forwarded to one container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The protocol.
    pub protocol: Protocol,
    /// The host address (`None`: every local address; an unspecified address: every address
    /// of its family).
    pub host_ip: Option<IpAddr>,
    /// The host port.
    pub host_port: u16,
    /// The container port.
    pub container_port: u16,
}

/// Which addresses of one family a mapping is published on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listen<A> {
    /// Every address of the family.
    Every,
    /// This address only.
    Only(A),
}

impl PortMapping {
    /// Whether both mappings claim the same host socket.
    pub(crate) fn clashes(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && match (self.host_ip, other.host_ip) {
                (Some(a), Some(b)) => {
                    a.is_ipv4() == b.is_ipv4()
                        && (a == b || a.is_unspecified() || b.is_unspecified())
                }
                _ => true,
            }
    }

    /// The IPv4 addresses the mapping is published on (`None`: it is IPv6 only).
    pub(crate) fn on_v4(&self) -> Option<Listen<Ipv4Addr>> {
        match self.host_ip {
            None => Some(Listen::Every),
            Some(IpAddr::V4(a)) if a.is_unspecified() => Some(Listen::Every),
            Some(IpAddr::V4(a)) => Some(Listen::Only(a)),
            Some(IpAddr::V6(_)) => None,
        }
    }

    /// The IPv6 addresses the mapping is published on (`None`: it is IPv4 only); a mapping
    /// without a host address reaches only containers that have an IPv6 address.
    pub(crate) fn on_v6(&self) -> Option<Listen<Ipv6Addr>> {
        match self.host_ip {
            None => Some(Listen::Every),
            Some(IpAddr::V6(a)) if a.is_unspecified() => Some(Listen::Every),
            Some(IpAddr::V6(a)) => Some(Listen::Only(a)),
            Some(IpAddr::V4(_)) => None,
        }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        write!(
            f,
            "{}/{}",
            SocketAddr::new(ip, self.host_port),
            self.protocol
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(ip: Option<&str>, port: u16) -> PortMapping {
        PortMapping {
            protocol: Protocol::Tcp,
            host_ip: ip.map(|a| a.parse().unwrap()),
            host_port: port,
            container_port: 80,
        }
    }

    #[test]
    fn clashes_follow_the_address_families() {
        let cases = [
            (None, Some("::1"), true),
            (Some("0.0.0.0"), Some("127.0.0.1"), true),
            (Some("0.0.0.0"), Some("::"), false),
            (Some("::"), Some("::1"), true),
            (Some("::1"), Some("127.0.0.1"), false),
            (Some("::1"), Some("2001:db8::1"), false),
            (Some("::1"), Some("::1"), true),
        ];
        for (a, b, want) in cases {
            assert_eq!(tcp(a, 80).clashes(&tcp(b, 80)), want, "{a:?} {b:?}");
            assert_eq!(tcp(b, 80).clashes(&tcp(a, 80)), want, "{b:?} {a:?}");
            assert!(!tcp(a, 80).clashes(&tcp(b, 81)));
        }
    }

    #[test]
    fn families_and_display() {
        let cases = [
            (
                None,
                Some(Listen::Every),
                Some(Listen::Every),
                "0.0.0.0:80/tcp",
            ),
            (Some("0.0.0.0"), Some(Listen::Every), None, "0.0.0.0:80/tcp"),
            (
                Some("127.0.0.1"),
                Some(Listen::Only(Ipv4Addr::LOCALHOST)),
                None,
                "127.0.0.1:80/tcp",
            ),
            (Some("::"), None, Some(Listen::Every), "[::]:80/tcp"),
            (
                Some("::1"),
                None,
                Some(Listen::Only(Ipv6Addr::LOCALHOST)),
                "[::1]:80/tcp",
            ),
        ];
        for (ip, v4, v6, shown) in cases {
            let m = tcp(ip, 80);
            assert_eq!((m.on_v4(), m.on_v6()), (v4, v6), "{ip:?}");
            assert_eq!(m.to_string(), shown);
        }
    }

    #[test]
    fn records_written_with_ipv4_only_addresses_still_read() {
        let old =
            r#"{"protocol":"tcp","host_ip":"127.0.0.1","host_port":8080,"container_port":80}"#;
        let m: PortMapping = serde_json::from_str(old).unwrap();
        assert_eq!(m, tcp(Some("127.0.0.1"), 8080));
        let back = serde_json::to_string(&tcp(Some("::1"), 8080)).unwrap();
        assert!(back.contains(r#""host_ip":"::1""#), "{back}");
    }
}
