//! Overlay networks, pure part: what an overlay records (its VXLAN identifier, UDP port,
//! underlay address, device, remote peers), the names and identifiers derived for it, the checks
//! on a set of peers, and the difference between two sets of peers as the neighbour and
//! forwarding entries to add and delete.
//!
//! On a node, an overlay is a bridge (as a bridge network's, `bsn-<8 hex>`) with a VXLAN device
//! `bsn-<8 hex>-vx` enslaved to it, both in the node's network namespace. Remote endpoints are
//! programmed explicitly ([`crate::network::Networks::set_peers`]): no learning, no multicast.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::ingress::MeshPort;
use super::record::{self, NetworkRecord};
use super::vip::VipService;
use super::xfrm::Encryption;

/// The VXLAN UDP port assigned by IANA, the default of an overlay.
pub(super) const DEFAULT_PORT: u16 = 4789;
/// Bytes the VXLAN encapsulation adds to a frame over IPv4 (outer IP, UDP, VXLAN and inner
/// Ethernet headers): an overlay's MTU is its underlay's minus this.
pub(super) const VXLAN_OVERHEAD: u32 = 50;
/// The first VXLAN identifier derived from a name; those below are left to explicit choices.
pub(super) const FIRST_DERIVED_VNI: u32 = 4096;
/// The largest VXLAN identifier (24 bits).
pub(super) const MAX_VNI: u32 = (1 << 24) - 1;
/// Suffix of an overlay's VXLAN device after its bridge's name.
pub(super) const VXLAN_SUFFIX: &str = "-vx";

/// The overlay part of a network record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayConfig {
    /// The VXLAN network identifier.
    pub vni: u32,
    /// The UDP port of the VXLAN traffic.
    pub port: u16,
    /// This node's address on the underlay (the encapsulated packets' source).
    pub underlay: Ipv4Addr,
    /// The VXLAN device, `bsn-<8 hex>-vx`.
    pub vxlan: String,
    /// Standalone containers may join (not only the tasks of services).
    pub attachable: bool,
    /// The remote endpoints currently programmed, sorted.
    pub peers: Vec<Peer>,
    /// The services' virtual addresses currently programmed, sorted (see
    /// [`crate::network::Networks::set_services`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<VipService>,
    /// The bridge's MAC address when the caller chose it (`-o mac=`: the managers give each
    /// node's ingress bridge its own, as other nodes reach it there); derived from the
    /// network's id otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_mac: Option<String>,
    /// The ports of the routing mesh programmed in the host's namespace, sorted (see
    /// [`crate::network::Networks::set_mesh`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mesh: Vec<MeshPort>,
    /// Present on an encrypted overlay (`-o encrypted`): its keys' ids and the IPsec SAs and
    /// policies programmed (see [`crate::network::Networks::set_keys`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// One remote endpoint of an overlay: a container on another node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Peer {
    /// The container's address on the overlay.
    pub ip: Ipv4Addr,
    /// The container interface's MAC address, `aa:bb:cc:dd:ee:ff` (lower case).
    pub mac: String,
    /// The underlay address of the node the container runs on.
    pub node: Ipv4Addr,
    /// DNS names the container answers to on the overlay (a service's name, `tasks.<name>`,
    /// its aliases): the embedded DNS of this node answers them with its address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

impl Peer {
    /// The MAC address as bytes (checked by [`check_peers`]).
    pub(crate) fn mac_bytes(&self) -> Option<[u8; 6]> {
        record::parse_mac(&self.mac)
    }
}

/// The VXLAN device of the network whose bridge is `bridge`.
pub(super) fn vxlan_name(bridge: &str) -> String {
    format!("{bridge}{VXLAN_SUFFIX}")
}

/// The VXLAN identifier of an overlay created without one: derived from its name alone, so
/// every node creating the overlay of that name agrees on it without talking to each other —
/// from [`FIRST_DERIVED_VNI`] to [`MAX_VNI`] (the managers will allocate identifiers instead).
pub(super) fn derived_vni(name: &str) -> u32 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    FIRST_DERIVED_VNI + n % (MAX_VNI - FIRST_DERIVED_VNI + 1)
}

