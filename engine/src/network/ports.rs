//! Published ports: parsing `[host_ip:][host_port:]container_port[/tcp|udp]` (ports may be ranges)
//! and resolving specs to concrete mappings, with conflicts found before anything is created.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::NetworkError;

/// First port of the range random host ports come from (Docker's).
pub const EPHEMERAL_FIRST: u16 = 49153;

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
    /// The host address to listen on (`None`: every address).
    pub host_ip: Option<Ipv4Addr>,
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
    /// The host address (`None`: every local address).
    pub host_ip: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
    /// The container port.
    pub container_port: u16,
}

impl PortMapping {
    /// Whether both mappings claim the same host socket.
    pub fn clashes(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && match (self.host_ip, other.host_ip) {
                (Some(a), Some(b)) => a == b || a.is_unspecified() || b.is_unspecified(),
                _ => true,
            }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        write!(f, "{ip}:{}/{}", self.host_port, self.protocol)
    }
}

fn bad(spec: &str, message: impl Into<String>) -> NetworkError {
    NetworkError::BadPort {
        spec: spec.to_string(),
        message: message.into(),
    }
}

fn range(spec: &str, text: &str) -> Result<(u16, u16), NetworkError> {
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad(spec, format!("{p:?} is not a port number (1-65535)"))),
        Ok(n) => Ok(n),
    };
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(text)?, port(text)?),
    };
    if a > b {
        return Err(bad(spec, format!("range {text} is reversed")));
    }
    Ok((a, b))
}

impl FromStr for PortSpec {
    type Err = NetworkError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (rest, protocol) = match spec.rsplit_once('/') {
            Some((rest, "tcp")) => (rest, Protocol::Tcp),
            Some((rest, "udp")) => (rest, Protocol::Udp),
            Some((_, other)) => return Err(bad(spec, format!("unknown protocol {other:?}"))),
            None => (spec, Protocol::Tcp),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match parts.as_slice() {
            [c] => (None, None, *c),
            [h, c] => (None, Some(*h), *c),
            [ip, h, c] => (Some(*ip), Some(*h).filter(|h| !h.is_empty()), *c),
            _ => {
                return Err(bad(
                    spec,
                    "use [host_ip:][host_port:]container_port[/protocol]",
                ));
            }
        };
        let host_ip = match ip {
            None | Some("") => None,
            Some(ip) => Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| bad(spec, format!("{ip:?} is not an IPv4 address")))?,
            ),
        };
        let container_ports = range(spec, container)?;
        let host_ports = host.map(|h| range(spec, h)).transpose()?;
        if let Some((a, b)) = host_ports {
            let (ca, cb) = container_ports;
            if cb > ca && b - a != cb - ca {
                return Err(bad(spec, "host and container port ranges differ in length"));
            }
        }
        Ok(Self {
            host_ip: host_ip.filter(|ip| !ip.is_unspecified()),
            host_ports,
            container_ports,
            protocol,
        })
    }
}

