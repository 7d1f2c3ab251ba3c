//! The data an embedded DNS server answers from: per network, every name (container name,
//! aliases, short id) with the addresses of the containers holding it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::record::{Endpoint, NetworkRecord};

/// Lower-case name → addresses, for one network.
pub(crate) type NameTable = BTreeMap<String, Vec<Ipv4Addr>>;

/// The names of one network. A name held by several containers (a scaled service's alias)
/// maps to all their addresses.
pub fn names(network: &NetworkRecord) -> NameTable {
    let mut table = NameTable::new();
    for ep in network.endpoints.values() {
        let short = &ep.container_id[..12.min(ep.container_id.len())];
        let names = std::iter::once(ep.container_name.as_str())
            .chain(ep.aliases.iter().map(String::as_str))
            .chain(std::iter::once(short))
            .filter(|n| !n.is_empty());
        for name in names {
            let addrs = table.entry(name.to_ascii_lowercase()).or_default();
            if !addrs.contains(&ep.ipv4) {
                addrs.push(ep.ipv4);
            }
        }
    }
    for peer in remote_peers(network) {
        for name in &peer.names {
            let addrs = table.entry(name.to_ascii_lowercase()).or_default();
            if !addrs.contains(&peer.ip) {
                addrs.push(peer.ip);
            }
        }
    }
    // A virtual address's names answer it alone.
    for service in network.overlay.iter().flat_map(|o| &o.services) {
        for name in &service.names {
            table.insert(name.to_ascii_lowercase(), vec![service.vip]);
        }
    }
    table
}

/// The virtual addresses of an overlay's services named `query` (none on other networks).
fn virtual_addresses(network: &NetworkRecord, query: &str) -> Vec<Ipv4Addr> {
    let (Some(overlay), Some(name)) = (network.overlay.as_ref(), asked(network, query)) else {
        return Vec::new();
    };
    overlay
        .services
        .iter()
        .filter(|s| s.names.iter().any(|n| n.eq_ignore_ascii_case(&name)))
        .map(|s| s.vip)
        .collect()
}

/// The remote endpoints of an overlay (none on other networks).
fn remote_peers(network: &NetworkRecord) -> &[super::overlay::Peer] {
    network.overlay.as_ref().map_or(&[], |o| o.peers.as_slice())
}

/// The lower-case name `query` asks for on `network` (`name` or `name.<network>`, trailing
/// dot allowed); `None` when empty.
fn asked(network: &NetworkRecord, query: &str) -> Option<String> {
    let q = query.trim_end_matches('.').to_ascii_lowercase();
    let suffix = format!(".{}", network.name.to_ascii_lowercase());
    let name = q.strip_suffix(&suffix).unwrap_or(&q).to_owned();
    (!name.is_empty()).then_some(name)
}

