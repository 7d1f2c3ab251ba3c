//! The pieces of Docker's container shapes made from the agent's summary: state names, the
//! `docker ps` status text, ports, endpoints and mounts.

use api::agent::{ContainerState, ContainerSummary, Endpoint, Health, Mount, PortBinding};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::time;

/// Docker's state word.
pub(crate) fn state_name(state: ContainerState) -> &'static str {
    match state {
        ContainerState::Created | ContainerState::Unspecified => "created",
        ContainerState::Running => "running",
        ContainerState::Paused => "paused",
        ContainerState::Exited => "exited",
    }
}

/// Docker's health word (empty without a healthcheck).
pub(crate) fn health_name(health: Health) -> &'static str {
    match health {
        Health::None => "",
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}

/// The `STATUS` column of `docker ps` at `now` (nanoseconds).
pub(crate) fn status_text(c: &ContainerSummary, now: u64) -> String {
    match c.state() {
        ContainerState::Created | ContainerState::Unspecified => "Created".into(),
        ContainerState::Running | ContainerState::Paused => {
            let mut text = format!("Up {}", time::human(time::since(c.started_at, now)));
            let health = health_name(c.health());
            if c.state() == ContainerState::Paused {
                text.push_str(" (Paused)");
            } else if health == "starting" {
                text.push_str(" (health: starting)");
            } else if !health.is_empty() {
                text.push_str(&format!(" ({health})"));
            }
            text
        }
        ContainerState::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code,
            time::human(time::since(c.finished_at, now))
        ),
    }
}

/// The address without its prefix length, and the prefix length.
pub(crate) fn split_cidr(cidr: &str) -> (String, u32) {
    match cidr.split_once('/') {
        Some((addr, len)) => (addr.to_string(), len.parse().unwrap_or(0)),
        None => (cidr.to_string(), 0),
    }
}

/// Docker's `EndpointSettings` of the endpoint of container `id`. On a user-defined network
/// Docker lists the container's short id among its aliases (clients such as docker-compose
/// look for it to tell a container already set up on the network).
pub(crate) fn endpoint_settings(id: &str, e: &Endpoint) -> Value {
    let (ip, prefix) = split_cidr(&e.ipv4_address);
    let (ip6, prefix6) = split_cidr(&e.ipv6_address);
    let mut aliases = e.aliases.clone();
    let short = id.get(..12).unwrap_or(id);
    if !matches!(e.network.as_str(), "bridge" | "host" | "none")
        && !aliases.iter().any(|a| a == short)
    {
        aliases.push(short.to_string());
    }
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
        "MacAddress": e.mac_address,
        "NetworkID": e.network_id,
        "EndpointID": e.network_id,
        "Gateway": e.gateway,
        "IPAddress": ip,
        "IPPrefixLen": prefix,
        "IPv6Gateway": "",
        "GlobalIPv6Address": ip6,
        "GlobalIPv6PrefixLen": prefix6,
        "DNSNames": if aliases.is_empty() { Value::Null } else { json!(aliases) },
    })
}

/// `Networks`: each endpoint's settings by network name, for container `id`.
pub(crate) fn networks(id: &str, endpoints: &[Endpoint]) -> Map<String, Value> {
    endpoints
        .iter()
        .map(|e| (e.network.clone(), endpoint_settings(id, e)))
        .collect()
}

/// One port of `docker ps`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Port {
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    private_port: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_port: Option<u32>,
    #[serde(rename = "Type")]
    kind: String,
}

fn protocol(p: &PortBinding) -> String {
    if p.protocol.is_empty() {
        "tcp".into()
    } else {
        p.protocol.clone()
    }
}

/// The ports of `docker ps`, ranges expanded.
pub(crate) fn ports(bindings: &[PortBinding]) -> Vec<Port> {
    let mut out = Vec::new();
    for p in bindings {
        let end = p.container_port_end.max(p.container_port);
        for (i, port) in (p.container_port..=end).enumerate() {
            let offset = u32::try_from(i).unwrap_or(0);
            out.push(Port {
                ip: Some(if p.host_ip.is_empty() {
                    "0.0.0.0".into()
                } else {
                    p.host_ip.clone()
                }),
                private_port: port,
                public_port: (p.host_port != 0).then_some(p.host_port + offset),
                kind: protocol(p),
            });
        }
    }
    out
}

/// `NetworkSettings.Ports` of inspect: `"80/tcp": [{"HostIp": …, "HostPort": …}]`.
pub(crate) fn port_map(bindings: &[PortBinding]) -> Map<String, Value> {
    let mut out = Map::new();
    for p in ports(bindings) {
        let key = format!("{}/{}", p.private_port, p.kind);
        let entry = out.entry(key).or_insert_with(|| json!([]));
        if let (Some(list), Some(public)) = (entry.as_array_mut(), p.public_port) {
            list.push(
                json!({ "HostIp": p.ip.unwrap_or_default(), "HostPort": public.to_string() }),
            );
        }
    }
    out
}

/// Docker's `MountPoint` of one mount.
pub(crate) fn mount(m: &Mount) -> Value {
    let volume = m.r#type == "volume";
    json!({
        "Type": m.r#type,
        "Name": if volume { m.source.as_str() } else { "" },
        "Source": m.docker_source(),
        "Destination": m.target,
        "Driver": if volume { "local" } else { "" },
        "Mode": "",
        "RW": !m.read_only,
        "Propagation": if m.propagation.is_empty() && m.r#type == "bind" { "rprivate" } else { m.propagation.as_str() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(state: ContainerState) -> ContainerSummary {
        let mut c = ContainerSummary {
            started_at: 1_000_000_000_000,
            finished_at: 1_000_000_000_000,
            exit_code: 3,
            ..Default::default()
        };
        c.set_state(state);
        c
    }

    #[test]
    fn status_texts() {
        let now = 1_000_000_000_000 + 300_000_000_000;
        assert_eq!(
            status_text(&summary(ContainerState::Running), now),
            "Up 5 minutes"
        );
        assert_eq!(
            status_text(&summary(ContainerState::Exited), now),
            "Exited (3) 5 minutes ago"
        );
        assert_eq!(
            status_text(&summary(ContainerState::Created), now),
            "Created"
        );
        let mut healthy = summary(ContainerState::Running);
        healthy.set_health(Health::Healthy);
        assert_eq!(status_text(&healthy, now), "Up 5 minutes (healthy)");
    }

    #[test]
    fn port_shapes() {
        let binding = PortBinding {
            host_port: 8080,
            container_port: 80,
            ..Default::default()
        };
        let map = port_map(&[binding]);
        assert_eq!(
            Value::Object(map),
            json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]})
        );
        assert_eq!(split_cidr("10.0.0.2/24"), ("10.0.0.2".to_string(), 24));
    }

    #[test]
    fn user_networks_alias_the_short_id() {
        let id = "0123456789abcdef";
        let front = Endpoint {
            network: "front".into(),
            aliases: vec!["web".into()],
            ..Default::default()
        };
        let bridge = Endpoint {
            network: "bridge".into(),
            ..Default::default()
        };
        assert_eq!(
            endpoint_settings(id, &front)["Aliases"],
            json!(["web", "0123456789ab"])
        );
        assert_eq!(endpoint_settings(id, &bridge)["Aliases"], Value::Null);
    }
}
