//! Encoding of [`Match`]es and [`Action`]s as nftables expressions (the same byte code `nft`
//! generates for the equivalent rule text).

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, ExpressionAttribute, Expressions, Immediate, ListAttribute, Meta,
    MetaKey, Operator, Payload, Register, Verdict, VerdictAttribute,
};

use crate::network::firewall::{Action, Match};

pub(super) type Expr = ListAttribute<ExpressionAttribute>;

const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
pub(super) const PAYLOAD_NETWORK: u32 = 1;
pub(super) const PAYLOAD_TRANSPORT: u32 = 2;
const NFT_CT_STATE: u32 = 0;
const NFT_CT_STATUS: u32 = 2;
const CT_ESTABLISHED_RELATED: u32 = 0b110;
const IPS_DST_NAT: u32 = 1 << 5;
const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
const NFTA_FIB_F_DADDR: u32 = 1 << 1;
const RTN_LOCAL: u32 = 2;
pub(super) const NFT_NAT_DNAT: u32 = 1;
pub(super) const NFPROTO_IPV4: u32 = 2;
const NFPROTO_IPV6: u32 = 10;
const IFNAMSIZ: usize = 16;

pub(super) fn be32(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

pub(super) fn other(name: &str, attrs: Vec<(u16, Vec<u8>)>) -> Expr {
    Expressions::Other {
        expression_type: name.to_string(),
        attributes: attrs
            .into_iter()
            .map(|(k, v)| DefaultNla::new(k, v))
            .collect(),
    }
    .into()
}

fn cmp(op: Operator, data: Vec<u8>) -> Expr {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(Register::Reg1),
        Cmp::Op(op),
        Cmp::Data(DataAttribute::Value(data)),
    ])
    .into()
}

fn meta(key: MetaKey) -> Expr {
    Expressions::Meta(vec![
        Meta::Key(key),
        Meta::DestinationRegister(Register::Reg1),
    ])
    .into()
}

pub(super) fn payload(base: u32, offset: u32, len: u32) -> Expr {
    Expressions::Payload(vec![
        Payload::DestinationRegister(Register::Reg1),
        Payload::Base(base),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
    .into()
}

fn mask(len: u32, mask: Vec<u8>) -> Expr {
    Expressions::Bitwise(vec![
        Bitwise::SourceRegister(Register::Reg1),
        Bitwise::DestinationRegister(Register::Reg1),
        Bitwise::Length(len),
        Bitwise::Mask(DataAttribute::Value(mask)),
        Bitwise::Xor(DataAttribute::Value(vec![0; len as usize])),
    ])
    .into()
}

fn ct(key: u32) -> Expr {
    // NFTA_CT_DREG = 1, NFTA_CT_KEY = 2
    other("ct", vec![(1, be32(1)), (2, be32(key))])
}

/// An interface name as `cmp` data: NUL-padded to IFNAMSIZ, or the bare prefix for `name*`.
fn ifname(name: &str) -> Vec<u8> {
    match name.strip_suffix('*') {
        Some(prefix) => prefix.as_bytes().to_vec(),
        None => {
            let mut v = name.as_bytes().to_vec();
            v.resize(IFNAMSIZ, 0);
            v
        }
    }
}

pub(super) fn immediate(reg: Register, data: DataAttribute) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(reg),
        Immediate::Data(data),
    ])
    .into()
}

fn verdict(attrs: Vec<VerdictAttribute>) -> Expr {
    immediate(Register::Verdict, DataAttribute::Verdict(attrs))
}