/// Checks `peers` against the overlay `rec` (addresses in its subnet, neither its gateway nor a
/// local endpoint's, each address and MAC once, unicast MACs, remote nodes other than this one)
/// and returns them normalised: MACs in lower case, sorted, without duplicates.
pub(super) fn check_peers(rec: &NetworkRecord, peers: &[Peer]) -> Result<Vec<Peer>, String> {
    let overlay = rec.overlay.as_ref().ok_or_else(|| {
        format!(
            "driver {} has no peers: only overlay networks do",
            rec.driver
        )
    })?;
    let local: BTreeSet<Ipv4Addr> = rec.endpoints.values().map(|e| e.ipv4).collect();
    let mut out = BTreeSet::new();
    for peer in peers {
        let mac = record::parse_mac(&peer.mac)
            .ok_or_else(|| format!("peer {}: invalid mac address {:?}", peer.ip, peer.mac))?;
        if mac[0] & 1 == 1 || mac == [0; 6] {
            return Err(format!("peer {}: mac {} is not unicast", peer.ip, peer.mac));
        }
        if !rec.subnet.contains(&peer.ip)
            || peer.ip == rec.subnet.network()
            || peer.ip == rec.subnet.broadcast()
        {
            return Err(format!(
                "peer {}: not a host address of subnet {}",
                peer.ip, rec.subnet
            ));
        }
        if peer.ip == rec.gateway || local.contains(&peer.ip) {
            return Err(format!(
                "peer {}: the address is used on this node",
                peer.ip
            ));
        }
        if peer.node == overlay.underlay {
            return Err(format!(
                "peer {}: node {} is this node's underlay address",
                peer.ip, peer.node
            ));
        }
        if peer.node.is_unspecified() || peer.node.is_multicast() || peer.node.is_broadcast() {
            return Err(format!(
                "peer {}: node address {} is not unicast",
                peer.ip, peer.node
            ));
        }
        out.insert(Peer {
            mac: peer.mac.to_ascii_lowercase(),
            ..peer.clone()
        });
    }
    let out: Vec<Peer> = out.into_iter().collect();
    for (i, a) in out.iter().enumerate() {
        for b in &out[i + 1..] {
            if a.ip == b.ip {
                return Err(format!("peer {}: given twice with different details", a.ip));
            }
            if a.mac == b.mac {
                return Err(format!("mac {}: given for {} and {}", a.mac, a.ip, b.ip));
            }
        }
    }
    Ok(out)
}

/// The kernel entries that take an overlay from one set of peers to another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PeerChanges {
    /// Peers whose neighbour and forwarding entries go.
    pub withdrawn: Vec<Peer>,
    /// Peers whose neighbour and forwarding entries come.
    pub added: Vec<Peer>,
    /// Remote nodes whose flooding entry goes (no peer left there).
    pub nodes_gone: Vec<Ipv4Addr>,
    /// Remote nodes that get a flooding entry (a first peer there).
    pub nodes_new: Vec<Ipv4Addr>,
}

impl PeerChanges {
    /// Whether nothing changes.
    pub(super) fn is_empty(&self) -> bool {
        self.withdrawn.is_empty()
            && self.added.is_empty()
            && self.nodes_gone.is_empty()
            && self.nodes_new.is_empty()
    }

    /// The changes that undo these.
    pub(super) fn reversed(&self) -> Self {
        Self {
            withdrawn: self.added.clone(),
            added: self.withdrawn.clone(),
            nodes_gone: self.nodes_new.clone(),
            nodes_new: self.nodes_gone.clone(),
        }
    }
}

/// What changes from the peers `old` to the peers `new` in the kernel (a peer whose MAC or
/// node changed is withdrawn and added again; a change of names alone changes nothing there).
pub(super) fn diff(old: &[Peer], new: &[Peer]) -> PeerChanges {
    let kernel = |p: &Peer| Peer {
        names: Vec::new(),
        ..p.clone()
    };
    let (old, new): (Vec<Peer>, Vec<Peer>) = (
        old.iter().map(kernel).collect(),
        new.iter().map(kernel).collect(),
    );
    let (old_set, new_set): (BTreeSet<&Peer>, BTreeSet<&Peer>) =
        (old.iter().collect(), new.iter().collect());
    let nodes = |peers: &BTreeSet<&Peer>| peers.iter().map(|p| p.node).collect::<BTreeSet<_>>();
    let (old_nodes, new_nodes) = (nodes(&old_set), nodes(&new_set));
    PeerChanges {
        withdrawn: old_set.difference(&new_set).map(|p| (*p).clone()).collect(),
        added: new_set.difference(&old_set).map(|p| (*p).clone()).collect(),
        nodes_gone: old_nodes.difference(&new_nodes).copied().collect(),
        nodes_new: new_nodes.difference(&old_nodes).copied().collect(),
    }
}

#[cfg(test)]
mod tests;
