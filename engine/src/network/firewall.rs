//! The firewall ruleset, computed purely from the network records: masquerade for outbound
//! traffic, published ports (DNAT from outside, from the host itself, and hairpin), isolation
//! between networks and of internal networks. [`super::nft`] installs the IPv4 rules as the
//! data root's `ip` table and, when a network has IPv6, the [`v6`] rules as its `ip6` table.
//!
//! The rules of a published port carry a tag naming their endpoint (its host-side veth), so an
//! attach appends them and a detach deletes them alone; the whole table is rebuilt only when
//! networks come or go and when the agent starts.

pub(super) mod v6;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::ports::Listen;
use super::record::{Endpoint, NetworkRecord};

/// A condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Match {
    /// Input interface name (a trailing `*` matches a prefix).
    Iif(String),
    /// Output interface name (a trailing `*` matches a prefix).
    Oif(String),
    /// Output interface is not this name.
    OifNot(String),
    /// Input interface is not this name.
    IifNot(String),
    /// Source address in the subnet (of the table's family).
    Saddr(IpNet),
    /// Destination address in the subnet (of the table's family).
    Daddr(IpNet),
    /// Destination address outside the subnet (of the table's family).
    DaddrNot(IpNet),
    /// The destination is an address of this host.
    DaddrLocal,
    /// Layer 4 protocol number.
    L4Proto(u8),
    /// Transport destination port.
    Dport(u16),
    /// Connection tracking: established or related.
    Established,
    /// Connection tracking: the connection's destination was translated.
    Dnatted,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Accept.
    Accept,
    /// Drop.
    Drop,
    /// Source NAT to the output interface's address.
    Masquerade,
    /// Destination NAT (to an address of the table's family).
    Dnat(IpAddr, u16),
    /// Jump to a chain of the table.
    Jump(&'static str),
}

/// One rule of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    /// The chain.
    pub chain: &'static str,
    /// All conditions (and).
    pub matches: Vec<Match>,
    /// The verdict or statement.
    pub action: Action,
    /// The endpoint the rule belongs to (its host-side veth), for rules that come and go with
    /// one endpoint; `None` for rules of the networks.
    pub tag: Option<String>,
}

/// A chain's hook type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    /// Before routing (nat, dstnat priority).
    Prerouting,
    /// Locally generated (nat, dstnat priority).
    Output,
    /// After routing (nat, srcnat priority).
    Postrouting,
    /// Forwarded (filter priority).
    Forward,
}

/// The chains of the table: base chains with their hooks, then regular chains.
pub(super) const CHAINS: &[(&str, Option<Hook>)] = &[
    ("prerouting", Some(Hook::Prerouting)),
    ("output", Some(Hook::Output)),
    ("postrouting", Some(Hook::Postrouting)),
    ("forward", Some(Hook::Forward)),
    ("ports", None),
];

fn rule(chain: &'static str, matches: Vec<Match>, action: Action) -> Rule {
    Rule {
        chain,
        matches,
        action,
        tag: None,
    }
}

/// The chain published ports are in (jumped to for traffic to a local address).
pub(super) const PORTS_CHAIN: &str = "ports";

/// The IPv4 DNAT rules of one endpoint's published ports (those on IPv4 addresses), tagged
/// with its host-side veth.
pub(super) fn endpoint_rules(ep: &Endpoint) -> Vec<Rule> {
    use Match::*;
    ep.ports
        .iter()
        .filter_map(|p| Some((p, p.on_v4()?)))
        .map(|(p, listen)| {
            let mut m = Vec::new();
            if let Listen::Only(ip) = listen {
                m.push(Daddr(IpNet::from(Ipv4Net::from(ip))));
            }
            m.extend([L4Proto(p.protocol.number()), Dport(p.host_port)]);
            Rule {
                tag: Some(ep.host_ifname.clone()),
                ..rule(
                    PORTS_CHAIN,
                    m,
                    Action::Dnat(IpAddr::V4(ep.ipv4), p.container_port),
                )
            }
        })
        .collect()
}

