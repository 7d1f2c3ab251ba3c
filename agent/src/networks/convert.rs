//! Network records to API messages, API requests to engine requests, and the names a network
//! may have.

use std::net::{Ipv4Addr, Ipv6Addr};

use engine::network::{
    CreateNetwork, MeshPort, MeshProtocol, NetworkRecord, OverlayRequest, Peer, VipService,
};

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
    let overlay = match req.driver.as_str() {
        "" | "bridge" => {
            if let Some(key) = req.options.keys().next() {
                return Err(format!("option {key:?} is not one of the bridge driver"));
            }
            if req.attachable {
                return Err("--attachable is for overlay networks".into());
            }
            None
        }
        "overlay" => Some(overlay_request(req)?),
        other => {
            return Err(format!(
                "network driver {other:?} is not supported: use bridge or overlay"
            ));
        }
    };
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
        overlay,
    })
}

/// The overlay options of a create request: `vni`, `vxlan.port`, `underlay`, `mac` (the
/// bridge's MAC address), `encrypted`.
fn overlay_request(req: &proto::NetworkCreateRequest) -> Result<OverlayRequest, String> {
    let mut out = OverlayRequest {
        attachable: req.attachable,
        ..Default::default()
    };
    for (key, value) in &req.options {
        match key.as_str() {
            "vni" => out.vni = parse("vni", value)?,
            "vxlan.port" => out.port = parse("vxlan port", value)?,
            "underlay" => out.underlay = parse("underlay address", value)?,
            "encrypted" => {
                out.encrypted = match value.as_str() {
                    "" | "true" => true,
                    "false" => false,
                    other => {
                        return Err(format!(
                            "option encrypted takes no value (or true, false), not {other:?}"
                        ));
                    }
                }
            }
            "mac" => {
                out.mac = Some(
                    engine::network::parse_mac(value)
                        .filter(|m| m[0] & 1 == 0)
                        .ok_or_else(|| format!("invalid bridge mac {value:?}: give a unicast address such as 02:42:0a:00:00:02"))?,
                )
            }
            other => {
                return Err(format!(
                    "option {other:?} is not one of the overlay driver (vni, vxlan.port, underlay, mac, encrypted)"
                ));
            }
        }
    }
    Ok(out)
}

/// The engine keys of a set-keys request: each secret exactly
/// [`engine::network::OVERLAY_KEY_LEN`] bytes (the error names the key, never its bytes).
pub fn keys(list: &[proto::OverlayKey]) -> Result<Vec<engine::network::OverlayKey>, String> {
    list.iter()
        .map(|k| {
            let secret = <[u8; engine::network::OVERLAY_KEY_LEN]>::try_from(k.secret.as_slice())
                .map_err(|_| {
                    format!(
                        "key {}: {} bytes, a key has {}",
                        k.id,
                        k.secret.len(),
                        engine::network::OVERLAY_KEY_LEN
                    )
                })?;
            Ok(engine::network::OverlayKey {
                id: k.id,
                secret,
                primary: k.primary,
            })
        })
        .collect()
}

/// The engine peers of a set-peers request.
pub fn peers(list: &[proto::OverlayPeer]) -> Result<Vec<Peer>, String> {
    list.iter()
        .map(|p| {
            let ip = parse::<Ipv4Addr>("peer address", &p.ip)?.ok_or("a peer needs its address")?;
            let node = parse::<Ipv4Addr>("peer node address", &p.node)?
                .ok_or_else(|| format!("peer {ip}: needs its node's underlay address"))?;
            Ok(Peer {
                ip,
                mac: p.mac.clone(),
                node,
                names: p.names.clone(),
            })
        })
        .collect()
}

