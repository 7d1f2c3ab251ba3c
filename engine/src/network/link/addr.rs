//! Addresses and routes of links, and reading the host's routes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::Ipv4Net;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::LinkFlags;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{LOOPBACK_INDEX, Links, request_msg, with_index};
use crate::network::{NetworkError, Result, nl_err};

fn address_v4(index: u32, addr: Ipv4Addr, prefix: u8) -> Result<AddressMessage> {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.prefix_len = prefix;
    msg.header.index = index;
    msg.attributes = vec![
        AddressAttribute::Local(IpAddr::V4(addr)),
        AddressAttribute::Address(IpAddr::V4(addr)),
    ];
    if prefix < 31 {
        let net =
            Ipv4Net::new(addr, prefix).map_err(|e| crate::network::NetworkError::Netlink {
                op: format!("add address {addr}/{prefix}"),
                source: std::io::Error::other(e),
            })?;
        msg.attributes
            .push(AddressAttribute::Broadcast(net.broadcast()));
    }
    Ok(msg)
}

fn address_v6(index: u32, addr: Ipv6Addr, prefix: u8) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet6;
    msg.header.prefix_len = prefix;
    msg.header.index = index;
    msg.header.flags = AddressHeaderFlags::Nodad;
    msg.attributes = vec![
        AddressAttribute::Local(IpAddr::V6(addr)),
        AddressAttribute::Address(IpAddr::V6(addr)),
        AddressAttribute::Flags(AddressFlags::Nodad),
    ];
    msg
}

impl Links {
    /// Adds addresses (IPv4 `addr/prefix`, and an IPv6 one without duplicate address
    /// detection) to link `index`, brings it and the loopback up, in one exchange.
    pub fn configure_endpoint(
        &mut self,
        index: u32,
        v4: (Ipv4Addr, u8),
        v6: Option<(Ipv6Addr, u8)>,
    ) -> Result<()> {
        let mut lo = with_index(LOOPBACK_INDEX, vec![]);
        lo.header.flags = LinkFlags::Up;
        lo.header.change_mask = LinkFlags::Up;
        let mut msgs = vec![
            request_msg(RouteNetlinkMessage::SetLink(lo), 0),
            request_msg(
                RouteNetlinkMessage::NewAddress(address_v4(index, v4.0, v4.1)?),
                NLM_F_CREATE | NLM_F_EXCL,
            ),
        ];
        if let Some((addr, prefix)) = v6 {
            msgs.push(request_msg(
                RouteNetlinkMessage::NewAddress(address_v6(index, addr, prefix)),
                NLM_F_CREATE | NLM_F_EXCL,
            ));
        }
        let mut up = with_index(index, vec![]);
        up.header.flags = LinkFlags::Up;
        up.header.change_mask = LinkFlags::Up;
        msgs.push(request_msg(RouteNetlinkMessage::SetLink(up), 0));
        let acked = msgs.len();
        self.nl
            .batch(&mut msgs, acked)
            .map_err(nl_err(format!("configure the addresses of link {index}")))
    }

    /// Adds `addr/prefix` to link `index`.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let msg = address_v4(index, addr, prefix)?;
        self.request(
            format!("add address {addr}/{prefix} to link {index}"),
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds `addr/prefix` to link `index` without duplicate address detection (the address is
    /// ours alone on the bridge, and DAD would hold it back for a second or two).
    pub fn add_address_v6(&mut self, index: u32, addr: Ipv6Addr, prefix: u8) -> Result<()> {
        self.request(
            format!("add address {addr}/{prefix} to link {index}"),
            RouteNetlinkMessage::NewAddress(address_v6(index, addr, prefix)),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds the default route of `gateway`'s family via `gateway` in the main table; a
    /// default route that is already there is left as it is.
    pub fn add_default_route(&mut self, gateway: IpAddr) -> Result<()> {
        let mut msg = RouteMessage::default();
        (msg.header.address_family, msg.attributes) = match gateway {
            IpAddr::V4(gw) => (
                AddressFamily::Inet,
                vec![RouteAttribute::Gateway(RouteAddress::Inet(gw))],
            ),
            IpAddr::V6(gw) => (
                AddressFamily::Inet6,
                vec![RouteAttribute::Gateway(RouteAddress::Inet6(gw))],
            ),
        };
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        let added = self.request(
            format!("add default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        );
        match added {
            Err(NetworkError::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::EEXIST) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Every IPv4 destination routed in any table, except default routes.
    pub fn routed_subnets(&mut self) -> Result<Vec<Ipv4Net>> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let answers = self
            .nl
            .dump(RouteNetlinkMessage::GetRoute(req))
            .map_err(nl_err("list routes"))?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Some(r),
                _ => None,
            })
            .filter(|r| r.header.destination_prefix_length > 0)
            .filter_map(|r| {
                r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => {
                        Ipv4Net::new(*d, r.header.destination_prefix_length).ok()
                    }
                    _ => None,
                })
            })
            .map(|n| n.trunc())
            .collect())
    }
}
