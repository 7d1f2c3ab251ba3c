//! Golden tests of the rulesets of both families.

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
        overlay: None,
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
            netns: None,
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

fn published(ep_id: &str, ipv4: &str, ipv6: Option<&str>, ports: Vec<PortMapping>) -> Endpoint {
    Endpoint {
        container_id: ep_id.into(),
        container_name: ep_id.into(),
        aliases: vec![],
        ipv4: ipv4.parse().unwrap(),
        ipv6: ipv6.map(|a| a.parse().unwrap()),
        mac: "02:42:0a:01:00:02".into(),
        ifname: "eth0".into(),
        host_ifname: format!("bv{ep_id}"),
        ports,
        netns: None,
    }
}

fn tcp(host_ip: Option<&str>, host_port: u16, container_port: u16) -> PortMapping {
    PortMapping {
        protocol: Protocol::Tcp,
        host_ip: host_ip.map(|a| a.parse().unwrap()),
        host_port,
        container_port,
    }
}

#[test]
fn endpoint_rules_are_tagged_with_their_veth() {
    let ep = published(
        "000000000001",
        "10.1.0.2",
        Some("fd00:1::2"),
        vec![tcp(None, 8080, 80), tcp(Some("127.0.0.1"), 9090, 90)],
    );
    let v4: Vec<(String, Option<String>)> = endpoint_rules(&ep)
        .iter()
        .map(|r| (r.to_string(), r.tag.clone()))
        .collect();
    let tag = Some("bv000000000001".to_string());
    assert_eq!(
        v4,
        [
            (
                "ports: l4proto 6 dport 8080 dnat to 10.1.0.2:80".to_string(),
                tag.clone()
            ),
            (
                "ports: ip daddr 127.0.0.1/32 l4proto 6 dport 9090 dnat to 10.1.0.2:90".to_string(),
                tag.clone()
            ),
        ]
    );
    // Only ports on every address reach the IPv6 address; none without one.
    let v6: Vec<(String, Option<String>)> = v6::endpoint_rules(&ep)
        .iter()
        .map(|r| (r.to_string(), r.tag.clone()))
        .collect();
    assert_eq!(
        v6,
        [(
            "ports: l4proto 6 dport 8080 dnat to [fd00:1::2]:80".to_string(),
            tag
        )]
    );
    let v4_only = published("000000000002", "10.1.0.3", None, vec![tcp(None, 1, 2)]);
    assert!(v6::endpoint_rules(&v4_only).is_empty());
}

#[test]
fn each_family_gets_the_ports_on_its_addresses() {
    let ep = published(
        "000000000003",
        "10.1.0.2",
        Some("fd00:1::2"),
        vec![
            tcp(Some("0.0.0.0"), 1, 10),
            tcp(Some("::"), 1, 10),
            tcp(Some("::1"), 2, 20),
            tcp(Some("2001:db8::1"), 3, 30),
            tcp(Some("192.0.2.1"), 4, 40),
        ],
    );
    let shown = |rules: Vec<Rule>| rules.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shown(endpoint_rules(&ep)),
        [
            "ports: l4proto 6 dport 1 dnat to 10.1.0.2:10",
            "ports: ip daddr 192.0.2.1/32 l4proto 6 dport 4 dnat to 10.1.0.2:40",
        ]
    );
    // `::1` is left to the proxy.
    assert_eq!(
        shown(v6::endpoint_rules(&ep)),
        [
            "ports: l4proto 6 dport 1 dnat to [fd00:1::2]:10",
            "ports: ip6 daddr 2001:db8::1/128 l4proto 6 dport 3 dnat to [fd00:1::2]:30",
        ]
    );
}

#[test]
fn golden_ruleset_v6() {
    assert!(v6::ruleset(&[network("bsn-aaaaaaaa", "10.1.0.0/24", false)]).is_empty());
    let mut web = network("bsn-aaaaaaaa", "10.1.0.0/24", false);
    web.subnet_v6 = Some("fd00:1::/64".parse().unwrap());
    web.gateway_v6 = Some("fd00:1::1".parse().unwrap());
    web.endpoints.insert(
        "c1".into(),
        published(
            "000000000001",
            "10.1.0.2",
            Some("fd00:1::2"),
            vec![tcp(None, 8080, 80)],
        ),
    );
    let mut private = network("bsn-bbbbbbbb", "10.2.0.0/24", true);
    private.subnet_v6 = Some("fd00:2::/64".parse().unwrap());
    let plain = network("bsn-cccccccc", "10.3.0.0/24", false);
    let got: Vec<String> = v6::ruleset(&[web, private, plain])
        .iter()
        .map(|r| r.to_string())
        .collect();
    let want = [
        "prerouting: fib daddr type local jump ports",
        "output: ip6 daddr != ::1/128 fib daddr type local jump ports",
        "ports: l4proto 6 dport 8080 dnat to [fd00:1::2]:80",
        "postrouting: oifname bsn-aaaaaaaa ct status dnat ip6 saddr fd00:1::/64 masquerade",
        "postrouting: ip6 saddr fd00:1::/64 oifname != bsn-aaaaaaaa masquerade",
        "forward: iifname bsn-aaaaaaaa oifname bsn-* oifname != bsn-aaaaaaaa drop",
        "postrouting: oifname bsn-bbbbbbbb ct status dnat ip6 saddr fd00:2::/64 masquerade",
        "forward: iifname bsn-bbbbbbbb oifname bsn-* oifname != bsn-bbbbbbbb drop",
        "forward: iifname bsn-bbbbbbbb oifname != bsn-bbbbbbbb drop",
        "forward: oifname bsn-bbbbbbbb iifname != bsn-bbbbbbbb drop",
        "forward: iifname bsn-cccccccc oifname bsn-* oifname != bsn-cccccccc drop",
        "forward: iifname bsn-aaaaaaaa accept",
        "forward: oifname bsn-aaaaaaaa ct state established,related accept",
        "forward: oifname bsn-aaaaaaaa ct status dnat accept",
        "forward: iifname bsn-bbbbbbbb accept",
        "forward: oifname bsn-bbbbbbbb ct state established,related accept",
        "forward: oifname bsn-bbbbbbbb ct status dnat accept",
        "forward: iifname bsn-cccccccc accept",
        "forward: oifname bsn-cccccccc ct state established,related accept",
        "forward: oifname bsn-cccccccc ct status dnat accept",
    ];
    assert_eq!(got, want);
}
