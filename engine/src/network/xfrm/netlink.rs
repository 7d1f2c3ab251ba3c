//! The xfrm netlink messages of encrypted overlays (`NETLINK_XFRM`, through the rust-netlink
//! `netlink-packet-xfrm` crate): add and delete an ESP SA, add and delete the policy that
//! sends one overlay's VXLAN packets to one node through ESP.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_xfrm::constants::{
    AF_INET, IPPROTO_ESP, IPPROTO_UDP, XFRM_MODE_TRANSPORT, XFRM_POLICY_ALLOW, XFRM_POLICY_OUT,
};
use netlink_packet_xfrm::policy::{DelGetMessage as PolicyId, ModifyMessage as PolicyModify};
use netlink_packet_xfrm::state::{DelGetMessage as SaDelete, ModifyMessage as SaModify};
use netlink_packet_xfrm::{
    Address, AlgAead, Id, LifetimeConfig, Selector, UserPolicyId, UserPolicyInfo, UserSaId,
    UserSaInfo, UserTemplate, XfrmAttrs, XfrmMessage,
};

use super::{AEAD, Flow, ICV_BITS, SOURCE_PORT_MASK, SaId, SaSpec, source_ports};
use crate::network::netlink::Netlink;
use crate::network::{NetworkError, Result, nl_err};

/// Priority of our policies (lower wins; iproute2's default is 0): ahead of a catch-all
/// policy an administrator may have, behind their specific ones.
const PRIORITY: u32 = 100;
/// The SPI of [`Xfrm::probe`]'s SA: reserved by RFC 4303 (1 … 255), so no peer ever sends it.
const PROBE_SPI: u32 = 255;

fn v4(a: Ipv4Addr) -> Address {
    Address::from_ip(&IpAddr::V4(a))
}

/// The request adding the SA `sa` of overlay `flow`.
pub(crate) fn add_sa_message(flow: Flow, sa: &SaSpec) -> XfrmMessage {
    let (src, dst) = sa.id.endpoints(flow.local);
    let mut name = [0u8; 64];
    name[..AEAD.len()].copy_from_slice(AEAD.as_bytes());
    let mut info = UserSaInfo {
        id: Id {
            daddr: v4(dst),
            spi: sa.id.spi,
            proto: IPPROTO_ESP,
        },
        saddr: v4(src),
        lifetime_cfg: LifetimeConfig::default(),
        reqid: flow.vni,
        family: AF_INET,
        mode: XFRM_MODE_TRANSPORT,
        replay_window: 32,
        ..UserSaInfo::default()
    };
    info.selector.family = AF_INET;
    XfrmMessage::AddSa(SaModify {
        user_sa_info: info,
        nlas: vec![XfrmAttrs::EncryptionAlgAead(AlgAead {
            alg_name: name,
            alg_key_len: u32::try_from(sa.key.len() * 8).expect("a 160-bit key"),
            alg_icv_len: ICV_BITS,
            alg_key: sa.key.to_vec(),
        })],
    })
}

/// The request deleting the SA `sa` of overlay `flow`.
pub(crate) fn delete_sa_message(flow: Flow, sa: &SaId) -> XfrmMessage {
    let (_, dst) = sa.endpoints(flow.local);
    XfrmMessage::DeleteSa(SaDelete {
        user_sa_id: UserSaId {
            daddr: v4(dst),
            spi: sa.spi,
            family: AF_INET,
            proto: IPPROTO_ESP,
        },
        nlas: Vec::new(),
    })
}

/// The selector of overlay `flow`'s VXLAN packets to `node`: UDP from this node's address
/// and the overlay's block of source ports to the node's address and the overlay's port.
pub(crate) fn selector(flow: Flow, node: Ipv4Addr) -> Selector {
    let mut sel = Selector {
        sport: source_ports(flow.vni).0,
        sport_mask: SOURCE_PORT_MASK,
        dport: flow.port,
        dport_mask: u16::MAX,
        proto: IPPROTO_UDP,
        ..Selector::default()
    };
    sel.source_prefix(&IpAddr::V4(flow.local), 32);
    sel.destination_prefix(&IpAddr::V4(node), 32);
    sel
}

