//! Published ports: the short syntax (`"127.0.0.1:8080:80/udp"`, ranges) and the long one.

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::scalar::{self, Extensions};

string_enum! {
    /// A transport protocol.
    #[derive(Default)]
    pub enum Protocol ("protocol") {
        /// TCP (the default).
        #[default]
        Tcp = "tcp",
        /// UDP.
        Udp = "udp",
        /// SCTP.
        Sctp = "sctp",
    }
}

string_enum! {
    /// How a port is published in a cluster.
    #[derive(Default)]
    pub enum PortMode ("port mode") {
        /// Load-balanced across the cluster (the default).
        #[default]
        Ingress = "ingress",
        /// Published on the node running the task only.
        Host = "host",
    }
}

/// One published or exposed container port, in the long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServicePort {
    /// A human-readable name for the port.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Ingress (cluster-wide) or host publishing.
    #[serde(default)]
    pub mode: PortMode,
    /// The host address to bind, when not all addresses.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_ip: Option<String>,
    /// The port inside the container.
    #[serde(deserialize_with = "scalar::scalar")]
    pub target: u16,
    /// The host port or port range (`8080`, `9000-9010`); `None` lets the host choose.
    #[serde(
        default,
        deserialize_with = "published",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<String>,
    /// The transport protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// The application protocol (`http`, `grpc` …), informative.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_protocol: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

impl ServicePort {
    /// The published port range `(start, end)`, if a host port is set.
    pub fn published_range(&self) -> Option<(u16, u16)> {
        self.published
            .as_deref()
            .and_then(|p| parse_range(p, 0).ok())
    }
}

const PORT_SYNTAX: &str = "expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]";

fn published<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = scalar::opt(d)?;
    match value {
        Some(p) if p.is_empty() => Ok(None),
        Some(p) => match parse_range(&p, 0) {
            Ok(_) => Ok(Some(p)),
            Err(reason) => Err(de::Error::custom(format!(
                "invalid published port {p:?}: {reason}; expected a port or a range such as 8080 \
                 or 9000-9010"
            ))),
        },
        None => Ok(None),
    }
}

/// Parses `80` or `8000-8010` into an inclusive range whose start is at least `min`; the error
/// says what is wrong with it.
fn parse_range(text: &str, min: u16) -> Result<(u16, u16), String> {
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let number = |s: &str| -> Result<u16, String> {
        if s.is_empty() {
            return Err("a port number is missing".to_string());
        }
        let n: u64 = s
            .parse()
            .map_err(|_| format!("{s:?} is not a port number"))?;
        u16::try_from(n)
            .ok()
            .filter(|port| *port >= min)
            .ok_or_else(|| format!("port {n} is out of range {min}-65535"))
    };
    let (start, end) = (number(start)?, number(end)?);
    if end < start {
        return Err(format!("the range {text} starts above its end"));
    }
    Ok((start, end))
}

/// Parses the short syntax into one entry per container port, like Docker does: `80`,
/// `"8080:80"`, `"127.0.0.1:8080:80"`, `"127.0.0.1::80"`, `"[::1]:8080:80"`, `"8000-8010:80-90"`
/// (one entry per port), `"9090-9091:8080"` (a host range for one container port), with an
/// optional `/tcp`, `/udp` or `/sctp` suffix.
pub fn parse_port(text: &str) -> Result<Vec<ServicePort>, String> {
    let syntax = |reason: String| format!("invalid port {text:?}: {reason}; {PORT_SYNTAX}");
    let (spec, protocol) = match text.split_once('/') {
        Some((spec, "")) => (spec, Protocol::Tcp),
        Some((spec, proto)) => {
            let protocol = proto.to_ascii_lowercase().parse::<Protocol>().map_err(|_| {
                format!("invalid port {text:?}: unknown protocol {proto:?}, expected tcp, udp or sctp")
            })?;
            (spec, protocol)
        }
        None => (text, Protocol::Tcp),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let container = parts.last().copied().unwrap_or_default();
    let (ip, host) = match parts.len() {
        1 => ("".to_owned(), ""),
        2 => ("".to_owned(), parts[0]),
        3 => (parts[0].to_owned(), parts[1]),
        n => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let host_ip = parse_host_ip(&ip)
        .map_err(|()| format!("invalid port {text:?}: invalid host IP {ip:?}, {PORT_SYNTAX}"))?;
    let (start, end) = parse_range(container, 1).map_err(syntax)?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(parse_range(host, 0).map_err(syntax)?)
    };
    if let Some((host_start, host_end)) = host_range
        && host_end - host_start != end - start
        && start != end
    {
        return Err(format!(
            "invalid port {text:?}: the host range {host} and the container range {container} differ in size"
        ));
    }
    let ports = (start..=end)
        .enumerate()
        .map(|(offset, target)| {
            let published = host_range.map(|(host_start, host_end)| {
                if start == end && host_start != host_end {
                    format!("{host_start}-{host_end}")
                } else {
                    (u32::from(host_start) + offset as u32).to_string()
                }
            });
            ServicePort {
                mode: PortMode::Ingress,
                host_ip: host_ip.clone(),
                target,
                published,
                protocol,
                ..ServicePort::default()
            }
        })
        .collect();
    Ok(ports)
}

/// `""` is no address; `[::1]` loses its brackets; anything else must be an IP address.
fn parse_host_ip(ip: &str) -> Result<Option<String>, ()> {
    if ip.is_empty() {
        return Ok(None);
    }
    let bare = match ip.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']').ok_or(())?,
        None => ip,
    };
    bare.parse::<IpAddr>().map_err(|_| ())?;
    Ok(Some(bare.to_owned()))
}

/// Reads a `ports` list, expanding each short entry into its ports. A `deserialize_with`
/// function.
pub(super) fn deserialize_ports<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<ServicePort>, D::Error> {
    d.deserialize_any(PortsVisitor)
}

