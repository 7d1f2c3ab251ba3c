//! VXLAN devices: the message creating one (up, enslaved to its bridge, learning off, ARP
//! answered from its own neighbour table), and finding the underlay link of an address.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Link, Links, with_index};
use crate::network::{Result, nl_err};

/// What a VXLAN device is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanSpec {
    /// The device name.
    pub name: String,
    /// The VXLAN network identifier.
    pub vni: u32,
    /// The UDP port (the kernel's default, 8472, is never left to chance).
    pub port: u16,
    /// The source address of the encapsulated packets.
    pub local: Ipv4Addr,
    /// The underlay link the packets leave by, when known.
    pub underlay_link: Option<u32>,
    /// The device's MTU.
    pub mtu: u32,
    /// The bridge it is a port of.
    pub bridge: u32,
    /// The UDP source ports `[low, high)` the device sends from, when confined (an encrypted
    /// overlay's, so that its IPsec policies match its packets alone); the kernel's range
    /// otherwise.
    pub source_ports: Option<(u16, u16)>,
}

/// The `RTM_NEWLINK` message creating `spec`'s device: up, a port of its bridge, with source
/// address learning off (every remote endpoint is programmed) and ARP proxying on, so that ARP
/// requests are answered from the device's neighbour entries instead of being flooded to
/// every node.
pub(super) fn vxlan_message(spec: &VxlanSpec) -> LinkMessage {
    let mut data = vec![
        InfoVxlan::Id(spec.vni),
        InfoVxlan::Local(spec.local),
        InfoVxlan::Port(spec.port),
        InfoVxlan::Learning(false),
        InfoVxlan::Proxy(true),
    ];
    if let Some(link) = spec.underlay_link {
        data.push(InfoVxlan::Link(link));
    }
    if let Some(range) = spec.source_ports {
        data.push(InfoVxlan::PortRange(range));
    }
    let mut msg = with_index(
        0,
        vec![
            LinkAttribute::IfName(spec.name.clone()),
            LinkAttribute::Mtu(spec.mtu),
            LinkAttribute::Controller(spec.bridge),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Vxlan),
                LinkInfo::Data(InfoData::Vxlan(data)),
            ]),
        ],
    );
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg
}

