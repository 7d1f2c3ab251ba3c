//! Installing the firewall ruleset as the nftables table of a data root (family `ip`, named by
//! [`crate::network::table_name`]) through
//! nfnetlink. Every change replaces the whole table in one atomic batch, so the kernel holds
//! exactly what the records describe; no other table is touched.

mod expr;
mod foreign;

pub use foreign::sync as sync_foreign_forward;

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

fn message(inner: NfTablesMessage) -> NetlinkMessage<NetfilterMessage> {
    let mut msg = NetlinkMessage::from(NetfilterMessage::new(
        NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 0),
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

fn table(name: &str, delete: bool) -> NetlinkMessage<NetfilterMessage> {
    let attrs = TableMessage {
        attributes: vec![TableAttribute::Name(name.to_string())],
    };
    if delete {
        message(NfTablesMessage::DeleteTable(attrs))
    } else {
        let mut msg = message(NfTablesMessage::NewTable(attrs));
        msg.header.flags |= NLM_F_CREATE;
        msg
    }
}

fn chain(table: &str, name: &str, hook: Option<Hook>) -> NetlinkMessage<NetfilterMessage> {
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
    let mut msg = message(NfTablesMessage::NewChain(ChainMessage { attributes }));
    msg.header.flags |= NLM_F_CREATE;
    msg
}

fn rule(table: &str, rule: &Rule) -> NetlinkMessage<NetfilterMessage> {
    let mut exprs = Vec::new();
    for m in &rule.matches {
        exprs.extend(expr::encode_match(m));
    }
    exprs.extend(expr::encode_action(&rule.action));
    let mut msg = message(NfTablesMessage::NewRule(RuleMessage {
        attributes: vec![
            RuleAttribute::Table(table.to_string()),
            RuleAttribute::Chain(rule.chain.to_string()),
            RuleAttribute::Expressions(exprs),
        ],
    }));
    msg.header.flags |= NLM_F_CREATE | NLM_F_APPEND;
    msg
}

/// Replaces table `name` with `rules` in one transaction; with `present == false` the table is
/// removed (a missing table is not an error).
pub fn apply(name: &str, present: bool, rules: &[Rule]) -> Result<()> {
    // "create, delete, create" makes the replacement work whether or not the table exists.
    let mut msgs = vec![
        control(ControlMessage::BatchBegin),
        table(name, false),
        table(name, true),
    ];
    if present {
        msgs.push(table(name, false));
        msgs.extend(
            CHAINS
                .iter()
                .map(|(chain_name, hook)| chain(name, chain_name, *hook)),
        );
        msgs.extend(rules.iter().map(|r| rule(name, r)));
    }
    msgs.push(control(ControlMessage::BatchEnd));
    let acked = msgs.len() - 2;
    let mut nl = Netlink::netfilter().map_err(nl_err("open netfilter socket"))?;
    nl.batch(&mut msgs, acked)
        .map_err(nl_err(format!("replace nftables table {name}")))
}
