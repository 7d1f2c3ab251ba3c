//! Parsing `-p` specifications as Docker reads them: `[host_ip:][host_port:]container_port`
//! with an optional `/tcp` or `/udp`, ports or ranges, and IPv6 host addresses in brackets
//! (`[::1]:8080:80`) or, as Docker also takes them, bare before the two ports
//! (`::1:8080:80`).

use std::net::IpAddr;
use std::str::FromStr;

use super::{PortSpec, Protocol};
use crate::network::NetworkError;

const SYNTAX: &str = "use [host_ip:][host_port:]container_port[/protocol], with IPv6 host \
                      addresses in brackets ([::1]:8080:80)";

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

fn address(spec: &str, text: &str) -> Result<IpAddr, NetworkError> {
    text.parse()
        .map_err(|_| bad(spec, format!("{text:?} is not an IP address")))
}

/// Splits `rest` (the specification without its protocol) into host address, host ports and
/// container ports.
fn split<'a>(
    spec: &str,
    rest: &'a str,
) -> Result<(Option<IpAddr>, Option<&'a str>, &'a str), NetworkError> {
    if let Some(bracketed) = rest.strip_prefix('[') {
        let (ip, after) = bracketed
            .split_once(']')
            .ok_or_else(|| bad(spec, "missing \"]\" after the IPv6 address"))?;
        let ip = address(spec, ip)?;
        let ports = after
            .strip_prefix(':')
            .ok_or_else(|| bad(spec, format!("expected \":\" after \"[{ip}]\"; {SYNTAX}")))?;
        return match ports.split_once(':') {
            Some((host, container)) if !container.contains(':') => {
                Ok((Some(ip), Some(host).filter(|h| !h.is_empty()), container))
            }
            _ => Err(bad(spec, SYNTAX)),
        };
    }
    let parts: Vec<&str> = rest.split(':').collect();
    match parts.as_slice() {
        [c] => Ok((None, None, c)),
        [h, c] => Ok((None, Some(*h), c)),
        [.., h, c] => {
            // Everything before the two ports is the address: `::1:8080:80` as Docker reads it.
            let ip = &rest[..rest.len() - h.len() - c.len() - 2];
            let ip = match ip {
                "" => None,
                ip if parts.len() > 3 && ip.parse::<IpAddr>().is_err() => {
                    return Err(bad(spec, format!("{ip:?} is not an IP address; {SYNTAX}")));
                }
                ip => Some(address(spec, ip)?),
            };
            Ok((ip, Some(*h).filter(|h| !h.is_empty()), c))
        }
        [] => Err(bad(spec, SYNTAX)),
    }
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
        let (host_ip, host, container) = split(spec, rest)?;
        let container_ports = range(spec, container)?;
        let host_ports = host.map(|h| range(spec, h)).transpose()?;
        if let Some((a, b)) = host_ports {
            let (ca, cb) = container_ports;
            if cb > ca && b - a != cb - ca {
                return Err(bad(spec, "host and container port ranges differ in length"));
            }
        }
        Ok(Self {
            host_ip,
            host_ports,
            container_ports,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let ip = |a: &str| Some(a.parse::<IpAddr>().unwrap());
        let cases = [
            ("80", None, None, (80, 80), Protocol::Tcp),
            ("8080:80", None, Some((8080, 8080)), (80, 80), Protocol::Tcp),
            ("53:53/udp", None, Some((53, 53)), (53, 53), Protocol::Udp),
            (
                "127.0.0.1:8080:80",
                ip("127.0.0.1"),
                Some((8080, 8080)),
                (80, 80),
                Protocol::Tcp,
            ),
            (
                "127.0.0.1::80/tcp",
                ip("127.0.0.1"),
                None,
                (80, 80),
                Protocol::Tcp,
            ),
            (
                "0.0.0.0:9000-9002:7000-7002",
                ip("0.0.0.0"),
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
            (
                "[::1]:8080:80",
                ip("::1"),
                Some((8080, 8080)),
                (80, 80),
                Protocol::Tcp,
            ),
            (
                "[2001:db8::1]:8080:80/udp",
                ip("2001:db8::1"),
                Some((8080, 8080)),
                (80, 80),
                Protocol::Udp,
            ),
            (
                "[::]:8080:80",
                ip("::"),
                Some((8080, 8080)),
                (80, 80),
                Protocol::Tcp,
            ),
            ("[::1]::80", ip("::1"), None, (80, 80), Protocol::Tcp),
            (
                "::1:8080:80",
                ip("::1"),
                Some((8080, 8080)),
                (80, 80),
                Protocol::Tcp,
            ),
            (
                "2001:db8::7:9000:90/udp",
                ip("2001:db8::7"),
                Some((9000, 9000)),
                (90, 90),
                Protocol::Udp,
            ),
            ("::1::80", ip("::1"), None, (80, 80), Protocol::Tcp),
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
            ("a:b:c:d", "\"a:b\" is not an IP address"),
            ("300.1.1.1:80:80", "\"300.1.1.1\" is not an IP address"),
            ("90-80", "reversed"),
            ("1-3:7000-7001", "differ in length"),
            ("[::1", "missing \"]\""),
            ("[::1]:8080:80:90", "use [host_ip:]"),
            ("[zz::1]:80:80", "\"zz::1\" is not an IP address"),
            ("[::1]8080:80", "expected \":\" after \"[::1]\""),
            ("[::1]:80", "use [host_ip:]"),
            ("[:8080:80", "missing \"]\""),
        ];
        for (text, want) in cases {
            let err = text.parse::<PortSpec>().unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains(&format!("{text:?}")),
                "{text}: {err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
