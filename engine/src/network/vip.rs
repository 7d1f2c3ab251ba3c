//! Service virtual addresses on an overlay, pure part: what a network records of them (each
//! virtual address with its DNS names and backends), the checks on a set given by the caller,
//! the difference between two sets as the per-service changes the kernel needs, and the names
//! of the nftables objects that carry them.
//!
//! Connections to a virtual address are load-balanced inside each container's network
//! namespace, where they start (the address is in the overlay's subnet, so without a rule the
//! container would look for it on the link): the table of the overlay ([`table_name`]) holds
//! a `nat output` chain whose one rule looks the destination up in the verdict map
//! [`SERVICES_MAP`] (virtual address → `goto` the service's chain); the service's chain
//! ([`chain_name`]) draws `numgen random mod N` and DNATs to that entry of the service's
//! backend map ([`backends_map`], index → address), ports unchanged — kube-proxy's nftables
//! mode, without its per-endpoint chains. Only the objects of services that changed are
//! touched.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::record::NetworkRecord;

/// The verdict map of an overlay's table: virtual address → the service's chain.
pub(crate) const SERVICES_MAP: &str = "services";
/// The base chain (`nat output`) of an overlay's table.
pub(crate) const OUTPUT_CHAIN: &str = "output";

/// A service's virtual address on an overlay.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VipService {
    /// The virtual address.
    pub vip: Ipv4Addr,
    /// DNS names the embedded DNS answers with the virtual address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Where connections to it go (ports unchanged), sorted: none, and it answers nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<Ipv4Addr>,
    /// The service's named ports: each answers the DNS SRV name `_<name>._<protocol>.<n>`
    /// for each name `n` above, leading to `n` and the port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<VipPort>,
}

/// A named port of a service with a virtual address (its SRV record).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VipPort {
    /// The port's name (a DNS label).
    pub name: String,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The port the service answers on.
    pub port: u16,
}

/// What changes in the kernel between two sets of virtual addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VipChanges {
    /// Virtual addresses gone: their map element, chain and backend map are deleted.
    pub(crate) removed: Vec<Ipv4Addr>,
    /// New virtual addresses: chain, backend map and map element are added.
    pub(crate) added: Vec<VipService>,
    /// Virtual addresses whose backends changed: their chain's rule and backend map are
    /// replaced.
    pub(crate) changed: Vec<VipService>,
}

impl VipChanges {
    /// Nothing for the kernel.
    pub(crate) fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.changed.is_empty()
    }
}

/// The nftables table (family `ip`) of overlay `rec` in its containers' namespaces.
pub(crate) fn table_name(rec: &NetworkRecord) -> String {
    format!("vip-{}", rec.bridge)
}

/// The chain of the service at `vip`.
pub(crate) fn chain_name(vip: Ipv4Addr) -> String {
    format!("svc-{:08x}", u32::from(vip))
}

/// The backend map (index → address) of the service at `vip`.
pub(crate) fn backends_map(vip: Ipv4Addr) -> String {
    format!("be-{:08x}", u32::from(vip))
}

fn host_address(rec: &NetworkRecord, ip: Ipv4Addr) -> bool {
    rec.subnet.contains(&ip) && ip != rec.subnet.network() && ip != rec.subnet.broadcast()
}

/// Checks `services` against overlay `rec` (virtual addresses and backends host addresses of
/// its subnet, a virtual address neither its gateway nor a local endpoint's nor a remote
/// peer's, each once) and returns them normalised: backends sorted without duplicates,
/// services sorted by virtual address.
pub(crate) fn check(
    rec: &NetworkRecord,
    services: &[VipService],
) -> Result<Vec<VipService>, String> {
    let overlay = rec.overlay.as_ref().ok_or_else(|| {
        format!(
            "driver {} has no service addresses: only overlay networks do",
            rec.driver
        )
    })?;
    let used: BTreeSet<Ipv4Addr> = rec
        .endpoints
        .values()
        .map(|e| e.ipv4)
        .chain(overlay.peers.iter().map(|p| p.ip))
        .chain(std::iter::once(rec.gateway))
        .collect();
    let mut out: BTreeMap<Ipv4Addr, VipService> = BTreeMap::new();
    for s in services {
        if !host_address(rec, s.vip) {
            return Err(format!(
                "virtual address {}: not a host address of subnet {}",
                s.vip, rec.subnet
            ));
        }
        if used.contains(&s.vip) {
            return Err(format!(
                "virtual address {}: the address is used by an endpoint",
                s.vip
            ));
        }
        if let Some(b) = s.backends.iter().find(|b| !host_address(rec, **b)) {
            return Err(format!(
                "virtual address {}: backend {b} is not a host address of subnet {}",
                s.vip, rec.subnet
            ));
        }
        let mut backends = s.backends.clone();
        backends.sort();
        backends.dedup();
        let mut ports = s.ports.clone();
        ports.sort();
        ports.dedup();
        let service = VipService {
            vip: s.vip,
            names: s.names.clone(),
            backends,
            ports,
        };
        if out.insert(s.vip, service).is_some() {
            return Err(format!("virtual address {} given twice", s.vip));
        }
    }
    Ok(out.into_values().collect())
}

