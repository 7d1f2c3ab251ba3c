//! The nftables objects of an overlay's virtual addresses in one container's network
//! namespace (see [`crate::network::vip`] for the layout): the whole table when the container
//! joins, and afterwards only the objects of the services that changed, each change one
//! transaction. Both run in the calling thread's namespace (the caller enters the
//! container's).

use std::net::Ipv4Addr;

use netlink_packet_core::{NLM_F_CREATE, NetlinkMessage};
use netlink_packet_netfilter::NetfilterMessage;
use netlink_packet_netfilter::nftables::{
    DataAttribute, ListAttribute, NfTablesMessage, RuleAttribute, RuleMessage, SetAttribute,
    SetElementAttribute, SetElementList, SetElementMessage, SetFlags, SetMessage, Verdict,
    VerdictAttribute,
};

use super::expr::{self, Expr, NFPROTO_IPV4, NFT_NAT_DNAT, PAYLOAD_NETWORK, be32, other};
use super::{Family, chain, message, table, transaction};
use crate::network::firewall::Hook;
use crate::network::netlink::Netlink;
use crate::network::vip::{
    OUTPUT_CHAIN, SERVICES_MAP, VipChanges, VipService, backends_map, chain_name,
};
use crate::network::{Result, nl_err};

/// nftables' data type of IPv4 addresses (`ipv4_addr`).
const TYPE_IPADDR: u32 = 7;
/// nftables' data type of plain integers.
const TYPE_INTEGER: u32 = 4;
/// The data type of verdict maps.
pub(super) const NFT_DATA_VERDICT: u32 = 0xffff_ff00;
/// `numgen` type `random`.
const NFT_NG_RANDOM: u32 = 1;
/// The verdict register and the first data register.
pub(super) const REG_VERDICT: u32 = 0;
pub(super) const REG_1: u32 = 1;

const FAMILY: Family = Family::V4;

type Msg = NetlinkMessage<NetfilterMessage>;

fn nul_terminated(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    v
}

/// `lookup` of register 1 in set `set`, the result (a map's data) in `dreg`.
pub(super) fn lookup(set: &str, dreg: u32) -> Expr {
    // NFTA_LOOKUP_SET = 1, SREG = 2, DREG = 3
    other(
        "lookup",
        vec![(1, nul_terminated(set)), (2, be32(REG_1)), (3, be32(dreg))],
    )
}

/// `numgen random mod modulus` into register 1.
fn numgen(modulus: u32) -> Expr {
    // NFTA_NG_DREG = 1, MODULUS = 2, TYPE = 3
    other(
        "numgen",
        vec![
            (1, be32(REG_1)),
            (2, be32(modulus)),
            (3, be32(NFT_NG_RANDOM)),
        ],
    )
}

/// `dnat ip to <register 1>`, ports unchanged.
fn dnat_to_register() -> Expr {
    // NFTA_NAT_TYPE = 1, FAMILY = 2, REG_ADDR_MIN = 3
    other(
        "nat",
        vec![
            (1, be32(NFT_NAT_DNAT)),
            (2, be32(NFPROTO_IPV4)),
            (3, be32(REG_1)),
        ],
    )
}

pub(super) fn new_rule(table: &str, chain: &str, exprs: Vec<Expr>) -> Msg {
    let mut msg = message(
        FAMILY,
        NfTablesMessage::NewRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(table.to_owned()),
                RuleAttribute::Chain(chain.to_owned()),
                RuleAttribute::Expressions(exprs),
            ],
        }),
    );
    msg.header.flags |= NLM_F_CREATE | netlink_packet_core::NLM_F_APPEND;
    msg
}

/// Every rule of `chain` deleted (a rule deletion naming the chain alone).
fn flush_chain(table: &str, chain: &str) -> Msg {
    message(
        FAMILY,
        NfTablesMessage::DeleteRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(table.to_owned()),
                RuleAttribute::Chain(chain.to_owned()),
            ],
        }),
    )
}

fn delete_chain(table: &str, chain: &str) -> Msg {
    use netlink_packet_netfilter::nftables::{ChainAttribute, ChainMessage};
    message(
        FAMILY,
        NfTablesMessage::DeleteChain(ChainMessage {
            attributes: vec![
                ChainAttribute::Table(table.to_owned()),
                ChainAttribute::Name(chain.to_owned()),
            ],
        }),
    )
}