/// Services' virtual addresses from the wire; the first that does not parse is the error.
pub fn services(list: &[proto::OverlayService]) -> Result<Vec<VipService>, String> {
    list.iter()
        .map(|s| {
            let vip = parse::<Ipv4Addr>("virtual address", &s.vip)?
                .ok_or("a service needs its virtual address")?;
            let backends = s
                .backends
                .iter()
                .map(|b| {
                    parse::<Ipv4Addr>("backend address", b)?
                        .ok_or_else(|| format!("virtual address {vip}: empty backend address"))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let ports = s
                .ports
                .iter()
                .map(|p| {
                    Ok(engine::network::VipPort {
                        name: p.name.clone(),
                        protocol: p.protocol.clone(),
                        port: u16::try_from(p.port).map_err(|_| {
                            format!("virtual address {vip}: port {} out of range", p.port)
                        })?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(VipService {
                vip,
                names: s.names.clone(),
                backends,
                ports,
            })
        })
        .collect()
}

/// A port of the routing mesh on the wire.
pub fn mesh_port_to_wire(p: &MeshPort) -> proto::MeshPort {
    proto::MeshPort {
        protocol: p.protocol.to_string(),
        published: u32::from(p.published),
        target: u32::from(p.target),
        backends: p.backends.iter().map(ToString::to_string).collect(),
    }
}

/// The routing mesh's ports from the wire; the first that does not parse is the error.
pub fn mesh_ports(list: &[proto::MeshPort]) -> Result<Vec<MeshPort>, String> {
    list.iter()
        .map(|p| {
            let protocol = match p.protocol.as_str() {
                "" | "tcp" => MeshProtocol::Tcp,
                "udp" => MeshProtocol::Udp,
                other => {
                    return Err(format!(
                        "published port {}: protocol {other:?} is not tcp or udp",
                        p.published
                    ));
                }
            };
            let port = |what: &str, v: u32| {
                u16::try_from(v)
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| format!("{what} port {v} is not a port"))
            };
            let backends = p
                .backends
                .iter()
                .map(|b| {
                    parse::<Ipv4Addr>("backend address", b)?.ok_or_else(|| {
                        format!("published port {}: empty backend address", p.published)
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(MeshPort {
                protocol,
                published: port("published", p.published)?,
                target: port("target", p.target)?,
                backends,
            })
        })
        .collect()
}

fn overlay_info(rec: &NetworkRecord) -> Option<proto::OverlayInfo> {
    rec.overlay.as_ref().map(|o| proto::OverlayInfo {
        vni: o.vni,
        port: u32::from(o.port),
        underlay: o.underlay.to_string(),
        vxlan: o.vxlan.clone(),
        attachable: o.attachable,
        peers: o
            .peers
            .iter()
            .map(|p| proto::OverlayPeer {
                ip: p.ip.to_string(),
                mac: p.mac.clone(),
                node: p.node.to_string(),
                names: p.names.clone(),
            })
            .collect(),
        services: o
            .services
            .iter()
            .map(|s| proto::OverlayService {
                vip: s.vip.to_string(),
                names: s.names.clone(),
                backends: s.backends.iter().map(ToString::to_string).collect(),
                ports: s
                    .ports
                    .iter()
                    .map(|p| proto::OverlayServicePort {
                        name: p.name.clone(),
                        protocol: p.protocol.clone(),
                        port: u32::from(p.port),
                    })
                    .collect(),
            })
            .collect(),
        mesh: o.mesh.iter().map(mesh_port_to_wire).collect(),
        encrypted: o.encryption.is_some(),
        keys: o.encryption.as_ref().map_or_else(Vec::new, |e| {
            let mut tags = e.keys.clone();
            tags.sort_by_key(|t| (!t.primary, t.id));
            tags.into_iter().map(|t| t.id).collect()
        }),
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
        overlay: overlay_info(rec),
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
                    driver: "macvlan".into(),
                    ..base.clone()
                },
                "driver \"macvlan\"",
            ),
            (
                proto::NetworkCreateRequest {
                    options: [("vni".to_string(), "7".to_string())].into(),
                    ..base.clone()
                },
                "not one of the bridge driver",
            ),
            (
                proto::NetworkCreateRequest {
                    driver: "overlay".into(),
                    options: [("parent".to_string(), "eth0".to_string())].into(),
                    ..base.clone()
                },
                "not one of the overlay driver",
            ),
            (
                proto::NetworkCreateRequest {
                    driver: "overlay".into(),
                    options: [("vxlan.port".to_string(), "70000".to_string())].into(),
                    ..base.clone()
                },
                "invalid vxlan port",
            ),
            (
                proto::NetworkCreateRequest {
                    attachable: true,
                    ..base.clone()
                },
                "--attachable is for overlay",
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
    fn overlay_requests_read_their_options() {
        let req = create_request(&proto::NetworkCreateRequest {
            name: "ov".into(),
            driver: "overlay".into(),
            attachable: true,
            options: [
                ("vni".to_string(), "4242".to_string()),
                ("vxlan.port".to_string(), "4790".to_string()),
                ("underlay".to_string(), "192.0.2.1".to_string()),
            ]
            .into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            req.overlay,
            Some(OverlayRequest {
                vni: Some(4242),
                port: Some(4790),
                underlay: Some(Ipv4Addr::new(192, 0, 2, 1)),
                attachable: true,
                mac: None,
                encrypted: false,
            })
        );
        let encrypted = |value: &str| {
            create_request(&proto::NetworkCreateRequest {
                name: "ov".into(),
                driver: "overlay".into(),
                options: [("encrypted".to_string(), value.to_string())].into(),
                ..Default::default()
            })
            .map(|r| r.overlay.is_some_and(|o| o.encrypted))
        };
        assert_eq!(encrypted(""), Ok(true));
        assert_eq!(encrypted("true"), Ok(true));
        assert_eq!(encrypted("false"), Ok(false));
        assert!(encrypted("yes").unwrap_err().contains("option encrypted"));
        let plain = create_request(&proto::NetworkCreateRequest {
            name: "ov".into(),
            driver: "overlay".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(plain.overlay, Some(OverlayRequest::default()));
    }

    #[test]
    fn keys_take_32_bytes_and_never_show_them_in_errors() {
        let key = |id, len: usize| proto::OverlayKey {
            id,
            secret: vec![0xAB; len],
            primary: true,
        };
        let got = keys(&[key(1, 32)]).unwrap();
        assert_eq!((got[0].id, got[0].primary), (1, true));
        assert_eq!(got[0].secret, [0xAB; 32]);
        let err = keys(&[key(2, 16)]).unwrap_err();
        assert_eq!(err, "key 2: 16 bytes, a key has 32");
    }

    #[test]
    fn peers_parse_or_say_what_is_wrong() {
        let peer = |ip: &str, mac: &str, node: &str| proto::OverlayPeer {
            ip: ip.into(),
            mac: mac.into(),
            node: node.into(),
            names: Vec::new(),
        };
        let got = peers(&[peer("10.9.0.3", "02:42:0a:09:00:03", "192.0.2.2")]).unwrap();
        assert_eq!(got[0].ip, Ipv4Addr::new(10, 9, 0, 3));
        assert_eq!(got[0].node, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(got[0].mac, "02:42:0a:09:00:03");
        for (bad, want) in [
            (peer("", "m", "192.0.2.2"), "needs its address"),
            (peer("10.9.0.x", "m", "192.0.2.2"), "invalid peer address"),
            (peer("10.9.0.3", "m", ""), "needs its node"),
        ] {
            let err = peers(&[bad]).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