impl Links {
    /// Creates the VXLAN device `spec` (up, enslaved to its bridge) and returns its index.
    pub fn create_vxlan(&mut self, spec: &VxlanSpec) -> Result<u32> {
        self.request(
            format!(
                "create vxlan {} (vni {}, port {})",
                spec.name, spec.vni, spec.port
            ),
            RouteNetlinkMessage::NewLink(vxlan_message(spec)),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.index(&spec.name)
    }

    /// The link holding the IPv4 address `addr`, if any.
    pub fn link_of_address(&mut self, addr: Ipv4Addr) -> Result<Option<Link>> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let answers = self
            .nl
            .dump(RouteNetlinkMessage::GetAddress(req))
            .map_err(nl_err("list addresses"))?;
        let index = answers.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a)
                if a.attributes.iter().any(
                    |at| matches!(at, AddressAttribute::Local(IpAddr::V4(l)) if *l == addr),
                ) =>
            {
                Some(a.header.index)
            }
            _ => None,
        });
        match index {
            Some(index) => Ok(self.list()?.into_iter().find(|l| l.index == index)),
            None => Ok(None),
        }
    }

    /// The first IPv4 address of the link the main table's default route leaves by (the
    /// underlay address of a node that was given none); `None` without a default route or
    /// without an address on its link.
    pub fn default_route_address(&mut self) -> Result<Option<Ipv4Addr>> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let routes = self
            .nl
            .dump(RouteNetlinkMessage::GetRoute(req))
            .map_err(nl_err("list routes"))?;
        let oif = routes.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewRoute(r)
                if r.header.destination_prefix_length == 0
                    && r.header.table == RouteHeader::RT_TABLE_MAIN =>
            {
                r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Oif(i) => Some(*i),
                    _ => None,
                })
            }
            _ => None,
        });
        let Some(oif) = oif else {
            return Ok(None);
        };
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let answers = self
            .nl
            .dump(RouteNetlinkMessage::GetAddress(req))
            .map_err(nl_err("list addresses"))?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == oif => Some(a),
                _ => None,
            })
            .find_map(|a| {
                a.attributes.into_iter().find_map(|at| match at {
                    AddressAttribute::Local(IpAddr::V4(l)) => Some(l),
                    _ => None,
                })
            }))
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::Emitable as _;

    use super::*;

    fn spec() -> VxlanSpec {
        VxlanSpec {
            name: "bsn-0a1b2c3d-vx".into(),
            vni: 4242,
            port: 4789,
            local: Ipv4Addr::new(10, 0, 0, 1),
            underlay_link: Some(7),
            mtu: 1450,
            bridge: 12,
            source_ports: None,
        }
    }

    #[test]
    fn vxlan_devices_are_created_up_in_their_bridge_without_learning() {
        let msg = vxlan_message(&spec());
        assert!(msg.header.flags.contains(LinkFlags::Up));
        assert!(msg.header.change_mask.contains(LinkFlags::Up));
        let attrs = &msg.attributes;
        assert!(attrs.contains(&LinkAttribute::IfName("bsn-0a1b2c3d-vx".into())));
        assert!(attrs.contains(&LinkAttribute::Mtu(1450)));
        assert!(attrs.contains(&LinkAttribute::Controller(12)));
        let info = attrs
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => Some(i),
                _ => None,
            })
            .expect("link info");
        assert_eq!(info[0], LinkInfo::Kind(InfoKind::Vxlan));
        let LinkInfo::Data(InfoData::Vxlan(data)) = &info[1] else {
            panic!("vxlan data expected: {info:?}");
        };
        for want in [
            InfoVxlan::Id(4242),
            InfoVxlan::Local(Ipv4Addr::new(10, 0, 0, 1)),
            InfoVxlan::Port(4789),
            InfoVxlan::Learning(false),
            InfoVxlan::Proxy(true),
            InfoVxlan::Link(7),
        ] {
            assert!(data.contains(&want), "{want:?} missing from {data:?}");
        }
    }

    #[test]
    fn vxlan_port_is_sent_in_network_byte_order() {
        // IFLA_VXLAN_PORT (15) is big-endian on the wire, unlike the other integers.
        let msg = vxlan_message(&spec());
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        let port_attr = [6u8, 0, 15, 0, 0x12, 0xb5];
        assert!(
            buf.windows(port_attr.len()).any(|w| w == port_attr),
            "no IFLA_VXLAN_PORT 4789 in {buf:02x?}"
        );
    }

    #[test]
    fn a_confined_source_port_range_is_sent_in_network_byte_order() {
        let msg = vxlan_message(&VxlanSpec {
            source_ports: Some((0xC010, 0xC020)),
            ..spec()
        });
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        // IFLA_VXLAN_PORT_RANGE (10): low then high, both big-endian.
        let range_attr = [8u8, 0, 10, 0, 0xc0, 0x10, 0xc0, 0x20];
        assert!(
            buf.windows(range_attr.len()).any(|w| w == range_attr),
            "no IFLA_VXLAN_PORT_RANGE in {buf:02x?}"
        );
        let plain = format!("{:?}", vxlan_message(&spec()));
        assert!(!plain.contains("PortRange"), "{plain}");
    }

    #[test]
    fn vxlan_without_a_known_underlay_link_names_none() {
        let msg = vxlan_message(&VxlanSpec {
            underlay_link: None,
            ..spec()
        });
        let data = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => i.iter().find_map(|i| match i {
                    LinkInfo::Data(InfoData::Vxlan(d)) => Some(d.clone()),
                    _ => None,
                }),
                _ => None,
            })
            .expect("vxlan data");
        assert!(
            !data.iter().any(|d| matches!(d, InfoVxlan::Link(_))),
            "{data:?}"
        );
        assert!(data.contains(&InfoVxlan::Id(4242)));
    }
}