/// A named map of `key_type` keys (4 bytes) to `data_type` data (4 bytes, or verdicts); `id`
/// tells it from the other sets of the transaction (the kernel requires one).
fn new_map(table: &str, name: &str, id: u32, key_type: u32, data_type: u32) -> Msg {
    new_map_keyed(table, name, id, (key_type, 4), data_type)
}

/// [`new_map`] with keys of `key.1` bytes of type `key.0`.
pub(super) fn new_map_keyed(
    table: &str,
    name: &str,
    id: u32,
    key: (u32, u32),
    data_type: u32,
) -> Msg {
    let mut attributes = vec![
        SetAttribute::Table(table.to_owned()),
        SetAttribute::Name(name.to_owned()),
        SetAttribute::Id(id),
        SetAttribute::Flags(SetFlags::Map),
        SetAttribute::KeyType(key.0),
        SetAttribute::KeyLen(key.1),
        SetAttribute::DataType(data_type),
    ];
    if data_type != NFT_DATA_VERDICT {
        attributes.push(SetAttribute::DataLen(4));
    }
    let mut msg = message(FAMILY, NfTablesMessage::NewSet(SetMessage { attributes }));
    msg.header.flags |= NLM_F_CREATE;
    msg
}

fn delete_map(table: &str, name: &str) -> Msg {
    message(
        FAMILY,
        NfTablesMessage::DeleteSet(SetMessage {
            attributes: vec![
                SetAttribute::Table(table.to_owned()),
                SetAttribute::Name(name.to_owned()),
            ],
        }),
    )
}

/// Elements of map `set`, or (with `delete` and no elements) every element.
fn elements(table: &str, set: &str, elems: Vec<Vec<SetElementAttribute>>, delete: bool) -> Msg {
    let mut attributes = vec![
        SetElementList::Table(table.to_owned()),
        SetElementList::Set(set.to_owned()),
    ];
    if !elems.is_empty() {
        attributes.push(SetElementList::Elements(
            elems.into_iter().map(ListAttribute::Element).collect(),
        ));
    }
    let inner = SetElementMessage { attributes };
    if delete {
        message(FAMILY, NfTablesMessage::DeleteSetElement(inner))
    } else {
        let mut msg = message(FAMILY, NfTablesMessage::NewSetElement(inner));
        msg.header.flags |= NLM_F_CREATE;
        msg
    }
}

fn vip_key(vip: Ipv4Addr) -> SetElementAttribute {
    SetElementAttribute::Key(DataAttribute::Value(vip.octets().to_vec()))
}

/// One load-balanced entry of a table: a key in a dispatch (verdict) map that jumps to the
/// entry's chain, whose rule picks one of the backends at random from the entry's backend map
/// and DNATs to it. A service's VIP here; a published port of the routing mesh
/// ([`super::ingress`]) the same way, with the target port in its DNAT.
pub(super) struct Balanced<'a> {
    /// The dispatch map holding the entry's key.
    pub(super) dispatch_map: String,
    /// The entry's key in it.
    pub(super) key: SetElementAttribute,
    /// The entry's chain.
    pub(super) chain: String,
    /// The entry's backend map.
    pub(super) backends_map: String,
    /// The backends' addresses.
    pub(super) backends: &'a [Ipv4Addr],
    /// The DNAT to the address the lookup left in register 1.
    pub(super) dnat: Vec<Expr>,
}

