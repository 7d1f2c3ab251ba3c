//! Links, addresses and routes through rtnetlink: bridges, veth pairs, moving a veth end into a
//! container's namespace, addresses, the default route, and reading the host's routes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

use ipnet::Ipv4Net;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::netlink::Netlink;
use super::{Result, nl_err};

/// A link of the current namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// The MTU.
    pub mtu: u32,
    /// The MAC address.
    pub mac: Vec<u8>,
    /// Whether the admin state is up.
    pub up: bool,
}

/// rtnetlink operations in the namespace the socket was opened in.
#[derive(Debug)]
pub struct Links {
    nl: Netlink,
}

fn with_index(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.attributes = attributes;
    msg
}

impl Links {
    /// Opens a route socket in the calling thread's namespace.
    pub fn open() -> Result<Self> {
        Ok(Self {
            nl: Netlink::route().map_err(nl_err("open route socket"))?,
        })
    }

    fn request(
        &mut self,
        op: impl Into<String>,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<()> {
        self.nl.request(msg, flags).map_err(nl_err(op))
    }

    /// Every link.
    pub fn list(&mut self) -> Result<Vec<Link>> {
        let answers = self
            .nl
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .map_err(nl_err("list links"))?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .map(|l| {
                let mut link = Link {
                    index: l.header.index,
                    name: String::new(),
                    mtu: 0,
                    mac: Vec::new(),
                    up: l.header.flags.contains(LinkFlags::Up),
                };
                for attr in l.attributes {
                    match attr {
                        LinkAttribute::IfName(n) => link.name = n,
                        LinkAttribute::Mtu(m) => link.mtu = m,
                        LinkAttribute::Address(a) => link.mac = a,
                        _ => {}
                    }
                }
                link
            })
            .collect())
    }

    /// The link called `name`, if any.
    pub fn find(&mut self, name: &str) -> Result<Option<Link>> {
        Ok(self.list()?.into_iter().find(|l| l.name == name))
    }

    fn index(&mut self, name: &str) -> Result<u32> {
        self.find(name)?
            .map(|l| l.index)
            .ok_or_else(|| super::NetworkError::Netlink {
                op: format!("find link {name}"),
                source: std::io::Error::from_raw_os_error(libc::ENODEV),
            })
    }

    /// Creates a bridge (down) and returns its index.
    pub fn create_bridge(&mut self, name: &str, mtu: u32) -> Result<u32> {
        let msg = with_index(
            0,
            vec![
                LinkAttribute::IfName(name.to_string()),
                LinkAttribute::Mtu(mtu),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
            ],
        );
        self.request(
            format!("create bridge {name}"),
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.index(name)
    }

    /// Creates a veth pair `host` ↔ `peer` with the given MTU; returns the host end's index.
    pub fn create_veth(&mut self, host: &str, peer: &str, mtu: u32) -> Result<u32> {
        let peer_msg = with_index(
            0,
            vec![
                LinkAttribute::IfName(peer.to_string()),
                LinkAttribute::Mtu(mtu),
            ],
        );
        let msg = with_index(
            0,
            vec![
                LinkAttribute::IfName(host.to_string()),
                LinkAttribute::Mtu(mtu),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::Kind(InfoKind::Veth),
                    LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
                ]),
            ],
        );
        self.request(
            format!("create veth {host}"),
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.index(host)
    }

    fn set(&mut self, op: String, index: u32, attributes: Vec<LinkAttribute>) -> Result<()> {
        self.request(
            op,
            RouteNetlinkMessage::SetLink(with_index(index, attributes)),
            0,
        )
    }

    /// Enslaves link `index` to bridge `bridge`.
    pub fn set_master(&mut self, index: u32, bridge: u32) -> Result<()> {
        self.set(
            format!("attach link {index} to bridge {bridge}"),
            index,
            vec![LinkAttribute::Controller(bridge)],
        )
    }

    /// Turns on hairpin mode of bridge port `index`, so that a frame may leave by the port it
    /// came in (a container reaching its own published port when bridged traffic passes
    /// netfilter).
    pub fn set_hairpin(&mut self, index: u32) -> Result<()> {
        let msg = with_index(
            index,
            vec![LinkAttribute::LinkInfo(vec![
                LinkInfo::PortKind(InfoPortKind::Bridge),
                LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                    true,
                )])),
            ])],
        );
        self.request(
            format!("set hairpin mode on link {index}"),
            RouteNetlinkMessage::NewLink(msg),
            0,
        )
    }

    /// Moves link `index` into the namespace `netns_fd`.
    pub fn move_to_netns(&mut self, index: u32, netns_fd: RawFd) -> Result<()> {
        self.set(
            format!("move link {index} to a container namespace"),
            index,
            vec![LinkAttribute::NetNsFd(netns_fd)],
        )
    }

    /// Renames link `index` and sets its MAC address (it must be down).
    pub fn rename(&mut self, index: u32, name: &str, mac: Option<[u8; 6]>) -> Result<()> {
        let mut attrs = vec![LinkAttribute::IfName(name.to_string())];
        if let Some(mac) = mac {
            attrs.push(LinkAttribute::Address(mac.to_vec()));
        }
        self.set(format!("rename link {index} to {name}"), index, attrs)
    }

    /// Brings link `index` up.
    pub fn up(&mut self, index: u32) -> Result<()> {
        let mut msg = with_index(index, vec![]);
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(
            format!("set link {index} up"),
            RouteNetlinkMessage::SetLink(msg),
            0,
        )
    }

    /// Brings the link called `name` up.
    pub fn up_by_name(&mut self, name: &str) -> Result<()> {
        let index = self.index(name)?;
        self.up(index)
    }

    /// Deletes the link called `name`; a missing link is not an error.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        let Some(link) = self.find(name)? else {
            return Ok(());
        };
        match self.request(
            format!("delete link {name}"),
            RouteNetlinkMessage::DelLink(with_index(link.index, vec![])),
            0,
        ) {
            Err(super::NetworkError::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::ENODEV) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Adds `addr/prefix` to link `index`.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(addr)),
            AddressAttribute::Address(IpAddr::V4(addr)),
        ];
        if prefix < 31 {
            let net = Ipv4Net::new(addr, prefix).map_err(|e| super::NetworkError::Netlink {
                op: format!("add address {addr}/{prefix}"),
                source: std::io::Error::other(e),
            })?;
            msg.attributes
                .push(AddressAttribute::Broadcast(net.broadcast()));
        }
        self.request(
            format!("add address {addr}/{prefix} to link {index}"),
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds `addr/prefix` to link `index` without duplicate address detection (the address is
    /// ours alone on the bridge, and DAD would hold it back for a second or two).
    pub fn add_address_v6(&mut self, index: u32, addr: Ipv6Addr, prefix: u8) -> Result<()> {
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
        self.request(
            format!("add address {addr}/{prefix} to link {index}"),
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds the IPv6 default route via `gateway` in the main table.
    pub fn add_default_route_v6(&mut self, gateway: Ipv6Addr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet6;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet6(gateway))];
        self.request(
            format!("add default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds the default route via `gateway` in the main table.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(gateway))];
        self.request(
            format!("add default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
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
