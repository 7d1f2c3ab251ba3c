//! The overlay side of a network on this node: choosing its VXLAN identifier, underlay address
//! and MTU at create, making its VXLAN device next to its bridge, and programming its remote
//! peers (neighbour and forwarding entries) from a set given by the caller.

use std::net::Ipv4Addr;

use super::{Networks, invalid, sealed};
use crate::network::link::{FLOOD_MAC, Links, VxlanSpec};
use crate::network::overlay::{self, OverlayConfig, Peer, PeerChanges};
use crate::network::record::NetworkRecord;
use crate::network::xfrm::{self, Encryption, Transport};
use crate::network::{NetworkError, Result};

/// The overlay options of `network create --driver overlay`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayRequest {
    /// The VXLAN identifier (derived from the name when `None`, see [`overlay::derived_vni`]).
    pub vni: Option<u32>,
    /// The UDP port ([`overlay::DEFAULT_PORT`] when `None`).
    pub port: Option<u16>,
    /// This node's underlay address (the first address of the default route's link when
    /// `None`).
    pub underlay: Option<Ipv4Addr>,
    /// Standalone containers may join.
    pub attachable: bool,
    /// The bridge's MAC address (derived from the network's id when `None`).
    pub mac: Option<[u8; 6]>,
    /// Traffic between nodes is encrypted (`-o encrypted`): with IPsec ESP where the kernel
    /// has it, sealed in user space otherwise; the MTU leaves room for either.
    pub encrypted: bool,
}

/// The overlay configuration and MTU of a new overlay network `name` whose bridge is `bridge`:
/// the MTU is the underlay link's less [`overlay::VXLAN_OVERHEAD`] (and, encrypted, less
/// [`xfrm::ESP_OVERHEAD`]), or `mtu` when given and not larger.
pub(super) fn plan(
    name: &str,
    bridge: &str,
    req: &OverlayRequest,
    mtu: Option<u32>,
) -> Result<(OverlayConfig, u32)> {
    let vni = req.vni.unwrap_or_else(|| overlay::derived_vni(name));
    if !(1..=overlay::MAX_VNI).contains(&vni) {
        return Err(invalid(
            name,
            format!("vni {vni} is out of range: use 1 to {}", overlay::MAX_VNI),
        ));
    }
    let port = req.port.unwrap_or(overlay::DEFAULT_PORT);
    if port == 0 {
        return Err(invalid(name, "vxlan port 0 is not a port"));
    }
    let mut links = Links::open()?;
    let underlay = match req.underlay {
        Some(a) => a,
        None => links.default_route_address()?.ok_or_else(|| {
            invalid(
                name,
                "no IPv4 default route to take this node's underlay address from: give the address",
            )
        })?,
    };
    let link = links.link_of_address(underlay)?.ok_or_else(|| {
        invalid(
            name,
            format!("underlay address {underlay} is not an address of this node"),
        )
    })?;
    let transport = req.encrypted.then(|| sealed::choose_transport(name));
    let overhead = match transport {
        None => overlay::VXLAN_OVERHEAD,
        Some(Transport::Esp) => overlay::VXLAN_OVERHEAD + xfrm::ESP_OVERHEAD,
        Some(Transport::Sealed) => crate::network::sealed::OVERHEAD,
    };
    let most = link.mtu.saturating_sub(overhead);
    let mtu = match mtu {
        None => most,
        Some(m) if m <= most => m,
        Some(m) => {
            return Err(invalid(
                name,
                format!(
                    "mtu {m} does not fit the underlay: {} has mtu {}, at most {most} is left inside {}",
                    link.name,
                    link.mtu,
                    match transport {
                        None => "VXLAN",
                        Some(Transport::Esp) => "VXLAN and ESP",
                        Some(Transport::Sealed) => "the sealed datagrams",
                    }
                ),
            ));
        }
    };
    if mtu < 68 {
        return Err(invalid(
            name,
            format!(
                "underlay link {} has mtu {}: too small for VXLAN",
                link.name, link.mtu
            ),
        ));
    }
    let config = OverlayConfig {
        vni,
        port,
        underlay,
        vxlan: overlay::vxlan_name(bridge),
        attachable: req.attachable,
        peers: Vec::new(),
        services: Vec::new(),
        bridge_mac: req.mac.map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        }),
        mesh: Vec::new(),
        encryption: transport.map(|transport| Encryption {
            transport,
            ..Encryption::default()
        }),
    };
    Ok((config, mtu))
}

