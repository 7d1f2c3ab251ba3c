//! The routing mesh of one node, pure part: the ports of services published in ingress mode,
//! each with the addresses of the service's running tasks on the ingress overlay (its
//! backends), the checks on a set given by the caller, the difference between two sets as
//! the per-port changes the kernel needs, and the names of the nftables objects that carry
//! them.
//!
//! The rules live in the host's namespace, in a table of their own next to the data root's
//! ([`table_name`]), so that replacing the firewall table never drops them: a `nat
//! prerouting` and a `nat output` chain send traffic to a local address through the verdict
//! map of its protocol ([`ports_map`]: destination port → `goto` the port's chain); the port's
//! chain ([`chain_name`]) draws `numgen random mod N` and DNATs to that entry of its backend
//! map ([`backends_map`], index → address) at the target port, as the services' virtual
//! addresses do ([`super::vip`]); a `nat postrouting` chain masquerades what was DNATed out
//! of the ingress bridge, so replies come back through this node (whose address on the
//! ingress overlay is the bridge's).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::record::NetworkRecord;

/// The transport protocol of a published port (the mesh carries TCP and UDP).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MeshProtocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl MeshProtocol {
    /// The IP protocol number.
    pub(crate) fn number(self) -> u8 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
        }
    }
}

impl fmt::Display for MeshProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// One port published in ingress mode, as this node serves it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MeshPort {
    /// Its protocol.
    pub protocol: MeshProtocol,
    /// The port on every node.
    pub published: u16,
    /// The port of the service's tasks.
    pub target: u16,
    /// The tasks' addresses on the ingress overlay, sorted: none, and the port answers
    /// nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<Ipv4Addr>,
}

/// What changes in the kernel between two sets of ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MeshChanges {
    /// Ports gone: their map element, chain and backend map are deleted.
    pub(crate) removed: Vec<(MeshProtocol, u16)>,
    /// New ports: chain, backend map and map element are added.
    pub(crate) added: Vec<MeshPort>,
    /// Ports whose backends or target changed: their rule and backend map are replaced.
    pub(crate) changed: Vec<MeshPort>,
}

impl MeshChanges {
    /// Nothing for the kernel.
    pub(crate) fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.changed.is_empty()
    }
}

/// The nftables table (family `ip`, host namespace) of the mesh of the data root whose
/// firewall table is `firewall_table`.
pub(crate) fn table_name(firewall_table: &str) -> String {
    format!("{firewall_table}-ingress")
}

/// The verdict map of the published ports of `protocol`: port → the port's chain.
pub(crate) fn ports_map(protocol: MeshProtocol) -> String {
    format!("{protocol}-ports")
}

/// The chain of a published port.
pub(crate) fn chain_name(protocol: MeshProtocol, published: u16) -> String {
    format!("pub-{protocol}-{published}")
}

/// The backend map (index → address) of a published port.
pub(crate) fn backends_map(protocol: MeshProtocol, published: u16) -> String {
    format!("be-{protocol}-{published}")
}

/// Checks `ports` against overlay `rec` (the ingress network here: ports not zero, each
/// protocol and published port once, backends host addresses of its subnet) and returns them
/// normalised: backends sorted without duplicates, ports sorted.
pub(crate) fn check(rec: &NetworkRecord, ports: &[MeshPort]) -> Result<Vec<MeshPort>, String> {
    if rec.overlay.is_none() {
        return Err(format!(
            "driver {} carries no routing mesh: only overlay networks do",
            rec.driver
        ));
    }
    let host = |ip: &Ipv4Addr| {
        rec.subnet.contains(ip) && *ip != rec.subnet.network() && *ip != rec.subnet.broadcast()
    };
    let mut out: BTreeMap<(MeshProtocol, u16), MeshPort> = BTreeMap::new();
    for p in ports {
        if p.published == 0 || p.target == 0 {
            return Err(format!(
                "published port {}/{}: port 0 is not a port",
                p.published, p.protocol
            ));
        }
        if let Some(b) = p.backends.iter().find(|b| !host(b)) {
            return Err(format!(
                "published port {}/{}: backend {b} is not a host address of subnet {}",
                p.published, p.protocol, rec.subnet
            ));
        }
        let backends: BTreeSet<Ipv4Addr> = p.backends.iter().copied().collect();
        let port = MeshPort {
            backends: backends.into_iter().collect(),
            ..p.clone()
        };
        if out.insert((p.protocol, p.published), port).is_some() {
            return Err(format!(
                "published port {}/{} given twice",
                p.published, p.protocol
            ));
        }
    }
    Ok(out.into_values().collect())
}