/// The expressions of one condition.
pub(super) fn encode_match(m: &Match) -> Vec<Expr> {
    match m {
        Match::Iif(n) => vec![meta(MetaKey::Iifname), cmp(Operator::Equal, ifname(n))],
        Match::Oif(n) => vec![meta(MetaKey::Oifname), cmp(Operator::Equal, ifname(n))],
        Match::IifNot(n) => vec![meta(MetaKey::Iifname), cmp(Operator::NotEqual, ifname(n))],
        Match::OifNot(n) => vec![meta(MetaKey::Oifname), cmp(Operator::NotEqual, ifname(n))],
        Match::Saddr(net) | Match::Daddr(net) | Match::DaddrNot(net) => {
            let source = matches!(m, Match::Saddr(_));
            let op = match m {
                Match::DaddrNot(_) => Operator::NotEqual,
                _ => Operator::Equal,
            };
            // IPv4 header: saddr at 12, daddr at 16; IPv6 header: saddr at 8, daddr at 24.
            let (offset, len, netmask, network) = match net {
                IpNet::V4(n) => (
                    if source { 12 } else { 16 },
                    4,
                    n.netmask().octets().to_vec(),
                    n.network().octets().to_vec(),
                ),
                IpNet::V6(n) => (
                    if source { 8 } else { 24 },
                    16,
                    n.netmask().octets().to_vec(),
                    n.network().octets().to_vec(),
                ),
            };
            let mut v = vec![payload(PAYLOAD_NETWORK, offset, len)];
            if net.prefix_len() < net.max_prefix_len() {
                v.push(mask(len, netmask));
            }
            v.push(cmp(op, network));
            v
        }
        Match::DaddrLocal => vec![
            // NFTA_FIB_DREG = 1, NFTA_FIB_RESULT = 2, NFTA_FIB_FLAGS = 3
            other(
                "fib",
                vec![
                    (1, be32(1)),
                    (2, be32(NFT_FIB_RESULT_ADDRTYPE)),
                    (3, be32(NFTA_FIB_F_DADDR)),
                ],
            ),
            cmp(Operator::Equal, RTN_LOCAL.to_ne_bytes().to_vec()),
        ],
        Match::L4Proto(p) => vec![meta(MetaKey::L4Proto), cmp(Operator::Equal, vec![*p])],
        Match::Dport(p) => vec![
            payload(PAYLOAD_TRANSPORT, 2, 2),
            cmp(Operator::Equal, p.to_be_bytes().to_vec()),
        ],
        Match::Established => vec![
            ct(NFT_CT_STATE),
            mask(4, CT_ESTABLISHED_RELATED.to_ne_bytes().to_vec()),
            cmp(Operator::NotEqual, vec![0; 4]),
        ],
        Match::Dnatted => vec![
            ct(NFT_CT_STATUS),
            mask(4, IPS_DST_NAT.to_ne_bytes().to_vec()),
            cmp(Operator::NotEqual, vec![0; 4]),
        ],
    }
}

/// The expressions of one action.
pub(super) fn encode_action(a: &Action) -> Vec<Expr> {
    match a {
        Action::Accept => vec![verdict(vec![VerdictAttribute::Code(Verdict::Other(
            NF_ACCEPT,
        ))])],
        Action::Drop => vec![verdict(vec![VerdictAttribute::Code(Verdict::Other(
            NF_DROP,
        ))])],
        Action::Jump(chain) => vec![verdict(vec![
            VerdictAttribute::Code(Verdict::Jump),
            VerdictAttribute::Chain(chain.to_string()),
        ])],
        Action::Masquerade => vec![other("masq", vec![])],
        Action::Dnat(ip, port) => {
            let (address, family) = match ip {
                IpAddr::V4(a) => (a.octets().to_vec(), NFPROTO_IPV4),
                IpAddr::V6(a) => (a.octets().to_vec(), NFPROTO_IPV6),
            };
            vec![
                immediate(Register::Reg1, DataAttribute::Value(address)),
                immediate(
                    Register::Reg2,
                    DataAttribute::Value(port.to_be_bytes().to_vec()),
                ),
                // NFTA_NAT_TYPE = 1, FAMILY = 2, REG_ADDR_MIN = 3, REG_PROTO_MIN = 5
                other(
                    "nat",
                    vec![
                        (1, be32(NFT_NAT_DNAT)),
                        (2, be32(family)),
                        (3, be32(1)),
                        (5, be32(2)),
                    ],
                ),
            ]
        }
    }
}
