//! Installing the firewall ruleset as the nftables tables of a data root (families `ip` and
//! `ip6`, named by [`crate::network::table_name`]) through nfnetlink; no other table is touched.
//!
//! [`apply`] replaces a whole table in one atomic batch (when networks come or go, and at agent
//! start), so the kernel then holds exactly what the records describe. Between those, the rules
//! of one endpoint's published ports are appended ([`append`]) and deleted by their tag
//! ([`delete_tagged`]) alone: an attach or detach no longer rebuilds the table (which re-registers
//! every base chain's hook).

mod expr;
mod foreign;
mod ingress;
mod tagged;
mod vip;

pub(super) use foreign::sync as sync_foreign_forward;
pub(super) use ingress::{install as install_mesh, remove as remove_mesh, update as update_mesh};
pub(super) use tagged::{append, delete_tagged};
pub(super) use vip::{install as install_vips, remove as remove_vips, update as update_vips};

use netlink_packet_core::{NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST, NetlinkMessage};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Hook as NlHook, HookNumber, InetHookNumber, NfTablesMessage,
    RuleAttribute, RuleMessage, TableAttribute, TableMessage,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

use super::firewall::{CHAINS, Hook, Rule};
use super::netlink::Netlink;
use super::{Result, nl_err};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NF_ACCEPT: u32 = 1;

/// The address family of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// `ip`: IPv4.
    V4,
    /// `ip6`: IPv6.
    V6,
}

impl Family {
    fn proto(self) -> NetfilterProtoFamily {
        match self {
            Self::V4 => NetfilterProtoFamily::IPv4,
            Self::V6 => NetfilterProtoFamily::IPv6,
        }
    }

    /// The family's name in `nft` syntax.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::V4 => "ip",
            Self::V6 => "ip6",
        }
    }
}

fn message(family: Family, inner: NfTablesMessage) -> NetlinkMessage<NetfilterMessage> {
    let mut msg = NetlinkMessage::from(NetfilterMessage::new(
        NetfilterHeader::new(family.proto(), 0, 0),
        inner,
    ));
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    msg
}

fn control(inner: ControlMessage) -> NetlinkMessage<NetfilterMessage> {
    let mut msg = NetlinkMessage::from(NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES),
        inner,
    ));
    msg.header.flags = NLM_F_REQUEST;
    msg
}

fn table(family: Family, name: &str, delete: bool) -> NetlinkMessage<NetfilterMessage> {
    let attrs = TableMessage {
        attributes: vec![TableAttribute::Name(name.to_string())],
    };
    if delete {
        message(family, NfTablesMessage::DeleteTable(attrs))
    } else {
        let mut msg = message(family, NfTablesMessage::NewTable(attrs));
        msg.header.flags |= NLM_F_CREATE;
        msg
    }
}

fn chain(
    family: Family,
    table: &str,
    name: &str,
    hook: Option<Hook>,
) -> NetlinkMessage<NetfilterMessage> {
    let mut attributes = vec![
        ChainAttribute::Table(table.to_string()),
        ChainAttribute::Name(name.to_string()),
    ];
    if let Some(hook) = hook {
        let (number, priority, kind) = match hook {
            Hook::Prerouting => (InetHookNumber::PreRouting, -100i32, "nat"),
            Hook::Output => (InetHookNumber::LocalOut, -100, "nat"),
            Hook::Postrouting => (InetHookNumber::PostRouting, 100, "nat"),
            Hook::Forward => (InetHookNumber::Forward, 0, "filter"),
        };
        attributes.extend([
            ChainAttribute::Hook(vec![
                NlHook::Number(HookNumber::Inet(number)),
                NlHook::Priority(priority as u32),
            ]),
            ChainAttribute::Policy(NF_ACCEPT),
            ChainAttribute::Type(kind.to_string()),
        ]);
    }
    let mut msg = message(
        family,
        NfTablesMessage::NewChain(ChainMessage { attributes }),
    );
    msg.header.flags |= NLM_F_CREATE;
    msg
}

fn rule(family: Family, table: &str, rule: &Rule) -> NetlinkMessage<NetfilterMessage> {
    let mut exprs = Vec::new();
    for m in &rule.matches {
        exprs.extend(expr::encode_match(m));
    }
    exprs.extend(expr::encode_action(&rule.action));
    let mut attributes = vec![
        RuleAttribute::Table(table.to_string()),
        RuleAttribute::Chain(rule.chain.to_string()),
        RuleAttribute::Expressions(exprs),
    ];
    if let Some(tag) = &rule.tag {
        attributes.push(RuleAttribute::UserData(user_data(tag)));
    }
    let mut msg = message(family, NfTablesMessage::NewRule(RuleMessage { attributes }));
    msg.header.flags |= NLM_F_CREATE | NLM_F_APPEND;
    msg
}

/// A rule's user data carrying `tag` as its comment (the type-length-value form `nft` reads, so
/// `nft list` shows `comment "<tag>"`).
fn user_data(tag: &str) -> Vec<u8> {
    const NFTNL_UDATA_RULE_COMMENT: u8 = 0;
    let bytes = &tag.as_bytes()[..tag.len().min(254)];
    let mut data = vec![NFTNL_UDATA_RULE_COMMENT, bytes.len() as u8 + 1];
    data.extend_from_slice(bytes);
    data.push(0);
    data
}

/// Sends `msgs` as one nftables transaction and waits for every acknowledgement.
fn transaction(
    nl: &mut Netlink,
    mut msgs: Vec<NetlinkMessage<NetfilterMessage>>,
    op: impl FnOnce() -> String,
) -> Result<()> {
    if msgs.is_empty() {
        return Ok(());
    }
    msgs.insert(0, control(ControlMessage::BatchBegin));
    msgs.push(control(ControlMessage::BatchEnd));
    let acked = msgs.len() - 2;
    nl.batch(&mut msgs, acked).map_err(nl_err(op()))
}

/// Replaces table `name` of `family` with `rules` in one transaction; with `present == false`
/// the table is removed (a missing table is not an error).
pub(super) fn apply(family: Family, name: &str, present: bool, rules: &[Rule]) -> Result<()> {
    // "create, delete, create" makes the replacement work whether or not the table exists.
    let mut msgs = vec![table(family, name, false), table(family, name, true)];
    if present {
        msgs.push(table(family, name, false));
        msgs.extend(
            CHAINS
                .iter()
                .map(|(chain_name, hook)| chain(family, name, chain_name, *hook)),
        );
        msgs.extend(rules.iter().map(|r| rule(family, name, r)));
    }
    let mut nl = Netlink::netfilter().map_err(nl_err("open netfilter socket"))?;
    transaction(&mut nl, msgs, || {
        format!("replace nftables table {} {name}", family.name())
    })
}
