//! Keeping the nftables tables in line with the records: whole at network create and remove
//! and at agent start, one endpoint's rules at attach and detach.

use super::Networks;
use crate::network::nft::{self, Family};
use crate::network::record::{Endpoint, NetworkRecord};
use crate::network::{Result, firewall, sysctl};

impl Networks {
    /// Rebuilds both tables and our rules in the foreign `FORWARD` chains from `records` (when
    /// networks come or go, and at agent start).
    pub(super) fn sync_firewall(&self, records: &[NetworkRecord]) -> Result<()> {
        let v6 = firewall::v6::needed(records);
        nft::apply(
            Family::V4,
            &self.table,
            !records.is_empty(),
            &firewall::ruleset(records),
        )?;
        nft::apply(Family::V6, &self.table, v6, &firewall::v6::ruleset(records))?;
        nft::sync_foreign_forward(Family::V4, &self.table, &firewall::forward_accepts(records))?;
        let accepts6 = if v6 {
            firewall::forward_accepts(records)
        } else {
            Vec::new()
        };
        nft::sync_foreign_forward(Family::V6, &self.table, &accepts6)?;
        // IPv6 forwarding only once the ip6 rules isolate the networks, and only when a
        // network routes IPv6 out; it is left on, as IPv4's, when the networks go.
        if records.iter().any(|r| r.subnet_v6.is_some() && !r.internal) {
            sysctl::set("ipv6/conf/all/forwarding", "1")?;
        }
        Ok(())
    }

    /// Adds the rules of one new endpoint (its published ports) to the tables; no nftables
    /// request at all for an endpoint without ports.
    pub(super) fn add_endpoint_rules(&self, ep: &Endpoint) -> Result<()> {
        nft::append(Family::V4, &self.table, &firewall::endpoint_rules(ep))?;
        nft::append(Family::V6, &self.table, &firewall::v6::endpoint_rules(ep))
    }

    /// Deletes the rules of one endpoint (by its tag); nothing to do for one without ports.
    pub(super) fn delete_endpoint_rules(&self, ep: &Endpoint) -> Result<()> {
        if ep.ports.is_empty() {
            return Ok(());
        }
        let tag = &ep.host_ifname;
        nft::delete_tagged(Family::V4, &self.table, firewall::PORTS_CHAIN, tag)?;
        if ep.ipv6.is_some() {
            nft::delete_tagged(Family::V6, &self.table, firewall::PORTS_CHAIN, tag)?;
        }
        Ok(())
    }
}