impl Balanced<'_> {
    /// The backends as the map's elements: index (host order, as `numgen` leaves it) →
    /// address.
    fn backend_elements(&self) -> Vec<Vec<SetElementAttribute>> {
        self.backends
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

    /// The chain's rule: pick a backend at random and DNAT to it (none without backends).
    fn pick_rule(&self, table: &str) -> Option<Msg> {
        let n = u32::try_from(self.backends.len()).ok().filter(|n| *n > 0)?;
        let mut exprs = vec![numgen(n), lookup(&self.backends_map, REG_1)];
        exprs.extend(self.dnat.iter().cloned());
        Some(new_rule(table, &self.chain, exprs))
    }

    /// The backend map's elements and the rule, over an empty map and chain.
    fn fill(&self, table: &str, out: &mut Vec<Msg>) {
        let elems = self.backend_elements();
        if !elems.is_empty() {
            out.push(elements(table, &self.backends_map, elems, false));
        }
        out.extend(self.pick_rule(table));
    }

    /// The messages adding the entry: its chain and backend map, the rule, then its key in
    /// the dispatch map (so it is reached only once complete). `id` numbers the map.
    pub(super) fn add(self, table: &str, id: u32, out: &mut Vec<Msg>) {
        out.push(chain(FAMILY, table, &self.chain, None));
        out.push(new_map(
            table,
            &self.backends_map,
            id,
            TYPE_INTEGER,
            TYPE_IPADDR,
        ));
        self.fill(table, out);
        out.push(elements(
            table,
            &self.dispatch_map,
            vec![vec![
                self.key,
                SetElementAttribute::Data(DataAttribute::Verdict(vec![
                    VerdictAttribute::Code(Verdict::Goto),
                    VerdictAttribute::Chain(self.chain),
                ])),
            ]],
            false,
        ));
    }

    /// The messages replacing the entry's backends: its rule and its map's elements.
    pub(super) fn change(&self, table: &str, out: &mut Vec<Msg>) {
        out.push(flush_chain(table, &self.chain));
        out.push(elements(table, &self.backends_map, Vec::new(), true));
        self.fill(table, out);
    }

    /// The messages removing the entry: its key in the dispatch map first (no new connection
    /// reaches it), then its rule, chain and backend map.
    pub(super) fn remove(self, table: &str, out: &mut Vec<Msg>) {
        out.push(elements(
            table,
            &self.dispatch_map,
            vec![vec![self.key]],
            true,
        ));
        out.push(flush_chain(table, &self.chain));
        out.push(delete_chain(table, &self.chain));
        out.push(delete_map(table, &self.backends_map));
    }
}

/// A service's VIP as a balanced entry of the `services` map.
fn balanced(vip: Ipv4Addr, backends: &[Ipv4Addr]) -> Balanced<'_> {
    Balanced {
        dispatch_map: SERVICES_MAP.to_owned(),
        key: vip_key(vip),
        chain: chain_name(vip),
        backends_map: backends_map(vip),
        backends,
        dnat: vec![dnat_to_register()],
    }
}

pub(super) fn open() -> Result<Netlink> {
    Netlink::netfilter().map_err(nl_err("open netfilter socket"))
}

/// Makes table `name` (family `ip`) hold exactly `services`, in one transaction: a table
/// left by an earlier attachment of the namespace is replaced.
pub(crate) fn install(name: &str, services: &[VipService]) -> Result<()> {
    let mut msgs = vec![
        table(FAMILY, name, false),
        table(FAMILY, name, true),
        table(FAMILY, name, false),
        chain(FAMILY, name, OUTPUT_CHAIN, Some(Hook::Output)),
        new_map(name, SERVICES_MAP, 1, TYPE_IPADDR, NFT_DATA_VERDICT),
        new_rule(
            name,
            OUTPUT_CHAIN,
            vec![
                expr::payload(PAYLOAD_NETWORK, 16, 4),
                lookup(SERVICES_MAP, REG_VERDICT),
            ],
        ),
    ];
    for (s, id) in services.iter().zip(2..) {
        balanced(s.vip, &s.backends).add(name, id, &mut msgs);
    }
    transaction(&mut open()?, msgs, || {
        format!("install nftables table ip {name}")
    })
}

/// Applies `changes` to table `name` in one transaction: removals, then changes, then
/// additions.
pub(crate) fn update(name: &str, changes: &VipChanges) -> Result<()> {
    let mut msgs = Vec::new();
    for vip in &changes.removed {
        balanced(*vip, &[]).remove(name, &mut msgs);
    }
    for s in &changes.changed {
        balanced(s.vip, &s.backends).change(name, &mut msgs);
    }
    for (s, id) in changes.added.iter().zip(1..) {
        balanced(s.vip, &s.backends).add(name, id, &mut msgs);
    }
    transaction(&mut open()?, msgs, || {
        format!("update nftables table ip {name}")
    })
}

/// Deletes table `name` (family `ip`); a missing table is not an error.
pub(crate) fn remove(name: &str) -> Result<()> {
    let msgs = vec![table(FAMILY, name, false), table(FAMILY, name, true)];
    transaction(&mut open()?, msgs, || {
        format!("delete nftables table ip {name}")
    })
}
