//! The IPv6 side of the firewall, installed as the data root's `ip6` table while any network
//! has IPv6: isolation between networks and of internal networks (for every network, since
//! IPv6 forwarding is on then), masquerade out of non-internal IPv6 networks, and published
//! ports on IPv6 host addresses DNATed to the container's IPv6 address, hairpin included.
//!
//! A port published on the host's IPv6 loopback (`::1`) cannot be served by DNAT: the kernel
//! never routes a packet from `::1` out of the loopback device. Locally generated traffic to
//! `::1` therefore skips the published ports here, and the userland proxy
//! ([`crate::network::proxy`]) serves it.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

use super::{Action, Match, PORTS_CHAIN, Rule, forward_accepts, isolation, rule};
use crate::network::ports::Listen;
use crate::network::record::{Endpoint, NetworkRecord};

/// Whether any network has IPv6 (and so the `ip6` table and IPv6 forwarding are needed).
pub(crate) fn needed(networks: &[NetworkRecord]) -> bool {
    networks.iter().any(|n| n.subnet_v6.is_some())
}

/// The IPv6 DNAT rules of one endpoint: its ports published on IPv6 host addresses (every one,
/// or one other than `::1`), to its IPv6 address (none when it has no IPv6 address), tagged
/// with its host-side veth.
pub(crate) fn endpoint_rules(ep: &Endpoint) -> Vec<Rule> {
    use Match::*;
    let Some(ipv6) = ep.ipv6 else {
        return Vec::new();
    };
    ep.ports
        .iter()
        .filter_map(|p| {
            let mut m = match p.on_v6()? {
                Listen::Every => Vec::new(),
                Listen::Only(a) if a.is_loopback() => return None,
                Listen::Only(a) => vec![Daddr(IpNet::V6(Ipv6Net::from(a)))],
            };
            m.extend([L4Proto(p.protocol.number()), Dport(p.host_port)]);
            Some(Rule {
                tag: Some(ep.host_ifname.clone()),
                ..rule(
                    PORTS_CHAIN,
                    m,
                    Action::Dnat(IpAddr::V6(ipv6), p.container_port),
                )
            })
        })
        .collect()
}

/// The whole IPv6 ruleset (empty when no network has IPv6).
pub(crate) fn ruleset(networks: &[NetworkRecord]) -> Vec<Rule> {
    use Match::*;
    if !needed(networks) {
        return Vec::new();
    }
    let loopback = IpNet::V6(Ipv6Net::from(Ipv6Addr::LOCALHOST));
    let mut rules = vec![
        rule("prerouting", vec![DaddrLocal], Action::Jump(PORTS_CHAIN)),
        rule(
            "output",
            vec![DaddrNot(loopback), DaddrLocal],
            Action::Jump(PORTS_CHAIN),
        ),
    ];
    for net in networks {
        let b = &net.bridge;
        if let Some(subnet) = net.subnet_v6 {
            for ep in net.endpoints.values() {
                rules.extend(endpoint_rules(ep));
            }
            // Hairpin: a container reaching a published port of its own network.
            rules.push(rule(
                "postrouting",
                vec![Oif(b.clone()), Dnatted, Saddr(IpNet::V6(subnet))],
                Action::Masquerade,
            ));
            if !net.internal {
                rules.push(rule(
                    "postrouting",
                    vec![Saddr(IpNet::V6(subnet)), OifNot(b.clone())],
                    Action::Masquerade,
                ));
            }
        }
        rules.extend(isolation(net));
    }
    rules.extend(forward_accepts(networks));
    rules
}
