//! Static entries of a VXLAN device: forwarding entries (`MAC → remote node`, and the all-zero
//! MAC's list of nodes that broadcasts go to) and neighbour entries (`IP → MAC`, answered by the
//! device's ARP proxy).

use std::net::Ipv4Addr;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Links;
use crate::network::{NetworkError, Result};

/// The MAC address of a VXLAN device's default forwarding entry: frames for unknown or
/// broadcast destinations go to every node listed under it.
pub const FLOOD_MAC: [u8; 6] = [0; 6];

/// The forwarding entry `mac → node` of VXLAN device `index` (`NTF_SELF`: the device's own
/// table, not the bridge's it is a port of).
pub(super) fn fdb_message(index: u32, mac: [u8; 6], node: Ipv4Addr) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Bridge;
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    msg.header.flags = NeighbourFlags::Own;
    msg.attributes = vec![
        NeighbourAttribute::LinkLayerAddress(mac.to_vec()),
        NeighbourAttribute::Destination(NeighbourAddress::Inet(node)),
    ];
    msg
}

/// The permanent neighbour entry `ip → mac` on link `index`.
pub(super) fn neighbour_message(index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    msg.attributes = vec![
        NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)),
        NeighbourAttribute::LinkLayerAddress(mac.to_vec()),
    ];
    msg
}

/// Flags of the request adding a forwarding entry: the flooding entry gathers one destination
/// per node (append), a unicast entry has exactly one (replace).
pub(super) fn fdb_add_flags(mac: [u8; 6]) -> u16 {
    if mac == FLOOD_MAC {
        NLM_F_CREATE | NLM_F_APPEND
    } else {
        NLM_F_CREATE | NLM_F_REPLACE
    }
}

fn missing_is_fine(result: Result<()>) -> Result<()> {
    match result {
        Err(NetworkError::Netlink { source, .. })
            if matches!(source.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

impl Links {
    /// Adds (or replaces) the forwarding entry `mac → node` of VXLAN device `index`; for
    /// [`FLOOD_MAC`], adds `node` to the flooding list.
    pub fn add_fdb(&mut self, index: u32, mac: [u8; 6], node: Ipv4Addr) -> Result<()> {
        self.request(
            format!("add fdb entry {} dst {node} to link {index}", mac_text(mac)),
            RouteNetlinkMessage::NewNeighbour(fdb_message(index, mac, node)),
            fdb_add_flags(mac),
        )
    }

    /// Deletes the forwarding entry `mac → node` of VXLAN device `index`; a missing entry is not
    /// an error.
    pub fn delete_fdb(&mut self, index: u32, mac: [u8; 6], node: Ipv4Addr) -> Result<()> {
        missing_is_fine(self.request(
            format!(
                "delete fdb entry {} dst {node} from link {index}",
                mac_text(mac)
            ),
            RouteNetlinkMessage::DelNeighbour(fdb_message(index, mac, node)),
            0,
        ))
    }

    /// Adds (or replaces) the permanent neighbour entry `ip → mac` on link `index`.
    pub fn add_neighbour(&mut self, index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> Result<()> {
        self.request(
            format!(
                "add neighbour {ip} lladdr {} to link {index}",
                mac_text(mac)
            ),
            RouteNetlinkMessage::NewNeighbour(neighbour_message(index, ip, mac)),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
    }

    /// Deletes the neighbour entry of `ip` on link `index`; a missing entry is not an error.
    pub fn delete_neighbour(&mut self, index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> Result<()> {
        missing_is_fine(self.request(
            format!("delete neighbour {ip} from link {index}"),
            RouteNetlinkMessage::DelNeighbour(neighbour_message(index, ip, mac)),
            0,
        ))
    }

    /// The forwarding entries of VXLAN device `index` that have a remote destination, as
    /// `(mac, node)`.
    #[cfg(feature = "testing")]
    pub fn fdb_entries(&mut self, index: u32) -> Result<Vec<([u8; 6], Ipv4Addr)>> {
        let mut req = NeighbourMessage::default();
        req.header.family = AddressFamily::Bridge;
        let answers = self
            .nl
            .dump(RouteNetlinkMessage::GetNeighbour(req))
            .map_err(crate::network::nl_err("list fdb entries"))?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) if n.header.ifindex == index => Some(n),
                _ => None,
            })
            .filter_map(|n| {
                let mac = n.attributes.iter().find_map(|a| match a {
                    NeighbourAttribute::LinkLayerAddress(m) => {
                        <[u8; 6]>::try_from(m.as_slice()).ok()
                    }
                    _ => None,
                })?;
                let node = n.attributes.iter().find_map(|a| match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(*ip),
                    NeighbourAttribute::Destination(NeighbourAddress::Other(b)) if b.len() == 4 => {
                        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                    }
                    _ => None,
                })?;
                Some((mac, node))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::Emitable as _;

    use super::*;

    const MAC: [u8; 6] = [0x02, 0x42, 10, 9, 0, 3];

    #[test]
    fn fdb_entries_go_to_the_devices_own_table_with_a_remote_destination() {
        let node = Ipv4Addr::new(192, 0, 2, 2);
        let msg = fdb_message(9, MAC, node);
        assert_eq!(msg.header.family, AddressFamily::Bridge);
        assert_eq!(msg.header.ifindex, 9);
        assert_eq!(msg.header.state, NeighbourState::Permanent);
        assert_eq!(msg.header.flags, NeighbourFlags::Own);
        assert!(
            msg.attributes
                .contains(&NeighbourAttribute::LinkLayerAddress(MAC.to_vec()))
        );
        // NDA_DST (1) carries the node's four address bytes.
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        let dst = [8u8, 0, 1, 0, 192, 0, 2, 2];
        assert!(buf.windows(dst.len()).any(|w| w == dst), "{buf:02x?}");
    }

    #[test]
    fn the_flooding_entry_is_appended_and_unicast_entries_replaced() {
        assert_eq!(fdb_add_flags(FLOOD_MAC), NLM_F_CREATE | NLM_F_APPEND);
        assert_eq!(fdb_add_flags(MAC), NLM_F_CREATE | NLM_F_REPLACE);
    }

    #[test]
    fn neighbour_entries_are_permanent_arp_entries() {
        let ip = Ipv4Addr::new(10, 9, 0, 3);
        let msg = neighbour_message(4, ip, MAC);
        assert_eq!(msg.header.family, AddressFamily::Inet);
        assert_eq!(msg.header.ifindex, 4);
        assert_eq!(msg.header.state, NeighbourState::Permanent);
        assert!(
            msg.attributes
                .contains(&NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)))
        );
        assert!(
            msg.attributes
                .contains(&NeighbourAttribute::LinkLayerAddress(MAC.to_vec()))
        );
    }
}
