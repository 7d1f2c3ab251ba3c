//! The persistent description of a network and its endpoints: the single source of truth from
//! which bridges, veths and firewall rules are derived.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::ipam::Ipam;
use super::overlay::OverlayConfig;
use super::ports::PortMapping;

/// One network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64 hex characters.
    pub id: String,
    /// The user's name (compose: `<project>_<name>`).
    pub name: String,
    /// `bridge` or `overlay`.
    pub driver: String,
    /// No traffic leaves the network (no masquerade, no default route in containers).
    pub internal: bool,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// The IPv4 subnet.
    pub subnet: Ipv4Net,
    /// The gateway, the bridge's address.
    pub gateway: Ipv4Addr,
    /// Where dynamic addresses come from.
    pub ip_range: Option<Ipv4Net>,
    /// The IPv6 subnet, when the network has IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_v6: Option<Ipv6Net>,
    /// The IPv6 gateway (on the bridge), when the network has IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_v6: Option<Ipv6Addr>,
    /// MTU of the bridge and the veths.
    pub mtu: u32,
    /// The Linux bridge, `bsn-<8 hex>`.
    pub bridge: String,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    /// Attached containers by container id.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The VXLAN side of an overlay network; `None` for a bridge network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<OverlayConfig>,
}

/// One container's attachment to a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The container id.
    pub container_id: String,
    /// The container name (answered by DNS).
    pub container_name: String,
    /// Extra names on this network (compose service names, `--network-alias`).
    pub aliases: Vec<String>,
    /// The container's address.
    pub ipv4: Ipv4Addr,
    /// The container's IPv6 address, on networks with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// The container interface's MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// The interface name inside the container (`eth0`, ...).
    pub ifname: String,
    /// The host-side veth, `bv<12 hex>`.
    pub host_ifname: String,
    /// Published ports (DNAT to `ipv4`).
    pub ports: Vec<PortMapping>,
    /// The container's network namespace while it is attached (where the rules of an
    /// overlay's virtual addresses go); absent in records of older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NamespaceRef>,
}

/// A network namespace as an endpoint records it: the path it was opened from and its inode,
/// so that a path whose process has gone (and whose pid was reused) is never mistaken for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceRef {
    /// `/proc/<pid>/ns/net` of the container's init.
    pub path: std::path::PathBuf,
    /// The namespace's inode number.
    pub inode: u64,
}

impl NetworkRecord {
    /// The network's address plan.
    pub(crate) fn ipam(&self) -> Ipam {
        Ipam {
            subnet: self.subnet,
            gateway: self.gateway,
            ip_range: self.ip_range,
        }
    }

    /// Addresses held by endpoints, and on an overlay by its remote peers too (so that no
    /// local container is given a remote one's address).
    pub(crate) fn used_addresses(&self) -> BTreeSet<Ipv4Addr> {
        let peers = self
            .overlay
            .iter()
            .flat_map(|o| o.peers.iter().map(|p| p.ip));
        self.endpoints
            .values()
            .map(|e| e.ipv4)
            .chain(peers)
            .collect()
    }

    /// The 12-character short id.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}

/// The bridge name of a network id: `bsn-` and the first 8 hex digits.
pub(super) fn bridge_name(id: &str) -> String {
    format!("{}{}", super::BRIDGE_PREFIX, &id[..8.min(id.len())])
}

testing_pub! {
    /// The fixed MAC address of a network's bridge, derived from the network id: `06` (locally
    /// administered, unicast, apart from the containers' `02:42` addresses) and the id's first five
    /// bytes.
    fn bridge_mac(id: &str) -> [u8; 6] {
        let mut mac = [0x06, 0, 0, 0, 0, 0];
        for (i, byte) in mac.iter_mut().enumerate().skip(1) {
            *byte = id
                .get(2 * (i - 1)..2 * i)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or_default();
        }
        mac
    }
}

/// Docker's MAC derivation: `02:42` followed by the IPv4 address.
pub(super) fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut out {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Random lower-case hex of `bytes` random bytes.
pub(super) fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_interface_limits() {
        let id = random_hex(32).unwrap();
        assert_eq!(id.len(), 64);
        let bridge = bridge_name(&id);
        assert_eq!(bridge.len(), 12);
        assert!(bridge.starts_with("bsn-") && id.starts_with(&bridge[4..]));
    }

    #[test]
    fn bridge_macs_are_local_unicast_and_follow_the_id() {
        assert_eq!(
            bridge_mac("0a1b2c3d4e5f6a"),
            [0x06, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e]
        );
        assert_eq!(
            bridge_mac("ffffffffff"),
            [0x06, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(bridge_mac(""), [0x06, 0, 0, 0, 0, 0]);
        let mac = bridge_mac(&random_hex(32).unwrap());
        assert_eq!(mac[0] & 0x03, 0x02, "locally administered unicast");
    }

    #[test]
    fn macs_derive_from_addresses_and_parse() {
        let mac = mac_for(Ipv4Addr::new(172, 18, 0, 2));
        assert_eq!(mac, "02:42:ac:12:00:02");
        assert_eq!(parse_mac(&mac), Some([2, 0x42, 0xac, 0x12, 0, 2]));
        for bad in [
            "",
            "02:42:ac:12:00",
            "02:42:ac:12:00:02:01",
            "zz:42:ac:12:00:02",
            "2:42:ac:12:00:02",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