/// The whole ruleset for these networks (empty when there are none).
pub(super) fn ruleset(networks: &[NetworkRecord]) -> Vec<Rule> {
    use Match::*;
    if networks.is_empty() {
        return Vec::new();
    }
    let loopback = Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("valid prefix length");
    let mut rules = vec![
        rule("prerouting", vec![DaddrLocal], Action::Jump("ports")),
        rule("output", vec![DaddrLocal], Action::Jump("ports")),
    ];
    for net in networks {
        let b = &net.bridge;
        for ep in net.endpoints.values() {
            rules.extend(endpoint_rules(ep));
        }
        // Published ports reached from the host's loopback, and hairpin.
        rules.push(rule(
            "postrouting",
            vec![Oif(b.clone()), Saddr(loopback.into())],
            Action::Masquerade,
        ));
        rules.push(rule(
            "postrouting",
            vec![Oif(b.clone()), Dnatted, Saddr(net.subnet.into())],
            Action::Masquerade,
        ));
        if !net.internal {
            rules.push(rule(
                "postrouting",
                vec![Saddr(net.subnet.into()), OifNot(b.clone())],
                Action::Masquerade,
            ));
        }
        rules.extend(isolation(net));
    }
    rules.extend(forward_accepts(networks));
    rules
}

/// Isolation of a network from the other networks, and of an internal network from everything
/// (interface rules, the same in both families).
fn isolation(net: &NetworkRecord) -> Vec<Rule> {
    use Match::*;
    let b = &net.bridge;
    let all_bridges = format!("{}*", super::BRIDGE_PREFIX);
    let mut rules = vec![rule(
        "forward",
        vec![Iif(b.clone()), Oif(all_bridges), OifNot(b.clone())],
        Action::Drop,
    )];
    if net.internal {
        rules.push(rule(
            "forward",
            vec![Iif(b.clone()), OifNot(b.clone())],
            Action::Drop,
        ));
        rules.push(rule(
            "forward",
            vec![Oif(b.clone()), IifNot(b.clone())],
            Action::Drop,
        ));
    }
    rules
}

/// The accept rules for the networks' forwarded traffic (also what a foreign `FORWARD` chain with
/// a drop policy needs to let it pass).
pub(super) fn forward_accepts(networks: &[NetworkRecord]) -> Vec<Rule> {
    use Match::*;
    let mut rules = Vec::new();
    for net in networks {
        let b = &net.bridge;
        rules.push(rule("forward", vec![Iif(b.clone())], Action::Accept));
        rules.push(rule(
            "forward",
            vec![Oif(b.clone()), Established],
            Action::Accept,
        ));
        rules.push(rule(
            "forward",
            vec![Oif(b.clone()), Dnatted],
            Action::Accept,
        ));
    }
    rules
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.chain)?;
        for m in &self.matches {
            match m {
                Match::Iif(n) => write!(f, " iifname {n}")?,
                Match::Oif(n) => write!(f, " oifname {n}")?,
                Match::IifNot(n) => write!(f, " iifname != {n}")?,
                Match::OifNot(n) => write!(f, " oifname != {n}")?,
                Match::Saddr(IpNet::V4(n)) => write!(f, " ip saddr {n}")?,
                Match::Daddr(IpNet::V4(n)) => write!(f, " ip daddr {n}")?,
                Match::DaddrNot(IpNet::V4(n)) => write!(f, " ip daddr != {n}")?,
                Match::DaddrNot(IpNet::V6(n)) => write!(f, " ip6 daddr != {n}")?,
                Match::Saddr(IpNet::V6(n)) => write!(f, " ip6 saddr {n}")?,
                Match::Daddr(IpNet::V6(n)) => write!(f, " ip6 daddr {n}")?,
                Match::DaddrLocal => write!(f, " fib daddr type local")?,
                Match::L4Proto(p) => write!(f, " l4proto {p}")?,
                Match::Dport(p) => write!(f, " dport {p}")?,
                Match::Established => write!(f, " ct state established,related")?,
                Match::Dnatted => write!(f, " ct status dnat")?,
            }
        }
        match &self.action {
            Action::Accept => write!(f, " accept"),
            Action::Drop => write!(f, " drop"),
            Action::Masquerade => write!(f, " masquerade"),
            Action::Dnat(IpAddr::V4(ip), port) => write!(f, " dnat to {ip}:{port}"),
            Action::Dnat(IpAddr::V6(ip), port) => write!(f, " dnat to [{ip}]:{port}"),
            Action::Jump(c) => write!(f, " jump {c}"),
        }
    }
}

#[cfg(test)]
mod tests;