/// The request adding (or replacing) the outbound policy of overlay `flow` to `node`: its
/// packets need ESP in transport mode with an SA of the overlay's `reqid`.
pub(crate) fn policy_message(flow: Flow, node: Ipv4Addr) -> XfrmMessage {
    let mut template = UserTemplate::default();
    template.source(&IpAddr::V4(flow.local));
    template.destination(&IpAddr::V4(node));
    template.protocol(IPPROTO_ESP);
    template.mode(XFRM_MODE_TRANSPORT);
    template.reqid(flow.vni);
    XfrmMessage::UpdatePolicy(PolicyModify {
        user_policy_info: UserPolicyInfo {
            selector: selector(flow, node),
            lifetime_cfg: LifetimeConfig::default(),
            priority: PRIORITY,
            direction: XFRM_POLICY_OUT,
            action: XFRM_POLICY_ALLOW,
            ..UserPolicyInfo::default()
        },
        nlas: vec![XfrmAttrs::Template(vec![template])],
    })
}

/// The request deleting the outbound policy of overlay `flow` to `node`.
pub(crate) fn delete_policy_message(flow: Flow, node: Ipv4Addr) -> XfrmMessage {
    XfrmMessage::DeletePolicy(PolicyId {
        user_policy_id: UserPolicyId {
            selector: selector(flow, node),
            index: 0,
            direction: XFRM_POLICY_OUT,
        },
        nlas: Vec::new(),
    })
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

/// An xfrm netlink socket in the calling thread's network namespace.
#[derive(Debug)]
pub(crate) struct Xfrm {
    nl: Netlink,
}

impl Xfrm {
    /// Opens the socket.
    pub(crate) fn open() -> Result<Self> {
        Ok(Self {
            nl: Netlink::xfrm().map_err(nl_err("open xfrm netlink socket"))?,
        })
    }

    fn request(&mut self, op: String, msg: XfrmMessage, flags: u16) -> Result<()> {
        self.nl.request(msg, flags).map_err(nl_err(op))
    }

    /// Adds the SA `sa`; one left with its identity (by an agent that died before recording
    /// it) is replaced.
    pub(crate) fn add_sa(&mut self, flow: Flow, sa: &SaSpec) -> Result<()> {
        let op = || format!("add esp sa spi {:#x} with {}", sa.id.spi, sa.id.node);
        match self.request(op(), add_sa_message(flow, sa), NLM_F_CREATE | NLM_F_EXCL) {
            Err(NetworkError::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::EEXIST) =>
            {
                self.delete_sa(flow, &sa.id)?;
                self.request(op(), add_sa_message(flow, sa), NLM_F_CREATE | NLM_F_EXCL)
            }
            other => other,
        }
    }

    /// Whether the kernel can carry an encrypted overlay: adds and deletes at once a
    /// throwaway ESP SA with the overlay's AEAD (loopback addresses, reserved SPI 255, never
    /// used on the wire). Kernels built without ESP (`CONFIG_INET_ESP`) or AES-GCM
    /// (`CONFIG_CRYPTO_GCM`) refuse it.
    pub(crate) fn probe(&mut self) -> Result<()> {
        let flow = Flow {
            local: Ipv4Addr::LOCALHOST,
            vni: 0,
            port: 0,
        };
        let sa = SaSpec {
            id: SaId {
                node: Ipv4Addr::new(127, 0, 0, 2),
                direction: super::Direction::Out,
                key: 0,
                spi: PROBE_SPI,
            },
            key: [0; super::SA_KEY_LEN],
        };
        self.request(
            "add a probe esp sa".into(),
            add_sa_message(flow, &sa),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .or_else(|e| match &e {
            NetworkError::Netlink { source, .. } if source.raw_os_error() == Some(libc::EEXIST) => {
                Ok(())
            }
            _ => Err(e),
        })?;
        self.delete_sa(flow, &sa.id)
    }

    /// Deletes the SA `sa`; a missing one is not an error.
    pub(crate) fn delete_sa(&mut self, flow: Flow, sa: &SaId) -> Result<()> {
        missing_is_fine(self.request(
            format!("delete esp sa spi {:#x} with {}", sa.spi, sa.node),
            delete_sa_message(flow, sa),
            0,
        ))
    }

    /// Adds or replaces the policy of overlay `flow` to `node`.
    pub(crate) fn add_policy(&mut self, flow: Flow, node: Ipv4Addr) -> Result<()> {
        self.request(
            format!("add esp policy of vni {} to {node}", flow.vni),
            policy_message(flow, node),
            NLM_F_CREATE,
        )
    }

    /// Deletes the policy of overlay `flow` to `node`; a missing one is not an error.
    pub(crate) fn delete_policy(&mut self, flow: Flow, node: Ipv4Addr) -> Result<()> {
        missing_is_fine(self.request(
            format!("delete esp policy of vni {} to {node}", flow.vni),
            delete_policy_message(flow, node),
            0,
        ))
    }
}
