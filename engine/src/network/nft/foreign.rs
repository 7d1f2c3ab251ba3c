//! Coexistence with a `FORWARD` chain of another tool (iptables-nft's `ip filter FORWARD`, as
//! Docker or a host firewall leave it with a drop policy): an accept in our own table cannot
//! overrule their drop, so our accept rules are also placed at the head of that chain, each
//! marked with our user data, and only rules carrying that mark are ever removed. The same
//! holds for ip6tables-nft's `ip6 filter FORWARD` and our IPv6 rules.

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage};
use netlink_packet_netfilter::nftables::{NfTablesMessage, RuleAttribute, RuleMessage};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage};

use super::{Family, control, expr};
use crate::network::firewall::Rule;
use crate::network::netlink::Netlink;
use crate::network::{Result, nl_err};

/// The table and chain iptables-nft (and ip6tables-nft, in family `ip6`) uses for forwarded
/// traffic.
pub(super) const FOREIGN_TABLE: &str = "filter";
/// See [`FOREIGN_TABLE`].
pub(super) const FOREIGN_CHAIN: &str = "FORWARD";

fn rule_msg(
    family: Family,
    inner: NfTablesMessage,
    flags: u16,
) -> NetlinkMessage<NetfilterMessage> {
    let mut msg = NetlinkMessage::from(NetfilterMessage::new(
        NetfilterHeader::new(family.proto(), 0, 0),
        inner,
    ));
    msg.header.flags = NLM_F_REQUEST | flags;
    msg
}

fn location() -> Vec<RuleAttribute> {
    vec![
        RuleAttribute::Table(FOREIGN_TABLE.to_string()),
        RuleAttribute::Chain(FOREIGN_CHAIN.to_string()),
    ]
}

/// Handles of the rules marked `mark` in the foreign chain; `None` when the chain does not
/// exist.
fn marked_handles(nl: &mut Netlink, family: Family, mark: &[u8]) -> Option<Vec<u64>> {
    let mut msg = rule_msg(
        family,
        NfTablesMessage::GetRule(RuleMessage {
            attributes: location(),
        }),
        NLM_F_DUMP,
    );
    msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let answers = nl.dump_raw(msg).ok()?;
    let mut handles = Vec::new();
    for m in answers {
        if let netlink_packet_netfilter::NetfilterMessageInner::NfTables(
            NfTablesMessage::NewRule(r),
        ) = m.inner
        {
            let in_chain = r
                .attributes
                .iter()
                .any(|a| matches!(a, RuleAttribute::Chain(c) if c == FOREIGN_CHAIN))
                && r.attributes
                    .iter()
                    .any(|a| matches!(a, RuleAttribute::Table(t) if t == FOREIGN_TABLE));
            if !in_chain {
                continue;
            }
            let marked = r
                .attributes
                .iter()
                .any(|a| matches!(a, RuleAttribute::UserData(u) if u == mark));
            if let Some(h) = r.attributes.iter().find_map(|a| match a {
                RuleAttribute::Handle(h) => Some(*h),
                _ => None,
            }) && marked
            {
                handles.push(h);
            }
        }
    }
    Some(handles)
}

/// Whether the foreign chain exists.
fn chain_exists(nl: &mut Netlink, family: Family) -> bool {
    use netlink_packet_netfilter::nftables::{ChainAttribute, ChainMessage};
    let msg = rule_msg(
        family,
        NfTablesMessage::GetChain(ChainMessage {
            attributes: vec![
                ChainAttribute::Table(FOREIGN_TABLE.to_string()),
                ChainAttribute::Name(FOREIGN_CHAIN.to_string()),
            ],
        }),
        NLM_F_ACK,
    );
    nl.exchange(msg).is_ok()
}

/// Replaces the rules marked with `mark` (the data root's table name: each data root owns its
/// own marked rules) in the foreign chain of `family` with `rules` (nothing when the chain does
/// not exist).
pub(crate) fn sync(family: Family, mark: &str, rules: &[Rule]) -> Result<()> {
    let mark = mark.as_bytes();
    let mut nl = Netlink::netfilter().map_err(nl_err("open netfilter socket"))?;
    if !chain_exists(&mut nl, family) {
        return Ok(());
    }
    let handles = marked_handles(&mut nl, family, mark).unwrap_or_default();
    let mut msgs = vec![control(ControlMessage::BatchBegin)];
    for h in handles {
        let mut attrs = location();
        attrs.push(RuleAttribute::Handle(h));
        msgs.push(rule_msg(
            family,
            NfTablesMessage::DeleteRule(RuleMessage { attributes: attrs }),
            NLM_F_ACK,
        ));
    }
    // Inserted at the head one by one: add them in reverse to keep their order.
    for rule in rules.iter().rev() {
        let mut exprs = Vec::new();
        for m in &rule.matches {
            exprs.extend(expr::encode_match(m));
        }
        exprs.extend(expr::encode_action(&rule.action));
        let mut attrs = location();
        attrs.push(RuleAttribute::Expressions(exprs));
        attrs.push(RuleAttribute::UserData(mark.to_vec()));
        msgs.push(rule_msg(
            family,
            NfTablesMessage::NewRule(RuleMessage { attributes: attrs }),
            NLM_F_CREATE | NLM_F_ACK,
        ));
    }
    msgs.push(control(ControlMessage::BatchEnd));
    let acked = msgs.len() - 2;
    if acked == 0 {
        return Ok(());
    }
    nl.batch(&mut msgs, acked).map_err(nl_err(format!(
        "update chain {} {FOREIGN_TABLE} {FOREIGN_CHAIN}",
        family.name()
    )))
}