/// Whether the host socket is free: something else on the host may hold it.
pub fn host_port_free(protocol: Protocol, ip: Option<Ipv4Addr>, port: u16) -> bool {
    let addr = (ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr).is_ok(),
        Protocol::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

/// Turns specs into mappings. `taken` are the mappings already published; `free` says whether a
/// host socket is free on the host. Random ports come from [`EPHEMERAL_FIRST`]`..=65535`.
pub fn resolve(
    specs: &[PortSpec],
    taken: &[PortMapping],
    free: &mut dyn FnMut(Protocol, Option<Ipv4Addr>, u16) -> bool,
) -> Result<Vec<PortMapping>, NetworkError> {
    let mut out: Vec<PortMapping> = Vec::new();
    for spec in specs {
        let (ca, cb) = spec.container_ports;
        for container_port in ca..=cb {
            let candidates: Vec<u16> = match spec.host_ports {
                Some((ha, _)) if cb > ca => vec![ha + (container_port - ca)],
                Some((ha, hb)) => (ha..=hb).collect(),
                None => (EPHEMERAL_FIRST..=u16::MAX).collect(),
            };
            let mut chosen = None;
            for host_port in &candidates {
                let m = PortMapping {
                    protocol: spec.protocol,
                    host_ip: spec.host_ip,
                    host_port: *host_port,
                    container_port,
                };
                let clash = taken.iter().chain(out.iter()).any(|t| t.clashes(&m));
                if !clash && free(m.protocol, m.host_ip, m.host_port) {
                    chosen = Some(m);
                    break;
                }
            }
            match chosen {
                Some(m) => out.push(m),
                None if candidates.len() == 1 => {
                    let m = PortMapping {
                        protocol: spec.protocol,
                        host_ip: spec.host_ip,
                        host_port: candidates[0],
                        container_port,
                    };
                    return Err(NetworkError::PortInUse(m.to_string()));
                }
                None => {
                    return Err(NetworkError::Exhausted(format!(
                        "no free host port for container port {container_port}/{}",
                        spec.protocol
                    )));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let ip = Some(Ipv4Addr::new(127, 0, 0, 1));
        let cases = [
            ("80", None, None, (80, 80), Protocol::Tcp),
            ("8080:80", None, Some((8080, 8080)), (80, 80), Protocol::Tcp),
            ("53:53/udp", None, Some((53, 53)), (53, 53), Protocol::Udp),
            (
                "127.0.0.1:8080:80",
                ip,
                Some((8080, 8080)),
                (80, 80),
                Protocol::Tcp,
            ),
            ("127.0.0.1::80/tcp", ip, None, (80, 80), Protocol::Tcp),
            (
                "0.0.0.0:9000-9002:7000-7002",
                None,
                Some((9000, 9002)),
                (7000, 7002),
                Protocol::Tcp,
            ),
            (
                "9000-9010:80",
                None,
                Some((9000, 9010)),
                (80, 80),
                Protocol::Tcp,
            ),
        ];
        for (text, host_ip, host_ports, container_ports, protocol) in cases {
            let want = PortSpec {
                host_ip,
                host_ports,
                container_ports,
                protocol,
            };
            assert_eq!(text.parse::<PortSpec>().unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_bad_specs_with_the_reason() {
        let cases = [
            ("", "not a port"),
            ("0", "not a port"),
            ("70000", "not a port"),
            ("80/sctp", "unknown protocol"),
            ("a:b:c:d", "use [host_ip:]"),
            ("300.1.1.1:80:80", "not an IPv4 address"),
            ("90-80", "reversed"),
            ("1-3:7000-7001", "differ in length"),
        ];
        for (text, want) in cases {
            let err = text.parse::<PortSpec>().unwrap_err().to_string();
            assert!(err.contains(want) && err.contains(text), "{text}: {err}");
        }
    }

    fn spec(s: &str) -> PortSpec {
        s.parse().unwrap()
    }

    #[test]
    fn resolves_ranges_and_random_ports() {
        let taken = [PortMapping {
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: EPHEMERAL_FIRST,
            container_port: 1,
        }];
        let got = resolve(
            &[
                spec("9000-9001:7000-7001/udp"),
                spec("80"),
                spec("8000-8010:81"),
            ],
            &taken,
            &mut |_, _, port| port != 8000,
        )
        .unwrap();
        let pairs: Vec<_> = got
            .iter()
            .map(|m| (m.host_port, m.container_port, m.protocol))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (9000, 7000, Protocol::Udp),
                (9001, 7001, Protocol::Udp),
                (EPHEMERAL_FIRST + 1, 80, Protocol::Tcp),
                (8001, 81, Protocol::Tcp),
            ]
        );
    }

    #[test]
    fn conflicts_are_errors_naming_the_port() {
        let taken = [PortMapping {
            protocol: Protocol::Tcp,
            host_ip: Some(Ipv4Addr::new(127, 0, 0, 1)),
            host_port: 8080,
            container_port: 80,
        }];
        let cases = [
            ("8080:80", Some("0.0.0.0:8080/tcp")),
            ("127.0.0.1:8080:80", Some("127.0.0.1:8080/tcp")),
            ("127.0.0.2:8080:80", None),
            ("8080:80/udp", None),
        ];
        for (text, want) in cases {
            let got = resolve(&[spec(text)], &taken, &mut |_, _, _| true);
            match want {
                Some(w) => assert_eq!(
                    got.unwrap_err().to_string(),
                    format!("port {w} is already allocated")
                ),
                None => assert!(got.is_ok(), "{text}"),
            }
        }
        let err = resolve(&[spec("8080:80"), spec("8080:81")], &[], &mut |_, _, _| {
            true
        });
        assert!(err.unwrap_err().to_string().contains("8080/tcp"));
        let err = resolve(&[spec("9090:80")], &[], &mut |_, _, _| false);
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("9090/tcp is already allocated")
        );
    }
}
