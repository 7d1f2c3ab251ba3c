//! Rules of one endpoint in a table of ours: appended in one transaction, and found again by
//! the tag in their user data (the endpoint's host-side veth) to be deleted in one transaction.

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage};
use netlink_packet_netfilter::nftables::{NfTablesMessage, RuleAttribute, RuleMessage};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterMessageInner};

use super::{Family, rule, transaction, user_data};
use crate::network::firewall::Rule;
use crate::network::netlink::Netlink;
use crate::network::{Result, nl_err};

fn open() -> Result<Netlink> {
    Netlink::netfilter().map_err(nl_err("open netfilter socket"))
}

/// Appends `rules` to their chains of table `table` in one transaction (nothing to do for no
/// rules: no socket is opened).
pub(crate) fn append(family: Family, table: &str, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let msgs = rules.iter().map(|r| rule(family, table, r)).collect();
    transaction(&mut open()?, msgs, || {
        format!("add rules to nftables table {} {table}", family.name())
    })
}

/// Handles of the rules of `chain` in `table` whose user data is `tag`.
fn tagged_handles(
    nl: &mut Netlink,
    family: Family,
    table: &str,
    chain: &str,
    tag: &[u8],
) -> Result<Vec<u64>> {
    let mut msg = NetlinkMessage::from(NetfilterMessage::new(
        NetfilterHeader::new(family.proto(), 0, 0),
        NfTablesMessage::GetRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(table.to_string()),
                RuleAttribute::Chain(chain.to_string()),
            ],
        }),
    ));
    msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let answers = nl.dump_raw(msg).map_err(nl_err(format!(
        "list chain {} {table} {chain}",
        family.name()
    )))?;
    Ok(answers
        .into_iter()
        .filter_map(|m| match m.inner {
            NetfilterMessageInner::NfTables(NfTablesMessage::NewRule(r)) => Some(r.attributes),
            _ => None,
        })
        .filter(|attrs| {
            let has = |want: &RuleAttribute| attrs.iter().any(|a| a == want);
            has(&RuleAttribute::Table(table.to_string()))
                && has(&RuleAttribute::Chain(chain.to_string()))
                && has(&RuleAttribute::UserData(tag.to_vec()))
        })
        .filter_map(|attrs| {
            attrs.into_iter().find_map(|a| match a {
                RuleAttribute::Handle(h) => Some(h),
                _ => None,
            })
        })
        .collect())
}

/// Deletes the rules of `chain` in `table` tagged `tag`, in one transaction; returns how many
/// there were.
pub(crate) fn delete_tagged(family: Family, table: &str, chain: &str, tag: &str) -> Result<usize> {
    let mut nl = open()?;
    let handles = tagged_handles(&mut nl, family, table, chain, &user_data(tag))?;
    let msgs = handles
        .iter()
        .map(|h| {
            let mut msg = NetlinkMessage::from(NetfilterMessage::new(
                NetfilterHeader::new(family.proto(), 0, 0),
                NfTablesMessage::DeleteRule(RuleMessage {
                    attributes: vec![
                        RuleAttribute::Table(table.to_string()),
                        RuleAttribute::Chain(chain.to_string()),
                        RuleAttribute::Handle(*h),
                    ],
                }),
            ));
            msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
            msg
        })
        .collect();
    transaction(&mut nl, msgs, || {
        format!(
            "delete rules of {tag} from nftables table {} {table}",
            family.name()
        )
    })?;
    Ok(handles.len())
}
