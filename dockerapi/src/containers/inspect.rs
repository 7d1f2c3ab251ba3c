//! `GET /containers/{id}/json`: Docker's `ContainerJSON` from the agent's summary and the
//! engine spec it records.

use api::agent::{ContainerState, InspectResponse};
use serde_json::{Value, json};

use super::shape;
use crate::context::Context;
use crate::reply::{ApiError, Reply, json};
use crate::time;

/// The agent's record of a container (404 in Docker's words when there is none).
pub(crate) async fn fetch(context: &Context, id: &str) -> Result<InspectResponse, ApiError> {
    context
        .containers()
        .inspect(api::agent::ContainerRef {
            container: id.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| {
            if status.code() == tonic::Code::NotFound {
                ApiError::not_found(format!("No such container: {id}"))
            } else {
                status.into()
            }
        })
}

/// Whether the container runs with a terminal (its output is then not multiplexed).
pub(crate) fn tty(inspect: &InspectResponse) -> bool {
    spec(inspect)["tty"].as_bool().unwrap_or(false)
}

fn spec(inspect: &InspectResponse) -> Value {
    serde_json::from_str(&inspect.spec_json).unwrap_or(Value::Null)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Docker's `ContainerJSON`.
pub(crate) fn container_json(inspect: &InspectResponse) -> Value {
    let c = inspect.summary.clone().unwrap_or_default();
    let spec = spec(inspect);
    let args = strings(&spec["args"]);
    let state = c.state();
    let running = matches!(state, ContainerState::Running | ContainerState::Paused);
    let bridge = c.networks.iter().find(|e| e.network == "bridge");
    let (ip, prefix) = bridge.map_or((String::new(), 0), |e| shape::split_cidr(&e.ipv4_address));
    let network_mode = c
        .networks
        .first()
        .map_or("default".to_string(), |e| e.network.clone());
    let health = shape::health_name(c.health());
    json!({
        "Id": c.id,
        "Created": time::rfc3339(c.created_at),
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": shape::state_name(state),
            "Running": state == ContainerState::Running,
            "Paused": state == ContainerState::Paused,
            "Restarting": false,
            "OOMKilled": c.oom_killed,
            "Dead": false,
            "Pid": if running { c.pid } else { 0 },
            "ExitCode": c.exit_code,
            "Error": "",
            "StartedAt": time::rfc3339(c.started_at),
            "FinishedAt": time::rfc3339(c.finished_at),
            "Health": if health.is_empty() { Value::Null } else {
                json!({ "Status": health, "FailingStreak": 0, "Log": [] })
            },
        },
        "Image": c.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": "",
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "HostConfig": {
            "NetworkMode": network_mode,
            "AutoRemove": c.auto_remove,
            "PortBindings": shape::port_map(&c.ports),
            "RestartPolicy": { "Name": "", "MaximumRetryCount": 0 },
            "Privileged": false,
            "ReadonlyRootfs": spec["read_only_root"].as_bool().unwrap_or(false),
            "Init": spec["init"].as_bool().unwrap_or(false),
            "LogConfig": { "Type": "json-file", "Config": {} },
        },
        "Mounts": c.mounts.iter().map(shape::mount).collect::<Vec<_>>(),
        "Config": {
            "Hostname": spec["hostname"].as_str().unwrap_or(""),
            "Domainname": spec["domainname"].as_str().unwrap_or(""),
            "User": spec["user"].as_str().unwrap_or(""),
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": spec["tty"].as_bool().unwrap_or(false),
            "OpenStdin": spec["stdin"].as_bool().unwrap_or(false),
            "StdinOnce": false,
            "Env": strings(&spec["env"]),
            "Cmd": args,
            "Image": c.image,
            "WorkingDir": spec["cwd"].as_str().unwrap_or(""),
            "Entrypoint": null,
            "Labels": c.labels,
        },
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": "",
            "SandboxKey": "",
            "Ports": shape::port_map(&c.ports),
            "EndpointID": bridge.map(|e| e.network_id.clone()).unwrap_or_default(),
            "Gateway": bridge.map(|e| e.gateway.clone()).unwrap_or_default(),
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": ip,
            "IPPrefixLen": prefix,
            "IPv6Gateway": "",
            "MacAddress": bridge.map(|e| e.mac_address.clone()).unwrap_or_default(),
            "Networks": shape::networks(&c.id, &c.networks),
        },
    })
}

/// `GET /containers/{id}/json`.
pub(crate) async fn inspect(context: &Context, id: &str) -> Reply {
    let response = fetch(context, id).await?;
    json(&container_json(&response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::agent::{ContainerSummary, Endpoint};

    #[test]
    fn the_bridge_address_is_the_top_level_address() {
        let mut summary = ContainerSummary {
            id: "abc".into(),
            name: "web".into(),
            networks: vec![Endpoint {
                network: "bridge".into(),
                ipv4_address: "172.30.0.5/16".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        summary.set_state(ContainerState::Running);
        let inspect = InspectResponse {
            summary: Some(summary),
            spec_json: r#"{"args":["sleep","10"],"tty":true}"#.into(),
        };
        let v = container_json(&inspect);
        assert_eq!(v["NetworkSettings"]["IPAddress"], "172.30.0.5");
        assert_eq!(
            v["NetworkSettings"]["Networks"]["bridge"]["IPPrefixLen"],
            16
        );
        assert_eq!(v["Name"], "/web");
        assert_eq!(v["Path"], "sleep");
        assert_eq!(v["Args"], json!(["10"]));
        assert_eq!(v["State"]["Running"], true);
        assert!(tty(&inspect));
    }
}
