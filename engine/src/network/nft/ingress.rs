//! The nftables table of the routing mesh in the host's namespace (see
//! [`crate::network::ingress`] for the layout): the whole table when the first port comes, and
//! afterwards only the objects of the ports that changed, each change one transaction. The
//! per-port objects are built as the virtual addresses' are ([`super::vip`]), with the target
//! port added to the DNAT.

use std::net::Ipv4Addr;

use netlink_packet_core::NetlinkMessage;
use netlink_packet_netfilter::NetfilterMessage;
use netlink_packet_netfilter::nftables::{DataAttribute, Register, SetElementAttribute};

use super::expr::{
    self, Expr, NFPROTO_IPV4, NFT_NAT_DNAT, PAYLOAD_TRANSPORT, be32, encode_action, encode_match,
    other,
};
use super::vip::{
    Balanced, NFT_DATA_VERDICT, REG_1, REG_VERDICT, lookup, new_map_keyed, new_rule, open,
};
use super::{Family, chain, table, transaction};
use crate::network::Result;
use crate::network::firewall::{Action, Hook, Match};
use crate::network::ingress::{
    MeshChanges, MeshPort, MeshProtocol, backends_map, chain_name, ports_map,
};

/// nftables' data type of transport ports (`inet_service`), two bytes.
const TYPE_INET_SERVICE: (u32, u32) = (13, 2);

const FAMILY: Family = Family::V4;
const PROTOCOLS: [MeshProtocol; 2] = [MeshProtocol::Tcp, MeshProtocol::Udp];

type Msg = NetlinkMessage<NetfilterMessage>;

/// `dnat ip to <register 1>:<target>`.
fn dnat_to_register(target: u16) -> Vec<Expr> {
    vec![
        expr::immediate(
            Register::Reg2,
            DataAttribute::Value(target.to_be_bytes().to_vec()),
        ),
        // NFTA_NAT_TYPE = 1, FAMILY = 2, REG_ADDR_MIN = 3, REG_PROTO_MIN = 5
        other(
            "nat",
            vec![
                (1, be32(NFT_NAT_DNAT)),
                (2, be32(NFPROTO_IPV4)),
                (3, be32(REG_1)),
                (5, be32(2)),
            ],
        ),
    ]
}

/// The rule of a base chain sending traffic to a local address of `protocol` through its
/// port map.
fn dispatch_rule(table: &str, base: &str, protocol: MeshProtocol) -> Msg {
    let mut exprs = encode_match(&Match::DaddrLocal);
    exprs.extend(encode_match(&Match::L4Proto(protocol.number())));
    exprs.push(expr::payload(PAYLOAD_TRANSPORT, 2, 2));
    exprs.push(lookup(&ports_map(protocol), REG_VERDICT));
    new_rule(table, base, exprs)
}

fn port_key(published: u16) -> SetElementAttribute {
    SetElementAttribute::Key(DataAttribute::Value(published.to_be_bytes().to_vec()))
}

/// A published port as a balanced entry of its protocol's port map, DNATed at its target
/// port (`backends` and `target` unused when the port is removed).
fn balanced(
    protocol: MeshProtocol,
    published: u16,
    target: u16,
    backends: &[Ipv4Addr],
) -> Balanced<'_> {
    Balanced {
        dispatch_map: ports_map(protocol),
        key: port_key(published),
        chain: chain_name(protocol, published),
        backends_map: backends_map(protocol, published),
        backends,
        dnat: dnat_to_register(target),
    }
}

fn of(port: &MeshPort) -> Balanced<'_> {
    balanced(port.protocol, port.published, port.target, &port.backends)
}

/// Makes table `name` (family `ip`, the calling thread's namespace) hold exactly `ports`, in
/// one transaction; `bridge` is the ingress overlay's bridge, out of which DNATed traffic is
/// masqueraded to the bridge's address.
pub(crate) fn install(name: &str, bridge: &str, ports: &[MeshPort]) -> Result<()> {
    let mut msgs = vec![
        table(FAMILY, name, false),
        table(FAMILY, name, true),
        table(FAMILY, name, false),
        chain(FAMILY, name, "prerouting", Some(Hook::Prerouting)),
        chain(FAMILY, name, "output", Some(Hook::Output)),
        chain(FAMILY, name, "postrouting", Some(Hook::Postrouting)),
    ];
    for (protocol, id) in PROTOCOLS.into_iter().zip(1..) {
        msgs.push(new_map_keyed(
            name,
            &ports_map(protocol),
            id,
            TYPE_INET_SERVICE,
            NFT_DATA_VERDICT,
        ));
        msgs.push(dispatch_rule(name, "prerouting", protocol));
        msgs.push(dispatch_rule(name, "output", protocol));
    }
    let mut masquerade = encode_match(&Match::Oif(bridge.to_owned()));
    masquerade.extend(encode_match(&Match::Dnatted));
    masquerade.extend(encode_action(&Action::Masquerade));
    msgs.push(new_rule(name, "postrouting", masquerade));
    for (p, id) in ports.iter().zip(3..) {
        of(p).add(name, id, &mut msgs);
    }
    transaction(&mut open()?, msgs, || {
        format!("install nftables table ip {name}")
    })
}

/// Applies `changes` to table `name` in one transaction: removals, then changes, then
/// additions.
pub(crate) fn update(name: &str, changes: &MeshChanges) -> Result<()> {
    let mut msgs = Vec::new();
    for key in &changes.removed {
        balanced(key.0, key.1, 0, &[]).remove(name, &mut msgs);
    }
    for p in &changes.changed {
        of(p).change(name, &mut msgs);
    }
    for (p, id) in changes.added.iter().zip(1..) {
        of(p).add(name, id, &mut msgs);
    }
    transaction(&mut open()?, msgs, || {
        format!("update nftables table ip {name}")
    })
}

/// Deletes table `name` (family `ip`) as the VIP tables are deleted; a missing table is not
/// an error.
pub(crate) use super::vip::remove;