/// What takes the kernel from `old` to `new` (both as [`check`] returns them). A service
/// whose names alone changed needs nothing.
pub(crate) fn diff(old: &[VipService], new: &[VipService]) -> VipChanges {
    let before: BTreeMap<Ipv4Addr, &VipService> = old.iter().map(|s| (s.vip, s)).collect();
    let after: BTreeMap<Ipv4Addr, &VipService> = new.iter().map(|s| (s.vip, s)).collect();
    let mut changes = VipChanges::default();
    for vip in before.keys() {
        if !after.contains_key(vip) {
            changes.removed.push(*vip);
        }
    }
    for (vip, s) in &after {
        match before.get(vip) {
            None => changes.added.push((*s).clone()),
            Some(b) if b.backends != s.backends => changes.changed.push((*s).clone()),
            Some(_) => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::overlay::{OverlayConfig, Peer};
    use crate::network::record::Endpoint;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 32, 0, last)
    }

    fn service(vip: u8, backends: &[u8]) -> VipService {
        VipService {
            vip: ip(vip),
            names: vec!["web".into()],
            backends: backends.iter().map(|b| ip(*b)).collect(),
            ports: Vec::new(),
        }
    }

    fn overlay() -> NetworkRecord {
        let mut rec: NetworkRecord = serde_json::from_value(serde_json::json!({
            "id": "ab".repeat(32), "name": "front", "driver": "overlay", "internal": false,
            "labels": {}, "subnet": "10.32.0.0/24", "gateway": "10.32.0.1", "ip_range": null,
            "mtu": 1450, "bridge": "bsn-abababab", "created": 0, "endpoints": {},
        }))
        .unwrap();
        rec.endpoints.insert(
            "c1".into(),
            Endpoint {
                container_id: "c1".into(),
                container_name: "web.1".into(),
                aliases: Vec::new(),
                ipv4: ip(2),
                ipv6: None,
                mac: "02:42:0a:20:00:02".into(),
                ifname: "eth0".into(),
                host_ifname: "bv000000000001".into(),
                ports: Vec::new(),
                netns: None,
            },
        );
        rec.overlay = Some(OverlayConfig {
            vni: 4096,
            port: 4789,
            underlay: Ipv4Addr::new(10, 213, 0, 1),
            vxlan: "bsn-abababab-vx".into(),
            attachable: false,
            peers: vec![Peer {
                ip: ip(3),
                mac: "02:42:0a:20:00:03".into(),
                node: Ipv4Addr::new(10, 213, 0, 2),
                names: Vec::new(),
            }],
            services: Vec::new(),
            bridge_mac: None,
            mesh: Vec::new(),
            encryption: None,
        });
        rec
    }

    #[test]
    fn checks_addresses_and_normalises() {
        let rec = overlay();
        let got = check(&rec, &[service(9, &[3, 2, 3]), service(8, &[])]).unwrap();
        assert_eq!(got, [service(8, &[]), service(9, &[2, 3])]);
        for (bad, why) in [
            (vec![service(1, &[2])], "used by an endpoint"),
            (vec![service(2, &[3])], "used by an endpoint"),
            (vec![service(3, &[2])], "used by an endpoint"),
            (vec![service(255, &[2])], "not a host address"),
            (vec![service(9, &[0])], "backend 10.32.0.0"),
            (vec![service(9, &[2]), service(9, &[3])], "given twice"),
        ] {
            let err = check(&rec, &bad).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let mut bridge = overlay();
        bridge.overlay = None;
        assert!(check(&bridge, &[]).is_err());
    }

    #[test]
    fn the_diff_names_only_the_services_that_changed() {
        let old = [service(8, &[2]), service(9, &[2, 3]), service(10, &[4])];
        let mut renamed = service(10, &[4]);
        renamed.names = vec!["other".into()];
        let new = [
            service(9, &[2]),
            service(10, &[4]).clone(),
            service(11, &[5]),
        ];
        let changes = diff(&old, &new);
        assert_eq!(changes.removed, [ip(8)]);
        assert_eq!(changes.added, [service(11, &[5])]);
        assert_eq!(changes.changed, [service(9, &[2])]);
        assert!(diff(&new, &new).is_empty());
        assert!(diff(&[service(10, &[4])], &[renamed]).is_empty());
        // From nothing: everything is added; to nothing: everything removed.
        assert_eq!(diff(&[], &old).added.len(), 3);
        assert_eq!(diff(&old, &[]).removed, [ip(8), ip(9), ip(10)]);
    }

    #[test]
    fn object_names_fit_and_differ_per_address() {
        assert_eq!(chain_name(ip(9)), "svc-0a200009");
        assert_eq!(backends_map(ip(9)), "be-0a200009");
        assert_eq!(table_name(&overlay()), "vip-bsn-abababab");
    }
}
