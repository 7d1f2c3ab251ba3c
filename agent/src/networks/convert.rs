//! Network records to API messages, API requests to engine requests, and the names a network
//! may have.

use std::net::{Ipv4Addr, Ipv6Addr};

use engine::network::{CreateNetwork, NetworkRecord};

use crate::proto;

/// Docker's rule for network names: a letter or digit, then letters, digits, `_`, `.`, `-`.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(format!(
            "invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ));
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<Option<T>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("invalid {what} {text:?}"))
}

/// The engine request for a create request (checked for what the API can tell alone).
pub fn create_request(req: &proto::NetworkCreateRequest) -> Result<CreateNetwork, String> {
    check_name(&req.name)?;
    if !matches!(req.driver.as_str(), "" | "bridge") {
        return Err(format!(
            "network driver {:?} is not supported: use bridge",
            req.driver
        ));
    }
    if req.subnet.is_empty() && (!req.gateway.is_empty() || !req.ip_range.is_empty()) {
        return Err("a gateway or ip range needs a subnet".into());
    }
    let asks_v6 = !req.subnet_v6.is_empty() || !req.gateway_v6.is_empty();
    if !req.enable_ipv6 && asks_v6 {
        return Err("an IPv6 subnet or gateway needs IPv6 enabled (--ipv6)".into());
    }
    if req.subnet_v6.is_empty() && !req.gateway_v6.is_empty() {
        return Err("an IPv6 gateway needs an IPv6 subnet".into());
    }
    let mtu = match req.mtu {
        0 => None,
        68..=65535 => Some(req.mtu),
        other => return Err(format!("invalid mtu {other}: use 68 to 65535")),
    };
    Ok(CreateNetwork {
        name: req.name.clone(),
        internal: req.internal,
        labels: req.labels.clone().into_iter().collect(),
        subnet: parse("subnet", &req.subnet)?,
        gateway: parse::<Ipv4Addr>("gateway", &req.gateway)?,
        ip_range: parse("ip range", &req.ip_range)?,
        enable_ipv6: req.enable_ipv6,
        subnet_v6: parse("IPv6 subnet", &req.subnet_v6)?,
        gateway_v6: parse::<Ipv6Addr>("IPv6 gateway", &req.gateway_v6)?,
        mtu,
    })
}

/// RFC 3339 (UTC) of seconds since the epoch.
pub fn rfc3339(secs: u64) -> String {
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The API form of a network.
pub fn network(rec: &NetworkRecord) -> proto::Network {
    let (endpoints, containers) = rec
        .endpoints
        .values()
        .map(|ep| {
            let endpoint = proto::Endpoint {
                network: rec.name.clone(),
                network_id: rec.id.clone(),
                ipv4_address: format!("{}/{}", ep.ipv4, rec.subnet.prefix_len()),
                ipv6_address: match (ep.ipv6, rec.subnet_v6) {
                    (Some(ip), Some(net)) => format!("{ip}/{}", net.prefix_len()),
                    _ => String::new(),
                },
                mac_address: ep.mac.clone(),
                gateway: rec.gateway.to_string(),
                aliases: ep.aliases.clone(),
            };
            (endpoint, ep.container_name.clone())
        })
        .unzip();
    proto::Network {
        id: rec.id.clone(),
        name: rec.name.clone(),
        driver: rec.driver.clone(),
        internal: rec.internal,
        labels: rec.labels.clone().into_iter().collect(),
        subnet: rec.subnet.to_string(),
        gateway: rec.gateway.to_string(),
        ip_range: rec.ip_range.map(|r| r.to_string()).unwrap_or_default(),
        subnet_v6: rec.subnet_v6.map(|s| s.to_string()).unwrap_or_default(),
        gateway_v6: rec.gateway_v6.map(|g| g.to_string()).unwrap_or_default(),
        mtu: rec.mtu,
        bridge: rec.bridge.clone(),
        created: rfc3339(rec.created),
        endpoints,
        containers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["web", "app_default", "a.b-c", "9lives"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "_x", "a b", "a/b", "é"] {
            assert!(
                check_name(bad)
                    .unwrap_err()
                    .contains("invalid network name"),
                "{bad}"
            );
        }
    }

    #[test]
    fn create_requests_are_checked() {
        let base = proto::NetworkCreateRequest {
            name: "web".into(),
            ..Default::default()
        };
        let ok = create_request(&proto::NetworkCreateRequest {
            subnet: "10.1.0.0/24".into(),
            gateway: "10.1.0.254".into(),
            ip_range: "10.1.0.128/25".into(),
            mtu: 1400,
            ..base.clone()
        })
        .unwrap();
        assert_eq!(ok.subnet.unwrap().to_string(), "10.1.0.0/24");
        assert_eq!(ok.gateway, Some(Ipv4Addr::new(10, 1, 0, 254)));
        assert_eq!(ok.mtu, Some(1400));
        let cases = [
            (
                proto::NetworkCreateRequest {
                    driver: "overlay".into(),
                    ..base.clone()
                },
                "driver \"overlay\"",
            ),
            (
                proto::NetworkCreateRequest {
                    subnet: "10.1.0.0".into(),
                    ..base.clone()
                },
                "invalid subnet",
            ),
            (
                proto::NetworkCreateRequest {
                    gateway: "10.1.0.1".into(),
                    ..base.clone()
                },
                "needs a subnet",
            ),
            (
                proto::NetworkCreateRequest {
                    subnet_v6: "fd00::/64".into(),
                    ..base.clone()
                },
                "needs IPv6 enabled",
            ),
            (
                proto::NetworkCreateRequest {
                    mtu: 20,
                    ..base.clone()
                },
                "invalid mtu 20",
            ),
            (
                proto::NetworkCreateRequest {
                    name: "a b".into(),
                    ..base.clone()
                },
                "invalid network name",
            ),
        ];
        for (req, want) in cases {
            let err = create_request(&req).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