/// The endpoints holding `query` (`name` or `name.<network>`, any case, trailing dot allowed)
/// on `network`, in endpoint order.
pub(crate) fn holders<'a>(network: &'a NetworkRecord, query: &str) -> Vec<&'a Endpoint> {
    let q = query.trim_end_matches('.').to_ascii_lowercase();
    let suffix = format!(".{}", network.name.to_ascii_lowercase());
    let name = q.strip_suffix(&suffix).unwrap_or(&q);
    if name.is_empty() {
        return Vec::new();
    }
    network
        .endpoints
        .values()
        .filter(|ep| {
            let short = &ep.container_id[..12.min(ep.container_id.len())];
            ep.container_name.eq_ignore_ascii_case(name)
                || short.eq_ignore_ascii_case(name)
                || ep.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
        .collect()
}

/// Answers `query` (`name` or `name.<network>`, trailing dot allowed) for a container on
/// `network`; empty when the name is unknown there.
/// On an overlay, the names of its remote endpoints (tasks on other nodes) answer too, with
/// their addresses after the local ones; a name of a service's virtual address answers that
/// address alone (a task made before its service had one may still carry the name).
pub fn lookup(network: &NetworkRecord, query: &str) -> Vec<Ipv4Addr> {
    let vips = virtual_addresses(network, query);
    if !vips.is_empty() {
        return vips;
    }
    let mut out: Vec<Ipv4Addr> = Vec::new();
    for ep in holders(network, query) {
        if !out.contains(&ep.ipv4) {
            out.push(ep.ipv4);
        }
    }
    if let Some(name) = asked(network, query) {
        for peer in remote_peers(network) {
            if peer.names.iter().any(|n| n.eq_ignore_ascii_case(&name)) && !out.contains(&peer.ip) {
                out.push(peer.ip);
            }
        }
    }
    out
}

/// The SRV answers for `query` on an overlay: `_<port>._<protocol>.<service>` (or with
/// `.<network>` after it; any case, trailing dot allowed), for a service with a virtual
/// address there and a port of that name and protocol: `(service, port)` — the service's name
/// as asked (it answers the virtual address) and the port. Empty otherwise (and on networks
/// that are not overlays).
pub fn srv(network: &NetworkRecord, query: &str) -> Vec<(String, u16)> {
    let (Some(overlay), Some(name)) = (network.overlay.as_ref(), asked(network, query)) else {
        return Vec::new();
    };
    let mut labels = name.splitn(3, '.');
    let (Some(port), Some(protocol), Some(service)) = (
        labels.next().and_then(|l| l.strip_prefix('_')),
        labels.next().and_then(|l| l.strip_prefix('_')),
        labels.next(),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in &overlay.services {
        if !s.names.iter().any(|n| n.eq_ignore_ascii_case(service)) {
            continue;
        }
        for p in &s.ports {
            let answer = (service.to_owned(), p.port);
            if p.name.eq_ignore_ascii_case(port)
                && p.protocol.eq_ignore_ascii_case(protocol)
                && !out.contains(&answer)
            {
                out.push(answer);
            }
        }
    }
    out
}

/// The IPv6 addresses for `query` (see [`lookup`]); empty on networks without IPv6.
pub fn lookup_v6(network: &NetworkRecord, query: &str) -> Vec<Ipv6Addr> {
    let mut out: Vec<Ipv6Addr> = Vec::new();
    for ip in holders(network, query).into_iter().filter_map(|ep| ep.ipv6) {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(id: &str, name: &str, aliases: &[&str], last: u8) -> Endpoint {
        Endpoint {
            container_id: id.into(),
            container_name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            ipv4: Ipv4Addr::new(10, 0, 0, last),
            ipv6: None,
            mac: String::new(),
            ifname: "eth0".into(),
            host_ifname: String::new(),
            ports: vec![],
            netns: None,
        }
    }

    #[test]
    fn answers_names_aliases_and_every_replica() {
        let mut net = NetworkRecord {
            id: "0".repeat(64),
            name: "app_default".into(),
            driver: "bridge".into(),
            internal: false,
            labels: Default::default(),
            subnet: "10.0.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            ip_range: None,
            subnet_v6: None,
            gateway_v6: None,
            mtu: 1500,
            bridge: "bsn-00000000".into(),
            created: 0,
            endpoints: Default::default(),
            overlay: None,
        };
        for e in [
            ep("aaaaaaaaaaaa1111", "app-web-1", &["web"], 2),
            ep("bbbbbbbbbbbb2222", "app-web-2", &["web"], 3),
            ep("cccccccccccc3333", "app-db-1", &["db", "postgres"], 4),
        ] {
            net.endpoints.insert(e.container_id.clone(), e);
        }
        let ip = |n| Ipv4Addr::new(10, 0, 0, n);
        let cases: &[(&str, &[Ipv4Addr])] = &[
            ("web", &[ip(2), ip(3)]),
            ("WEB.app_default.", &[ip(2), ip(3)]),
            ("app-web-2", &[ip(3)]),
            ("postgres", &[ip(4)]),
            ("cccccccccccc", &[ip(4)]),
            ("db.other", &[]),
            ("nothing", &[]),
            (".app_default", &[]),
        ];
        for (q, want) in cases {
            assert_eq!(lookup(&net, q), *want, "{q}");
        }
        assert!(lookup_v6(&net, "web").is_empty());
        let v6: Ipv6Addr = "fd00::3".parse().unwrap();
        net.endpoints.get_mut("bbbbbbbbbbbb2222").unwrap().ipv6 = Some(v6);
        assert_eq!(lookup_v6(&net, "web"), vec![v6]);

        // On an overlay, the remote endpoints' names answer too, after the local ones.
        let remote = |last: u8, names: &[&str]| crate::network::overlay::Peer {
            ip: ip(last),
            mac: format!("02:42:0a:00:00:{last:02x}"),
            node: Ipv4Addr::new(192, 0, 2, 9),
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        net.overlay = Some(crate::network::overlay::OverlayConfig {
            vni: 4096,
            port: 4789,
            underlay: Ipv4Addr::new(192, 0, 2, 1),
            vxlan: "bsn-00000000-vx".into(),
            attachable: false,
            peers: vec![remote(7, &["web", "tasks.web"]), remote(8, &["api"])],
            services: Vec::new(),
            bridge_mac: None,
            mesh: Vec::new(),
            encryption: None,
        });
        assert_eq!(lookup(&net, "web"), [ip(2), ip(3), ip(7)]);
        assert_eq!(lookup(&net, "TASKS.web.app_default"), [ip(7)]);
        assert_eq!(lookup(&net, "api"), [ip(8)]);
        assert_eq!(names(&net)["tasks.web"], [ip(7)]);

        // A service's virtual address owns its names: `web` answers it alone, `tasks.web`
        // still answers the tasks.
        if let Some(o) = net.overlay.as_mut() {
            o.services.push(crate::network::VipService {
                vip: ip(200),
                names: vec!["web".into(), "www".into()],
                backends: vec![ip(2), ip(7)],
                ports: vec![crate::network::VipPort {
                    name: "http".into(),
                    protocol: "tcp".into(),
                    port: 8080,
                }],
            });
        }
        // A named port answers its SRV name, by the service's names, with or without the
        // network; nothing else does.
        assert_eq!(srv(&net, "_http._tcp.web"), [("web".to_owned(), 8080)]);
        assert_eq!(
            srv(&net, "_HTTP._TCP.www.app_default."),
            [("www".to_owned(), 8080)]
        );
        for miss in [
            "_http._udp.web",
            "_https._tcp.web",
            "_http._tcp.db",
            "web",
            "_http.web",
        ] {
            assert!(srv(&net, miss).is_empty(), "{miss}");
        }
        assert_eq!(lookup(&net, "WEB.app_default"), [ip(200)]);
        assert_eq!(lookup(&net, "www"), [ip(200)]);
        assert_eq!(lookup(&net, "tasks.web"), [ip(7)]);
        assert_eq!(names(&net)["web"], [ip(200)]);
    }
}
