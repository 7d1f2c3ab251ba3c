//! Links, addresses and routes through rtnetlink: bridges, veth pairs, moving a veth end into a
//! container's namespace; addresses, the default route, and reading the host's routes are in
//! [`addr`]; VXLAN devices in [`vxlan`], their forwarding and neighbour entries in [`fdb`].

// Public only with the `testing` feature (see the parent module); crate-internal otherwise.
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

mod addr;
mod fdb;
mod vxlan;

pub use fdb::FLOOD_MAC;
pub use vxlan::VxlanSpec;

use std::os::fd::RawFd;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};

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

fn link_of(msg: RouteNetlinkMessage) -> Option<Link> {
    let RouteNetlinkMessage::NewLink(l) = msg else {
        return None;
    };
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
    Some(link)
}

fn with_index(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.attributes = attributes;
    msg
}

/// The loopback device's index, the same in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

fn request_msg(inner: RouteNetlinkMessage, flags: u16) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(inner),
    );
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
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
        Ok(answers.into_iter().filter_map(link_of).collect())
    }

    /// The link called `name`, if any (one request, not a dump of every link).
    pub fn find(&mut self, name: &str) -> Result<Option<Link>> {
        let mut msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetLink(with_index(
                0,
                vec![LinkAttribute::IfName(name.to_string())],
            ))),
        );
        msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        match self.nl.exchange(msg) {
            Ok(answers) => Ok(answers.into_iter().find_map(link_of)),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(nl_err(format!("find link {name}"))(e)),
        }
    }

    fn index(&mut self, name: &str) -> Result<u32> {
        self.find(name)?
            .map(|l| l.index)
            .ok_or_else(|| super::NetworkError::Netlink {
                op: format!("find link {name}"),
                source: std::io::Error::from_raw_os_error(libc::ENODEV),
            })
    }

    /// Creates a bridge (down) with a random locally administered MAC address and returns its
    /// index; see [`Links::create_bridge_with_mac`].
    #[cfg(feature = "testing")]
    pub fn create_bridge(&mut self, name: &str, mtu: u32) -> Result<u32> {
        let mut mac = [0u8; 6];
        let random = super::record::random_hex(6)
            .map_err(nl_err(format!("create bridge {name}: read /dev/urandom")))?;
        for (i, byte) in mac.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&random[2 * i..2 * i + 2], 16)
                .expect("random_hex yields hex digits");
        }
        mac[0] = (mac[0] & 0xfc) | 0x02;
        self.create_bridge_with_mac(name, mtu, mac)
    }

    /// Creates a bridge (down) with the MAC address `mac` and returns its index. A bridge
    /// created without an address takes the lowest MAC of its ports and changes it whenever a
    /// lower port joins or that port leaves; an address set here stays, so the neighbours'
    /// ARP entries for the bridge's addresses (the gateway, the DNS server) stay true.
    pub fn create_bridge_with_mac(&mut self, name: &str, mtu: u32, mac: [u8; 6]) -> Result<u32> {
        let msg = with_index(
            0,
            vec![
                LinkAttribute::IfName(name.to_string()),
                LinkAttribute::Mtu(mtu),
                LinkAttribute::Address(mac.to_vec()),
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

    /// Sets the MAC address of link `index`. On a bridge this also pins the address: it no
    /// longer follows its ports (setting the current address keeps it without a change).
    pub fn set_mac(&mut self, index: u32, mac: &[u8]) -> Result<()> {
        self.set(
            format!("set the mac address of link {index}"),
            index,
            vec![LinkAttribute::Address(mac.to_vec())],
        )
    }

    /// Creates a veth pair `host` ↔ `peer` with the given MTU; returns the host end's index.
    #[cfg(feature = "testing")]
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

    /// Creates the veth pair of an endpoint in one exchange: the host end `host` up, a port of
    /// bridge `bridge` in hairpin mode; the peer created right inside the namespace `netns_fd`
    /// under its final name `peer` with its MAC address (down: a veth end cannot come up before
    /// its pair exists; [`Links::configure_endpoint`] brings it up).
    pub fn create_endpoint_veth(
        &mut self,
        host: &str,
        bridge: u32,
        mtu: u32,
        peer: &str,
        mac: [u8; 6],
        netns_fd: RawFd,
    ) -> Result<()> {
        let peer_msg = with_index(
            0,
            vec![
                LinkAttribute::IfName(peer.to_string()),
                LinkAttribute::Mtu(mtu),
                LinkAttribute::Address(mac.to_vec()),
                LinkAttribute::NetNsFd(netns_fd),
            ],
        );
        let mut veth = with_index(
            0,
            vec![
                LinkAttribute::IfName(host.to_string()),
                LinkAttribute::Mtu(mtu),
                LinkAttribute::Controller(bridge),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::Kind(InfoKind::Veth),
                    LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
                ]),
            ],
        );
        veth.header.flags = LinkFlags::Up;
        veth.header.change_mask = LinkFlags::Up;
        let hairpin = with_index(
            0,
            vec![
                LinkAttribute::IfName(host.to_string()),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::PortKind(InfoPortKind::Bridge),
                    LinkInfo::PortData(InfoPortData::BridgePort(vec![
                        InfoBridgePort::HairpinMode(true),
                    ])),
                ]),
            ],
        );
        let mut msgs = [
            request_msg(
                RouteNetlinkMessage::NewLink(veth),
                NLM_F_CREATE | NLM_F_EXCL,
            ),
            request_msg(RouteNetlinkMessage::NewLink(hairpin), 0),
        ];
        self.nl
            .batch(&mut msgs, 2)
            .map_err(nl_err(format!("create veth {host} into bridge {bridge}")))
    }

    fn set(&mut self, op: String, index: u32, attributes: Vec<LinkAttribute>) -> Result<()> {
        self.request(
            op,
            RouteNetlinkMessage::SetLink(with_index(index, attributes)),
            0,
        )
    }

    /// Sets the MTU of link `index`.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        self.set(
            format!("set the mtu of link {index} to {mtu}"),
            index,
            vec![LinkAttribute::Mtu(mtu)],
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

    /// Moves link `index` into the namespace `netns_fd`.
    #[cfg(feature = "testing")]
    pub fn move_to_netns(&mut self, index: u32, netns_fd: RawFd) -> Result<()> {
        self.set(
            format!("move link {index} to a container namespace"),
            index,
            vec![LinkAttribute::NetNsFd(netns_fd)],
        )
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
}
