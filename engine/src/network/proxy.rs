//! Published ports the kernel cannot serve by DNAT, and the seam to whoever serves them instead
//! (the agent's userland proxy).
//!
//! The kernel never routes a packet from the IPv6 loopback `::1` out of the loopback device
//! (and `route_localnet` exists for IPv4 only), so a port published on `::1`, explicitly or
//! through `[::]` or no address at all, needs a process listening there that relays each
//! connection or datagram flow to the container, as Docker's docker-proxy does. The same goes
//! for a port published on an IPv6 host address for a container without IPv6: nftables cannot
//! translate between the families. [`proxied`] derives that list from the records, so it comes
//! and goes with the endpoints exactly as their DNAT rules do.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::NetworkError;
use super::ports::{Listen, Protocol};
use super::record::NetworkRecord;

/// One published port served in user space: connections and datagrams to `listen` are relayed
/// to `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProxyPort {
    /// The protocol.
    pub protocol: Protocol,
    /// The host socket.
    pub listen: SocketAddr,
    /// The container's socket.
    pub target: SocketAddr,
}

impl fmt::Display for ProxyPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} -> {}", self.listen, self.protocol, self.target)
    }
}

/// Serves the [`ProxyPort`]s of a node. [`crate::network::Networks`] hands it the whole list
/// after every change of the endpoints (with the networks' lock held), and at agent start.
pub trait PortProxy: Send + Sync + fmt::Debug {
    /// Serves exactly `ports`: listeners no longer wanted are closed before this returns (so
    /// their sockets are free again), missing ones are bound. A port that cannot be bound is
    /// an error naming it; the others are served all the same. A wanted loopback `::1` that
    /// the host lacks is skipped.
    fn serve(&self, ports: &[ProxyPort]) -> Result<(), NetworkError>;
}

/// The published ports of `records` that need the proxy, sorted.
pub(super) fn proxied(records: &[NetworkRecord]) -> Vec<ProxyPort> {
    let mut out = Vec::new();
    for ep in records.iter().flat_map(|r| r.endpoints.values()) {
        for p in &ep.ports {
            let listen = match (p.on_v6(), ep.ipv6) {
                (None, _) => continue,
                // DNAT serves every IPv6 address of the host but the loopback one.
                (Some(Listen::Every), Some(_)) => Ipv6Addr::LOCALHOST,
                (Some(Listen::Only(a)), Some(_)) if a.is_loopback() => a,
                (Some(Listen::Only(_)), Some(_)) => continue,
                // No IPv6 in the container: a port without a host address is IPv4 only, and
                // an IPv6 host address is relayed to the IPv4 one.
                (Some(Listen::Every), None) if p.host_ip.is_none() => continue,
                (Some(Listen::Every), None) => Ipv6Addr::UNSPECIFIED,
                (Some(Listen::Only(a)), None) => a,
            };
            let target = ep.ipv6.map_or(IpAddr::V4(ep.ipv4), IpAddr::V6);
            out.push(ProxyPort {
                protocol: p.protocol,
                listen: SocketAddr::new(listen.into(), p.host_port),
                target: SocketAddr::new(target, p.container_port),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::network::ports::PortMapping;
    use crate::network::record::Endpoint;

    fn endpoint(id: &str, ipv6: Option<&str>, ports: &[(Option<&str>, u16)]) -> Endpoint {
        Endpoint {
            container_id: id.into(),
            container_name: id.into(),
            aliases: vec![],
            ipv4: "10.1.0.2".parse().unwrap(),
            ipv6: ipv6.map(|a| a.parse().unwrap()),
            mac: "02:42:0a:01:00:02".into(),
            ifname: "eth0".into(),
            host_ifname: format!("bv{id}"),
            ports: ports
                .iter()
                .map(|(ip, port)| PortMapping {
                    protocol: Protocol::Tcp,
                    host_ip: ip.map(|a| a.parse().unwrap()),
                    host_port: *port,
                    container_port: 80,
                })
                .collect(),
            netns: None,
        }
    }

    fn shown(ep: Endpoint) -> Vec<String> {
        let rec = NetworkRecord {
            id: "a".repeat(64),
            name: "n".into(),
            driver: "bridge".into(),
            internal: false,
            labels: BTreeMap::new(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: "10.1.0.1".parse().unwrap(),
            ip_range: None,
            subnet_v6: None,
            gateway_v6: None,
            mtu: 1500,
            bridge: "bsn-aaaaaaaa".into(),
            created: 0,
            endpoints: BTreeMap::from([(ep.container_id.clone(), ep)]),
            overlay: None,
        };
        proxied(&[rec]).iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn only_what_dnat_cannot_serve() {
        let ports = [
            (None, 1),
            (Some("0.0.0.0"), 2),
            (Some("127.0.0.1"), 3),
            (Some("::"), 4),
            (Some("::1"), 5),
            (Some("2001:db8::1"), 6),
        ];
        assert_eq!(
            shown(endpoint("dual", Some("fd00::2"), &ports)),
            [
                "[::1]:1/tcp -> [fd00::2]:80",
                "[::1]:4/tcp -> [fd00::2]:80",
                "[::1]:5/tcp -> [fd00::2]:80",
            ]
        );
        assert_eq!(
            shown(endpoint("v4", None, &ports)),
            [
                "[::]:4/tcp -> 10.1.0.2:80",
                "[::1]:5/tcp -> 10.1.0.2:80",
                "[2001:db8::1]:6/tcp -> 10.1.0.2:80",
            ]
        );
    }
}
