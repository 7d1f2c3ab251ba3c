//! Resolving specifications to concrete mappings: host ports chosen (random ones from Docker's
//! ephemeral range), each checked against the ports already published and against the host's
//! own sockets, so that a conflict is an error before anything is created.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{PortMapping, PortSpec, Protocol, bind_tcp, bind_udp};
use crate::network::NetworkError;

/// First port of the range random host ports come from (Docker's).
pub(crate) const EPHEMERAL_FIRST: u16 = 49153;

/// Whether the host socket is free (something else on the host may hold it); an address that
/// cannot be bound at all (not an address of this host, a family the host lacks) is an error
/// naming the mapping.
pub(crate) fn host_port_free(
    protocol: Protocol,
    ip: Option<IpAddr>,
    port: u16,
) -> Result<bool, NetworkError> {
    let addr = SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
    let bound = match protocol {
        Protocol::Tcp => bind_tcp(addr).map(drop),
        Protocol::Udp => bind_udp(addr).map(drop),
    };
    match bound {
        Ok(()) => Ok(true),
        Err(err) if matches!(err.raw_os_error(), Some(libc::EADDRINUSE | libc::EACCES)) => {
            Ok(false)
        }
        Err(source) => Err(NetworkError::Publish {
            port: PortMapping {
                protocol,
                host_ip: ip,
                host_port: port,
                container_port: 0,
            }
            .to_string(),
            source,
        }),
    }
}

/// The host addresses one specification is published on: its own, or with none, every IPv4
/// address and, when the endpoint has IPv6 (`dual`), every IPv6 address as a mapping of its
/// own.
fn binds(spec: &PortSpec, dual: bool) -> Vec<Option<IpAddr>> {
    match spec.host_ip {
        None if dual => vec![
            Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        ],
        ip => vec![ip],
    }
}

