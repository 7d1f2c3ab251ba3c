//! Where a frame read from an overlay's TAP goes: the remote endpoints' MACs by node, as the
//! VXLAN device's forwarding entries would have them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::network::overlay::Peer;

/// The remote endpoints of one overlay as the data path needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PeerTable {
    by_mac: BTreeMap<[u8; 6], Ipv4Addr>,
    nodes: Vec<Ipv4Addr>,
}

/// The nodes a frame is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destinations<'a> {
    /// Nowhere (a runt, or no remote node).
    None,
    /// The node of its known unicast destination.
    One(Ipv4Addr),
    /// Every node with a peer (broadcast, multicast, unknown unicast).
    All(&'a [Ipv4Addr]),
}

impl PeerTable {
    /// The table of `peers` (checked peers: their MACs parse).
    pub(crate) fn new(peers: &[Peer]) -> Self {
        let by_mac: BTreeMap<[u8; 6], Ipv4Addr> = peers
            .iter()
            .filter_map(|p| Some((p.mac_bytes()?, p.node)))
            .collect();
        let nodes: BTreeSet<Ipv4Addr> = peers.iter().map(|p| p.node).collect();
        Self {
            by_mac,
            nodes: nodes.into_iter().collect(),
        }
    }

    /// The remote nodes, sorted.
    pub(crate) fn nodes(&self) -> &[Ipv4Addr] {
        &self.nodes
    }

    /// Whether `node` has a peer on the overlay (datagrams from anyone else are dropped).
    pub(crate) fn knows(&self, node: Ipv4Addr) -> bool {
        self.nodes.binary_search(&node).is_ok()
    }

    /// Where the Ethernet `frame` goes.
    pub(crate) fn destinations(&self, frame: &[u8]) -> Destinations<'_> {
        if frame.len() < 14 || self.nodes.is_empty() {
            return Destinations::None;
        }
        let mut dst = [0; 6];
        dst.copy_from_slice(&frame[..6]);
        if dst[0] & 1 == 1 {
            return Destinations::All(&self.nodes);
        }
        match self.by_mac.get(&dst) {
            Some(node) => Destinations::One(*node),
            None => Destinations::All(&self.nodes),
        }
    }
}