struct PortsVisitor;

impl<'de> Visitor<'de> for PortsVisitor {
    type Value = Vec<ServicePort>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of ports")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = seq.next_element::<PortEntry>()? {
            out.extend(entry.0);
        }
        Ok(out)
    }
}

struct PortEntry(Vec<ServicePort>);

impl<'de> Deserialize<'de> for PortEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PortEntryVisitor).map(PortEntry)
    }
}

struct PortEntryVisitor;

impl<'de> Visitor<'de> for PortEntryVisitor {
    type Value = Vec<ServicePort>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a port number, a port string such as 8080:80, or a port mapping")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_port(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ServicePort::deserialize(de::value::MapAccessDeserializer::new(map)).map(|p| vec![p])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn port(
        ip: Option<&str>,
        published: Option<&str>,
        target: u16,
        protocol: Protocol,
    ) -> ServicePort {
        ServicePort {
            host_ip: ip.map(str::to_owned),
            published: published.map(str::to_owned),
            target,
            protocol,
            ..ServicePort::default()
        }
    }

    #[test]
    fn short_syntax() {
        use Protocol::*;
        let cases: Vec<(&str, Vec<ServicePort>)> = vec![
            ("80", vec![port(None, None, 80, Tcp)]),
            ("8080:80", vec![port(None, Some("8080"), 80, Tcp)]),
            (
                "127.0.0.1:8080:80",
                vec![port(Some("127.0.0.1"), Some("8080"), 80, Tcp)],
            ),
            (
                "127.0.0.1::80",
                vec![port(Some("127.0.0.1"), None, 80, Tcp)],
            ),
            (
                "[::1]:8080:80",
                vec![port(Some("::1"), Some("8080"), 80, Tcp)],
            ),
            (
                "::1:8080:80",
                vec![port(Some("::1"), Some("8080"), 80, Tcp)],
            ),
            ("53:53/udp", vec![port(None, Some("53"), 53, Udp)]),
            ("9/SCTP", vec![port(None, None, 9, Sctp)]),
            ("80/", vec![port(None, None, 80, Tcp)]),
            (
                "9090-9091:8080",
                vec![port(None, Some("9090-9091"), 8080, Tcp)],
            ),
            (
                "3000-3002",
                vec![
                    port(None, None, 3000, Tcp),
                    port(None, None, 3001, Tcp),
                    port(None, None, 3002, Tcp),
                ],
            ),
            (
                "8000-8002:80-82/udp",
                vec![
                    port(None, Some("8000"), 80, Udp),
                    port(None, Some("8001"), 81, Udp),
                    port(None, Some("8002"), 82, Udp),
                ],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_port(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn short_syntax_errors() {
        let cases = [
            (
                "80:abc",
                "invalid port \"80:abc\": \"abc\" is not a port number; expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                "",
                "invalid port \"\": a port number is missing; expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                "0",
                "invalid port \"0\": port 0 is out of range 1-65535; expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                "70000",
                "invalid port \"70000\": port 70000 is out of range 1-65535; expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                "90-80",
                "invalid port \"90-80\": the range 90-80 starts above its end; expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                "80/foo",
                "invalid port \"80/foo\": unknown protocol \"foo\", expected tcp, udp or sctp",
            ),
            (
                "host:8080:80",
                "invalid port \"host:8080:80\": invalid host IP \"host\", expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                "8000-8010:80-85",
                "invalid port \"8000-8010:80-85\": the host range 8000-8010 and the container range 80-85 differ in size",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_port(text), Err(want.to_owned()), "{text}");
        }
    }

    #[test]
    fn list_mixes_numbers_strings_and_long_form() {
        let ports = deserialize_ports(&json!([
            80,
            "8000-8001:80-81",
            {"target": "443", "published": 8443, "mode": "host", "name": "https", "app_protocol": "https", "x-a": 1},
            {"target": 53, "published": "", "protocol": "udp"}
        ]))
        .unwrap();
        assert_eq!(ports.len(), 5);
        assert_eq!(ports[0], port(None, None, 80, Protocol::Tcp));
        assert_eq!(ports[2].published.as_deref(), Some("8001"));
        assert_eq!(ports[3].target, 443);
        assert_eq!(ports[3].published.as_deref(), Some("8443"));
        assert_eq!(ports[3].mode, PortMode::Host);
        assert_eq!(ports[3].extensions["x-a"], json!(1));
        assert_eq!(ports[4].published, None);
        assert_eq!(ports[4].protocol, Protocol::Udp);
        assert_eq!(ports[3].published_range(), Some((8443, 8443)));
    }

    #[test]
    fn long_form_errors() {
        let err = |v: serde_json::Value| deserialize_ports(&v).unwrap_err().to_string();
        assert_eq!(err(json!([{"published": 80}])), "missing field `target`");
        assert_eq!(
            err(json!([{"target": 80, "protocol": "icmp"}])),
            "invalid protocol \"icmp\": expected one of tcp, udp, sctp"
        );
        assert_eq!(
            err(json!([{"target": 80, "published": "x"}])),
            "invalid published port \"x\": \"x\" is not a port number; expected a port or a range such as 8080 or 9000-9010"
        );
        assert_eq!(
            err(json!([{"target": 80, "mode": "global"}])),
            "invalid port mode \"global\": expected one of ingress, host"
        );
    }

    #[test]
    fn canonical_form_round_trips() {
        let ports = parse_port("127.0.0.1:8080:80/udp").unwrap();
        let json = serde_json::to_value(&ports).unwrap();
        assert_eq!(
            json,
            json!([{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"}])
        );
        assert_eq!(deserialize_ports(&json).unwrap(), ports);
    }
}
