//! The IPv6 side of the firewall, installed as the data root's `ip6` table while any network
//! has IPv6: isolation between networks and of internal networks (for every network, since
//! IPv6 forwarding is on then), masquerade out of non-internal IPv6 networks, and published
//! ports bound to every host address DNATed to the container's IPv6 address, hairpin included.
//!
//! A port published from the host's IPv6 loopback (`::1`) cannot be served by DNAT: the kernel
//! never routes a packet from `::1` out of the loopback device.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{Action, Match, PORTS_CHAIN, Rule, forward_accepts, isolation, rule};
use crate::network::record::{Endpoint, NetworkRecord};

/// Whether any network has IPv6 (and so the `ip6` table and IPv6 forwarding are needed).
pub fn needed(networks: &[NetworkRecord]) -> bool {
    networks.iter().any(|n| n.subnet_v6.is_some())
}

/// The IPv6 DNAT rules of one endpoint: its ports published on every host address, to its
/// IPv6 address (none when it has no IPv6 address), tagged with its host-side veth.
pub fn endpoint_rules(ep: &Endpoint) -> Vec<Rule> {
    use Match::*;
    let Some(ipv6) = ep.ipv6 else {
        return Vec::new();
    };
    ep.ports
        .iter()
        .filter(|p| p.host_ip.is_none())
        .map(|p| Rule {
            tag: Some(ep.host_ifname.clone()),
            ..rule(
                PORTS_CHAIN,
                vec![L4Proto(p.protocol.number()), Dport(p.host_port)],
                Action::Dnat(IpAddr::V6(ipv6), p.container_port),
            )
        })
        .collect()
}

/// The whole IPv6 ruleset (empty when no network has IPv6).
pub fn ruleset(networks: &[NetworkRecord]) -> Vec<Rule> {
    use Match::*;
    if !needed(networks) {
        return Vec::new();
    }
    let mut rules = vec![
        rule("prerouting", vec![DaddrLocal], Action::Jump(PORTS_CHAIN)),
        rule("output", vec![DaddrLocal], Action::Jump(PORTS_CHAIN)),
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
