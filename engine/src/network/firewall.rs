//! The firewall ruleset, computed purely from the network records: masquerade for outbound
//! traffic, published ports (DNAT from outside, from the host itself, and hairpin), isolation
//! between networks and of internal networks. [`super::nft`] installs it as the `bosun` table.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::record::NetworkRecord;

/// A condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Input interface name (a trailing `*` matches a prefix).
    Iif(String),
    /// Output interface name (a trailing `*` matches a prefix).
    Oif(String),
    /// Output interface is not this name.
    OifNot(String),
    /// Input interface is not this name.
    IifNot(String),
    /// Source address in the subnet.
    Saddr(Ipv4Net),
    /// Destination address in the subnet.
    Daddr(Ipv4Net),
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
pub enum Action {
    /// Accept.
    Accept,
    /// Drop.
    Drop,
    /// Source NAT to the output interface's address.
    Masquerade,
    /// Destination NAT.
    Dnat(Ipv4Addr, u16),
    /// Jump to a chain of the table.
    Jump(&'static str),
}

/// One rule of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The chain.
    pub chain: &'static str,
    /// All conditions (and).
    pub matches: Vec<Match>,
    /// The verdict or statement.
    pub action: Action,
}

/// A chain's hook type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
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
pub const CHAINS: &[(&str, Option<Hook>)] = &[
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
    }
}

/// The whole ruleset for these networks (empty when there are none).
pub fn ruleset(networks: &[NetworkRecord]) -> Vec<Rule> {
    use Match::*;
    if networks.is_empty() {
        return Vec::new();
    }
    let all_bridges = format!("{}*", super::BRIDGE_PREFIX);
    let loopback = Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("valid prefix length");
    let mut rules = vec![
        rule("prerouting", vec![DaddrLocal], Action::Jump("ports")),
        rule("output", vec![DaddrLocal], Action::Jump("ports")),
    ];
    for net in networks {
        let b = &net.bridge;
        for ep in net.endpoints.values() {
            for p in &ep.ports {
                let mut m = Vec::new();
                if let Some(ip) = p.host_ip {
                    m.push(Daddr(Ipv4Net::from(ip)));
                }
                m.extend([L4Proto(p.protocol.number()), Dport(p.host_port)]);
                rules.push(rule("ports", m, Action::Dnat(ep.ipv4, p.container_port)));
            }
        }
        // Published ports reached from the host's loopback, and hairpin.
        rules.push(rule(
            "postrouting",
            vec![Oif(b.clone()), Saddr(loopback)],
            Action::Masquerade,
        ));
        rules.push(rule(
            "postrouting",
            vec![Oif(b.clone()), Dnatted, Saddr(net.subnet)],
            Action::Masquerade,
        ));
        if !net.internal {
            rules.push(rule(
                "postrouting",
                vec![Saddr(net.subnet), OifNot(b.clone())],
                Action::Masquerade,
            ));
        }
        // Isolation from the other networks, and of internal networks from everything.
        rules.push(rule(
            "forward",
            vec![Iif(b.clone()), Oif(all_bridges.clone()), OifNot(b.clone())],
            Action::Drop,
        ));
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
    }
    rules.extend(forward_accepts(networks));
    rules
}

/// The accept rules for the networks' forwarded traffic (also what a foreign `FORWARD` chain with
/// a drop policy needs to let it pass).
pub fn forward_accepts(networks: &[NetworkRecord]) -> Vec<Rule> {
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
                Match::Saddr(n) => write!(f, " ip saddr {n}")?,
                Match::Daddr(n) => write!(f, " ip daddr {n}")?,
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
            Action::Dnat(ip, port) => write!(f, " dnat to {ip}:{port}"),
            Action::Jump(c) => write!(f, " jump {c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::network::ports::{PortMapping, Protocol};
    use crate::network::record::Endpoint;

    fn network(bridge: &str, subnet: &str, internal: bool) -> NetworkRecord {
        let subnet: Ipv4Net = subnet.parse().unwrap();
        NetworkRecord {
            id: format!("{}{}", &bridge[4..], "0".repeat(56)),
            name: bridge.to_string(),
            driver: "bridge".into(),
            internal,
            labels: BTreeMap::new(),
            subnet,
            gateway: subnet.hosts().next().unwrap(),
            ip_range: None,
            subnet_v6: None,
            gateway_v6: None,
            mtu: 1500,
            bridge: bridge.to_string(),
            created: 0,
            endpoints: BTreeMap::new(),
        }
    }

    #[test]
    fn no_networks_no_rules() {
        assert!(ruleset(&[]).is_empty());
    }

    #[test]
    fn golden_ruleset() {
        let mut web = network("bsn-aaaaaaaa", "10.1.0.0/24", false);
        web.endpoints.insert(
            "c1".into(),
            Endpoint {
                container_id: "c1".into(),
                container_name: "web".into(),
                aliases: vec![],
                ipv4: "10.1.0.2".parse().unwrap(),
                ipv6: None,
                mac: "02:42:0a:01:00:02".into(),
                ifname: "eth0".into(),
                host_ifname: "bv000000000001".into(),
                ports: vec![
                    PortMapping {
                        protocol: Protocol::Tcp,
                        host_ip: None,
                        host_port: 8080,
                        container_port: 80,
                    },
                    PortMapping {
                        protocol: Protocol::Udp,
                        host_ip: Some("127.0.0.1".parse().unwrap()),
                        host_port: 5353,
                        container_port: 53,
                    },
                ],
            },
        );
        let db = network("bsn-bbbbbbbb", "10.2.0.0/24", true);
        let got: Vec<String> = ruleset(&[web, db]).iter().map(|r| r.to_string()).collect();
        let want = [
            "prerouting: fib daddr type local jump ports",
            "output: fib daddr type local jump ports",
            "ports: l4proto 6 dport 8080 dnat to 10.1.0.2:80",
            "ports: ip daddr 127.0.0.1/32 l4proto 17 dport 5353 dnat to 10.1.0.2:53",
            "postrouting: oifname bsn-aaaaaaaa ip saddr 127.0.0.0/8 masquerade",
            "postrouting: oifname bsn-aaaaaaaa ct status dnat ip saddr 10.1.0.0/24 masquerade",
            "postrouting: ip saddr 10.1.0.0/24 oifname != bsn-aaaaaaaa masquerade",
            "forward: iifname bsn-aaaaaaaa oifname bsn-* oifname != bsn-aaaaaaaa drop",
            "postrouting: oifname bsn-bbbbbbbb ip saddr 127.0.0.0/8 masquerade",
            "postrouting: oifname bsn-bbbbbbbb ct status dnat ip saddr 10.2.0.0/24 masquerade",
            "forward: iifname bsn-bbbbbbbb oifname bsn-* oifname != bsn-bbbbbbbb drop",
            "forward: iifname bsn-bbbbbbbb oifname != bsn-bbbbbbbb drop",
            "forward: oifname bsn-bbbbbbbb iifname != bsn-bbbbbbbb drop",
            "forward: iifname bsn-aaaaaaaa accept",
            "forward: oifname bsn-aaaaaaaa ct state established,related accept",
            "forward: oifname bsn-aaaaaaaa ct status dnat accept",
            "forward: iifname bsn-bbbbbbbb accept",
            "forward: oifname bsn-bbbbbbbb ct state established,related accept",
            "forward: oifname bsn-bbbbbbbb ct status dnat accept",
        ];
        assert_eq!(got, want);
    }
}