/// Turns specs into mappings. `taken` are the mappings already published; `dual` says whether
/// the endpoint has IPv6; `free` says whether a host socket is free on the host. Random ports
/// come from [`EPHEMERAL_FIRST`]`..=65535`; a port published on both families is the same on
/// both.
pub(crate) fn resolve(
    specs: &[PortSpec],
    taken: &[PortMapping],
    dual: bool,
    free: &mut dyn FnMut(Protocol, Option<IpAddr>, u16) -> Result<bool, NetworkError>,
) -> Result<Vec<PortMapping>, NetworkError> {
    let mut out: Vec<PortMapping> = Vec::new();
    for spec in specs {
        let (ca, cb) = spec.container_ports;
        let binds = binds(spec, dual);
        for container_port in ca..=cb {
            let candidates: Vec<u16> = match spec.host_ports {
                Some((ha, _)) if cb > ca => vec![ha + (container_port - ca)],
                Some((ha, hb)) => (ha..=hb).collect(),
                None => (EPHEMERAL_FIRST..=u16::MAX).collect(),
            };
            let mut chosen = None;
            let mut refused = None;
            'candidates: for host_port in &candidates {
                let mappings: Vec<PortMapping> = binds
                    .iter()
                    .map(|host_ip| PortMapping {
                        protocol: spec.protocol,
                        host_ip: *host_ip,
                        host_port: *host_port,
                        container_port,
                    })
                    .collect();
                for m in &mappings {
                    let clash = taken.iter().chain(out.iter()).any(|t| t.clashes(m));
                    if clash || !free(m.protocol, m.host_ip, m.host_port)? {
                        refused.get_or_insert(*m);
                        continue 'candidates;
                    }
                }
                chosen = Some(mappings);
                break;
            }
            match (chosen, refused) {
                (Some(mappings), _) => out.extend(mappings),
                (None, Some(m)) if candidates.len() == 1 => {
                    return Err(NetworkError::PortInUse(m.to_string()));
                }
                (None, _) => {
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

    fn spec(s: &str) -> PortSpec {
        s.parse().unwrap()
    }

    fn all_free(_: Protocol, _: Option<IpAddr>, _: u16) -> Result<bool, NetworkError> {
        Ok(true)
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
            false,
            &mut |_, _, port| Ok(port != 8000),
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
    fn every_address_means_both_families_on_an_ipv6_endpoint() {
        let shown = |specs: &[&str],
                     dual: bool,
                     free: &mut dyn FnMut(
            Protocol,
            Option<IpAddr>,
            u16,
        ) -> Result<bool, NetworkError>| {
            let specs: Vec<PortSpec> = specs.iter().map(|s| spec(s)).collect();
            resolve(&specs, &[], dual, free)
                .unwrap()
                .iter()
                .map(|m| format!("{m}->{}", m.container_port))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown(&["8080:80"], false, &mut all_free),
            ["0.0.0.0:8080/tcp->80"]
        );
        assert_eq!(
            shown(&["8080:80", "[::1]:9090:90"], true, &mut all_free),
            [
                "0.0.0.0:8080/tcp->80",
                "[::]:8080/tcp->80",
                "[::1]:9090/tcp->90"
            ]
        );
        assert_eq!(
            shown(&["0.0.0.0:8080:80", "[::]:8081:81"], true, &mut all_free),
            ["0.0.0.0:8080/tcp->80", "[::]:8081/tcp->81"]
        );
        // A random port is free on both families.
        let mut v6_busy = |_: Protocol, ip: Option<IpAddr>, port: u16| {
            Ok(!(ip.is_some_and(|ip| ip.is_ipv6()) && port == EPHEMERAL_FIRST))
        };
        assert_eq!(
            shown(&["80"], true, &mut v6_busy),
            [
                format!("0.0.0.0:{}/tcp->80", EPHEMERAL_FIRST + 1),
                format!("[::]:{}/tcp->80", EPHEMERAL_FIRST + 1)
            ]
        );
    }

    #[test]
    fn conflicts_are_errors_naming_the_port() {
        let taken = [
            PortMapping {
                protocol: Protocol::Tcp,
                host_ip: Some(Ipv4Addr::LOCALHOST.into()),
                host_port: 8080,
                container_port: 80,
            },
            PortMapping {
                protocol: Protocol::Tcp,
                host_ip: Some(Ipv6Addr::LOCALHOST.into()),
                host_port: 7070,
                container_port: 80,
            },
        ];
        let cases = [
            ("8080:80", false, Some("0.0.0.0:8080/tcp")),
            ("127.0.0.1:8080:80", false, Some("127.0.0.1:8080/tcp")),
            ("127.0.0.2:8080:80", false, None),
            ("8080:80/udp", false, None),
            ("[::1]:8080:80", false, None),
            ("[::]:7070:80", false, Some("[::]:7070/tcp")),
            ("0.0.0.0:7070:80", false, None),
            ("7070:80", true, Some("[::]:7070/tcp")),
            ("7070:80", false, Some("0.0.0.0:7070/tcp")),
        ];
        for (text, dual, want) in cases {
            let got = resolve(&[spec(text)], &taken, dual, &mut all_free);
            match want {
                Some(w) => assert_eq!(
                    got.unwrap_err().to_string(),
                    format!("port {w} is already allocated"),
                    "{text}"
                ),
                None => assert!(got.is_ok(), "{text}"),
            }
        }
        let err = resolve(
            &[spec("8080:80"), spec("8080:81")],
            &[],
            false,
            &mut all_free,
        );
        assert!(err.unwrap_err().to_string().contains("8080/tcp"));
        let err = resolve(&[spec("9090:80")], &[], false, &mut |_, _, _| Ok(false));
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("9090/tcp is already allocated")
        );
    }

    #[test]
    fn the_hosts_own_sockets_count() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let localhost = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(!host_port_free(Protocol::Tcp, localhost, port).unwrap());
        assert!(!host_port_free(Protocol::Tcp, None, port).unwrap());
        drop(held);
        assert!(host_port_free(Protocol::Tcp, localhost, port).unwrap());
        // 192.0.2.0/24 is documentation space: never an address of a test machine.
        let err = host_port_free(Protocol::Tcp, Some("192.0.2.77".parse().unwrap()), port)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot publish port 192.0.2.77:{port}/tcp: ")),
            "{err}"
        );
    }
}
