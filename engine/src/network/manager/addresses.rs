//! Choosing an endpoint's addresses: the static ones checked against the network's plan, or
//! the next free ones.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::invalid;
use crate::network::ipam6::Ipam6;
use crate::network::record::NetworkRecord;
use crate::network::{NetworkError, Result};

/// The IPv4 address (`ipv4`, or the next free one) and, on a network with IPv6, the IPv6
/// address (`static_v6`, or the next free one) of a new endpoint on `rec`.
pub(super) fn addresses(
    rec: &NetworkRecord,
    ipv4: Option<Ipv4Addr>,
    static_v6: Option<Ipv6Addr>,
) -> Result<(Ipv4Addr, Option<Ipv6Addr>)> {
    let used = rec.used_addresses();
    let ipv4 = match ipv4 {
        Some(a) => {
            rec.ipam()
                .check(a, &used)
                .map_err(|e| invalid(&rec.name, e.to_string()))?;
            a
        }
        None => rec.ipam().allocate(&used).ok_or_else(|| {
            NetworkError::Exhausted(format!(
                "no available IPv4 addresses on network {}",
                rec.name
            ))
        })?,
    };
    let ipv6 = match (rec.subnet_v6.zip(rec.gateway_v6), static_v6) {
        (None, None) => None,
        (None, Some(a)) => {
            return Err(invalid(
                &rec.name,
                format!("address {a}: the network has no IPv6"),
            ));
        }
        (Some((subnet, gateway)), wanted) => {
            let plan = Ipam6 { subnet, gateway };
            let used = rec.endpoints.values().filter_map(|e| e.ipv6).collect();
            Some(match wanted {
                Some(a) => {
                    plan.check(a, &used).map_err(|m| invalid(&rec.name, m))?;
                    a
                }
                None => plan.allocate(&used).ok_or_else(|| {
                    NetworkError::Exhausted(format!(
                        "no available IPv6 addresses on network {}",
                        rec.name
                    ))
                })?,
            })
        }
    };
    Ok((ipv4, ipv6))
}