/// What takes the kernel from `old` to `new` (both as [`check`] returns them).
pub(crate) fn diff(old: &[MeshPort], new: &[MeshPort]) -> MeshChanges {
    let key = |p: &MeshPort| (p.protocol, p.published);
    let before: BTreeMap<_, &MeshPort> = old.iter().map(|p| (key(p), p)).collect();
    let after: BTreeMap<_, &MeshPort> = new.iter().map(|p| (key(p), p)).collect();
    let mut changes = MeshChanges::default();
    for k in before.keys() {
        if !after.contains_key(k) {
            changes.removed.push(*k);
        }
    }
    for (k, p) in &after {
        match before.get(k) {
            None => changes.added.push((*p).clone()),
            Some(b) if b != p => changes.changed.push((*p).clone()),
            Some(_) => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 32, 0, last)
    }

    fn port(published: u16, backends: &[u8]) -> MeshPort {
        MeshPort {
            protocol: MeshProtocol::Tcp,
            published,
            target: 80,
            backends: backends.iter().map(|b| ip(*b)).collect(),
        }
    }

    fn ingress() -> NetworkRecord {
        let mut rec: NetworkRecord = serde_json::from_value(serde_json::json!({
            "id": "ab".repeat(32), "name": "ingress", "driver": "overlay", "internal": false,
            "labels": {}, "subnet": "10.32.0.0/24", "gateway": "10.32.0.9", "ip_range": null,
            "mtu": 1450, "bridge": "bsn-abababab", "created": 0, "endpoints": {},
        }))
        .unwrap();
        rec.overlay = Some(crate::network::overlay::OverlayConfig {
            vni: 4096,
            port: 4789,
            underlay: Ipv4Addr::new(10, 213, 0, 1),
            vxlan: "bsn-abababab-vx".into(),
            attachable: false,
            peers: Vec::new(),
            services: Vec::new(),
            bridge_mac: None,
            mesh: Vec::new(),
            encryption: None,
        });
        rec
    }

    #[test]
    fn checks_ports_and_normalises() {
        let rec = ingress();
        let mut udp = port(8080, &[4]);
        udp.protocol = MeshProtocol::Udp;
        let got = check(
            &rec,
            &[port(9090, &[3, 2, 3]), udp.clone(), port(8080, &[])],
        )
        .unwrap();
        assert_eq!(got, [port(8080, &[]), port(9090, &[2, 3]), udp]);
        for (bad, why) in [
            (vec![port(0, &[2])], "port 0"),
            (vec![port(8080, &[0])], "backend 10.32.0.0"),
            (vec![port(8080, &[255])], "backend 10.32.0.255"),
            (vec![port(8080, &[2]), port(8080, &[3])], "given twice"),
        ] {
            let err = check(&rec, &bad).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let mut bridge = ingress();
        bridge.overlay = None;
        assert!(check(&bridge, &[]).is_err());
    }

    #[test]
    fn the_diff_names_only_the_ports_that_changed() {
        let old = [port(8080, &[2]), port(8081, &[2, 3]), port(8082, &[4])];
        let mut retargeted = port(8082, &[4]);
        retargeted.target = 81;
        let new = [port(8081, &[2]), retargeted.clone(), port(8083, &[5])];
        let changes = diff(&old, &new);
        assert_eq!(changes.removed, [(MeshProtocol::Tcp, 8080)]);
        assert_eq!(changes.added, [port(8083, &[5])]);
        assert_eq!(changes.changed, [port(8081, &[2]), retargeted]);
        assert!(diff(&new, &new).is_empty());
        assert_eq!(diff(&old, &[]).removed.len(), 3);
    }

    #[test]
    fn object_names_differ_per_protocol_and_port() {
        assert_eq!(table_name("bosun-12345678"), "bosun-12345678-ingress");
        assert_eq!(ports_map(MeshProtocol::Udp), "udp-ports");
        assert_eq!(chain_name(MeshProtocol::Tcp, 8080), "pub-tcp-8080");
        assert_eq!(backends_map(MeshProtocol::Udp, 53), "be-udp-53");
    }
}