/// Applies `changes` to the VXLAN device `index`: withdrawals first (neighbour, then
/// forwarding entry; then the flooding entries of nodes left without peers), additions after
/// (flooding entries of new nodes, then forwarding entry, then neighbour, so that an address
/// is answered only once its frames can be carried).
fn program(links: &mut Links, index: u32, changes: &PeerChanges) -> Result<()> {
    let mac = |p: &Peer| {
        p.mac_bytes().ok_or_else(|| NetworkError::Invalid {
            network: format!("vxlan link {index}"),
            message: format!("peer {}: invalid mac address {:?}", p.ip, p.mac),
        })
    };
    for p in &changes.withdrawn {
        let m = mac(p)?;
        links.delete_neighbour(index, p.ip, m)?;
        links.delete_fdb(index, m, p.node)?;
    }
    for node in &changes.nodes_gone {
        links.delete_fdb(index, FLOOD_MAC, *node)?;
    }
    for node in &changes.nodes_new {
        links.add_fdb(index, FLOOD_MAC, *node)?;
    }
    for p in &changes.added {
        let m = mac(p)?;
        links.add_fdb(index, m, p.node)?;
        links.add_neighbour(index, p.ip, m)?;
    }
    Ok(())
}

impl Networks {
    /// Makes the VXLAN device of overlay `rec` in its bridge `bridge` when it is missing, and
    /// programs every recorded peer (entries already there are replaced, so this also serves
    /// an agent restart).
    pub(super) fn make_vxlan(rec: &NetworkRecord, links: &mut Links, bridge: u32) -> Result<()> {
        let Some(config) = &rec.overlay else {
            return Ok(());
        };
        if sealed::is_sealed(rec) {
            // Its TAP device and threads: see `start_sealed`.
            return Ok(());
        }
        let index = match links.find(&config.vxlan)? {
            Some(link) => link.index,
            None => {
                let underlay_link = links.link_of_address(config.underlay)?.map(|l| l.index);
                links.create_vxlan(&VxlanSpec {
                    name: config.vxlan.clone(),
                    vni: config.vni,
                    port: config.port,
                    local: config.underlay,
                    underlay_link,
                    mtu: rec.mtu,
                    bridge,
                    source_ports: config
                        .encryption
                        .as_ref()
                        .map(|_| xfrm::source_ports(config.vni)),
                })?
            }
        };
        Self::restore_esp_policies(rec)?;
        program(links, index, &overlay::diff(&[], &config.peers))
    }

    /// Sets the remote endpoints of overlay `network` to exactly `peers`: for each, a
    /// permanent neighbour entry (`ip → mac`, answered by the VXLAN device's ARP proxy) and a
    /// forwarding entry (`mac → node`), plus one flooding entry per remote node for
    /// broadcasts; entries of peers no longer listed are deleted. Only the difference from the
    /// recorded peers is sent to the kernel; on failure it is undone and the record is left as
    /// it was. Returns the updated record.
    pub fn set_peers(&self, network: &str, peers: &[Peer]) -> Result<NetworkRecord> {
        let _lock = self.store.lock()?;
        let mut rec = self.store.find(network)?;
        let peers = overlay::check_peers(&rec, peers).map_err(|m| invalid(&rec.name, m))?;
        let sealed_here = sealed::is_sealed(&rec);
        let Some(config) = rec.overlay.as_mut() else {
            return Err(invalid(&rec.name, "only overlay networks have peers"));
        };
        let changes = overlay::diff(&config.peers, &peers);
        if changes.is_empty() {
            if config.peers != peers {
                // Only names changed: nothing for the kernel, the record keeps them for DNS.
                config.peers = peers;
                self.store.save(&rec)?;
            }
            return Ok(rec);
        }
        if sealed_here {
            config.peers.clone_from(&peers);
            self.store.save(&rec)?;
            self.sealed_peers(&rec, &peers)?;
            return Ok(rec);
        }
        let old_peers = std::mem::replace(&mut config.peers, peers);
        let vxlan = config.vxlan.clone();
        let mut links = Links::open()?;
        let index = links
            .find(&vxlan)?
            .ok_or_else(|| NetworkError::Netlink {
                op: format!("find vxlan {vxlan} of network {}", rec.name),
                source: std::io::Error::from_raw_os_error(libc::ENODEV),
            })?
            .index;
        // On an encrypted overlay, a new node's SAs and policy come before its forwarding
        // entries, so that no frame reaches it in clear.
        self.sync_esp(&mut rec)?;
        let result = program(&mut links, index, &changes).and_then(|()| self.store.save(&rec));
        if let Err(e) = result {
            if let Err(undo) = program(&mut links, index, &changes.reversed()) {
                tracing::warn!(network = %rec.name, cause = %undo, "cannot undo a partial peer update");
            }
            if let Some(config) = rec.overlay.as_mut() {
                config.peers = old_peers;
            }
            if let Err(undo) = self.sync_esp(&mut rec) {
                tracing::warn!(network = %rec.name, cause = %undo, "cannot undo a partial esp update");
            }
            return Err(e);
        }
        Ok(rec)
    }
}
