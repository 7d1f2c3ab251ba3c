//! The nftables table of the routing mesh in the host's namespace (see
//! [`crate::network::ingress`] for the layout): the whole table when the first port comes, and
//! afterwards only the objects of the ports that changed, each change one transaction. The
//! per-port objects are built as the virtual addresses' are ([`super::vip`]), with the target
//! port added to the DNAT.

use netlink_packet_core::NetlinkMessage;
use netlink_packet_netfilter::NetfilterMessage;
use netlink_packet_netfilter::nftables::{
    DataAttribute, Register, SetElementAttribute, Verdict, VerdictAttribute,
};

use super::expr::{
    self, Expr, NFPROTO_IPV4, NFT_NAT_DNAT, PAYLOAD_TRANSPORT, be32, encode_action, encode_match,
    other,
};
use super::vip::{
    NFT_DATA_VERDICT, REG_1, REG_VERDICT, TYPE_INTEGER, TYPE_IPADDR, delete_chain, delete_map,
    elements, flush_chain, lookup, new_map, new_map_keyed, new_rule, numgen, open,
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

/// The backends of a port as its map's elements: index (host order, as `numgen` leaves it) →
/// address.
fn backend_elements(port: &MeshPort) -> Vec<Vec<SetElementAttribute>> {
    port.backends
        .iter()
        .zip(0u32..)
        .map(|(ip, n)| {
            vec![
                SetElementAttribute::Key(DataAttribute::Value(n.to_ne_bytes().to_vec())),
                SetElementAttribute::Data(DataAttribute::Value(ip.octets().to_vec())),
            ]
        })
        .collect()
}

/// The rule of a port's chain: pick a backend at random and DNAT to it at the target port
/// (none without backends).
fn pick_rule(table: &str, port: &MeshPort) -> Option<Msg> {
    let n = u32::try_from(port.backends.len()).ok().filter(|n| *n > 0)?;
    let mut exprs = vec![
        numgen(n),
        lookup(&backends_map(port.protocol, port.published), REG_1),
    ];
    exprs.extend(dnat_to_register(port.target));
    Some(new_rule(
        table,
        &chain_name(port.protocol, port.published),
        exprs,
    ))
}

/// Adds a port: its chain and backend map, the rule, then its element in its protocol's port
/// map (reached only once complete).
fn add_port(table: &str, port: &MeshPort, id: u32, out: &mut Vec<Msg>) {
    let chain_name = chain_name(port.protocol, port.published);
    let map = backends_map(port.protocol, port.published);
    out.push(chain(FAMILY, table, &chain_name, None));
    out.push(new_map(table, &map, id, TYPE_INTEGER, TYPE_IPADDR));
    let elems = backend_elements(port);
    if !elems.is_empty() {
        out.push(elements(table, &map, elems, false));
    }
    out.extend(pick_rule(table, port));
    out.push(elements(
        table,
        &ports_map(port.protocol),
        vec![vec![
            port_key(port.published),
            SetElementAttribute::Data(DataAttribute::Verdict(vec![
                VerdictAttribute::Code(Verdict::Goto),
                VerdictAttribute::Chain(chain_name),
            ])),
        ]],
        false,
    ));
}

/// Replaces a port's rule and its backend map's elements.
fn change_port(table: &str, port: &MeshPort, out: &mut Vec<Msg>) {
    let map = backends_map(port.protocol, port.published);
    out.push(flush_chain(
        table,
        &chain_name(port.protocol, port.published),
    ));
    out.push(elements(table, &map, Vec::new(), true));
    let elems = backend_elements(port);
    if !elems.is_empty() {
        out.push(elements(table, &map, elems, false));
    }
    out.extend(pick_rule(table, port));
}

/// Removes a port: its element in the port map first (no new connection reaches it), then
/// its rule, chain and backend map.
fn remove_port(table: &str, (protocol, published): (MeshProtocol, u16), out: &mut Vec<Msg>) {
    out.push(elements(
        table,
        &ports_map(protocol),
        vec![vec![port_key(published)]],
        true,
    ));
    out.push(flush_chain(table, &chain_name(protocol, published)));
    out.push(delete_chain(table, &chain_name(protocol, published)));
    out.push(delete_map(table, &backends_map(protocol, published)));
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
        add_port(name, p, id, &mut msgs);
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
        remove_port(name, *key, &mut msgs);
    }
    for p in &changes.changed {
        change_port(name, p, &mut msgs);
    }
    for (p, id) in changes.added.iter().zip(1..) {
        add_port(name, p, id, &mut msgs);
    }
    transaction(&mut open()?, msgs, || {
        format!("update nftables table ip {name}")
    })
}

/// Deletes table `name` (family `ip`) as the VIP tables are deleted; a missing table is not
/// an error.
pub(crate) use super::vip::remove;
