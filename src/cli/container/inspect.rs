//! `bosun container inspect`: a JSON array shaped like Docker's (Id, Name, State, Config,
//! HostConfig), built from the agent's summary and the engine spec.

use std::process::ExitCode;

use agent::AgentClient;
use agent::proto::{ContainerState, Health, InspectResponse};
use clap::Args;
use serde_json::{Value, json};

use super::units::rfc3339;
use crate::cli::format::{self, Format};

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// Container names or ids.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
    /// Format output: `json` (one object per line) or a Go template such as
    /// '{{.NetworkSettings.IPAddress}}' (default: the indented JSON array).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// The network whose address docker shows at the top of `NetworkSettings` (its default bridge).
const DEFAULT_BRIDGE: &str = "bridge";

fn time(nanos: u64) -> String {
    if nanos == 0 {
        "0001-01-01T00:00:00Z".into()
    } else {
        rfc3339(nanos)
    }
}

/// `NetworkSettings.Ports` as docker's map: `"80/tcp"` to its host bindings (`null` for a port
/// exposed but not published); a range is one entry per port, as docker lists it.
fn ports(bindings: &[agent::proto::PortBinding]) -> Value {
    let mut map = serde_json::Map::new();
    for p in bindings {
        let protocol = if p.protocol.is_empty() {
            "tcp"
        } else {
            &p.protocol
        };
        let span = p.container_port_end.saturating_sub(p.container_port);
        for offset in 0..=span {
            let entry = map
                .entry(format!("{}/{protocol}", p.container_port + offset))
                .or_insert(Value::Null);
            if p.host_port == 0 {
                continue;
            }
            let binding = json!({
                "HostIp": if p.host_ip.is_empty() { "0.0.0.0" } else { p.host_ip.as_str() },
                "HostPort": (p.host_port + offset).to_string(),
            });
            match entry {
                Value::Array(list) => list.push(binding),
                other => *other = Value::Array(vec![binding]),
            }
        }
    }
    Value::Object(map)
}

/// Docker's `MountPoint` of one mount, its fields in docker's order (a template printing
/// `{{.Mounts}}` shows them in that order): a volume's name and driver, a bind's propagation.
fn mount_point(m: &agent::proto::Mount) -> Value {
    let volume = m.r#type == "volume";
    let propagation = if m.propagation.is_empty() && m.r#type == "bind" {
        "rprivate"
    } else {
        m.propagation.as_str()
    };
    json!({
        "Type": m.r#type,
        "Name": if volume { m.source.as_str() } else { "" },
        "Source": m.docker_source(),
        "Destination": m.target,
        "Driver": if volume { "local" } else { "" },
        "Mode": "",
        "RW": !m.read_only,
        "Propagation": propagation,
    })
}

/// Docker's inspect object for one container.
pub(super) fn document(response: &InspectResponse) -> anyhow::Result<Value> {
    let s = response.summary.clone().unwrap_or_default();
    let spec: Value = serde_json::from_str(&response.spec_json)?;
    let field = |k: &str| spec.get(k).cloned().unwrap_or(Value::Null);
    let resources = field("resources");
    let res = |k: &str| resources.get(k).cloned().unwrap_or(Value::Null);
    let caps = field("capabilities");
    let restart = field("restart");
    let bridge = s.networks.iter().find(|n| n.network == DEFAULT_BRIDGE);
    let bridge_field = |f: fn(&agent::proto::Endpoint) -> String| bridge.map(f).unwrap_or_default();
    let mut doc = json!({
        "Id": s.id,
        "Created": time(s.created_at),
        "Path": s.command.first().cloned().unwrap_or_default(),
        "Args": s.command.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": s.state().docker_name(),
            "Running": s.is_alive(),
            "Paused": s.state() == ContainerState::Paused,
            "OOMKilled": s.oom_killed,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "StartedAt": time(s.started_at),
            "FinishedAt": time(s.finished_at),
        },
        "Name": format!("/{}", s.name),
        "Image": s.image_id,
        "Mounts": s.mounts.iter().map(mount_point).collect::<Vec<_>>(),
        "NetworkSettings": {
            "IPAddress": bridge_field(|n| n.ipv4_address.split('/').next().unwrap_or_default().to_string()),
            "IPPrefixLen": bridge.and_then(|n| n.ipv4_address.split('/').nth(1)?.parse::<u8>().ok()).unwrap_or(0),
            "Gateway": bridge_field(|n| n.gateway.clone()),
            "MacAddress": bridge_field(|n| n.mac_address.clone()),
            "Ports": ports(&s.ports),
            "Networks": s.networks.iter().map(|n| (n.network.clone(), json!({
                "NetworkID": n.network_id,
                "IPAddress": n.ipv4_address.split('/').next().unwrap_or_default(),
                "IPPrefixLen": n.ipv4_address.split('/').nth(1).and_then(|p| p.parse::<u8>().ok()).unwrap_or(0),
                "Gateway": n.gateway,
                "MacAddress": n.mac_address,
                "Aliases": n.aliases,
            }))).collect::<serde_json::Map<String, Value>>(),
        },
        "RestartCount": s.restart_count,
        "Config": {
            "Hostname": field("hostname"),
            "User": field("user"),
            "Env": field("env"),
            "Cmd": s.command,
            "WorkingDir": field("cwd"),
            "StopSignal": field("stop_signal"),
            "StopTimeout": spec.get("stop_grace_period").and_then(Value::as_u64).map(|n| n / 1_000_000_000),
            "Rootfs": s.rootfs,
            "Image": s.image,
            "Labels": s.labels,
        },
        "HostConfig": {
            "AutoRemove": s.auto_remove,
            "Privileged": caps.get("privileged").cloned().unwrap_or(Value::Bool(false)),
            "CapAdd": caps.get("add").cloned().unwrap_or(Value::Null),
            "CapDrop": caps.get("drop").cloned().unwrap_or(Value::Null),
            "ReadonlyRootfs": field("read_only_root"),
            "Init": field("init"),
            "Memory": res("memory"),
            "MemorySwap": res("memory_swap"),
            "CpuShares": res("cpu_shares"),
            "CpuQuota": res("cpu_quota"),
            "CpuPeriod": res("cpu_period"),
            "PidsLimit": res("pids_limit"),
            "Mounts": field("mounts"),
            "RestartPolicy": {
                "Name": restart.get("name").cloned().unwrap_or_else(|| json!("no")),
                "MaximumRetryCount": restart.get("max_retries").and_then(Value::as_u64).unwrap_or(0),
            },
        },
    });
    if s.health() != Health::None {
        doc["State"]["Health"] = json!({ "Status": s.health().docker_name() });
    }
    Ok(doc)
}

/// Runs `inspect`: prints the array of the containers found; exit 1 when any is missing.
pub(super) async fn run(client: &mut AgentClient, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse_inspect(args.format.as_deref())?;
    let mut docs = Vec::new();
    let mut failed = false;
    for container in &args.containers {
        match client.inspect(container).await {
            Ok(response) => docs.push(document(&response)?),
            Err(err) => {
                crate::cli::report_item(&err);
                failed = true;
            }
        }
    }
    format::print(&format.objects(&docs)?)?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use agent::proto::ContainerSummary;

    use super::*;

    #[test]
    fn docker_shape() {
        let spec = engine::ContainerSpec::new("/r", ["sh", "-c", "true"]);
        let response = InspectResponse {
            summary: Some(ContainerSummary {
                id: "abc".into(),
                name: "web".into(),
                state: ContainerState::Exited as i32,
                exit_code: 2,
                command: spec.args.clone(),
                ..Default::default()
            }),
            spec_json: serde_json::to_string(&spec).unwrap(),
        };
        let doc = document(&response).unwrap();
        assert_eq!(doc["Name"], "/web");
        assert_eq!(doc["Path"], "sh");
        assert_eq!(doc["State"]["ExitCode"], 2);
        assert_eq!(doc["State"]["Running"], false);
        assert_eq!(doc["Config"]["StopTimeout"], 10);
        assert_eq!(doc["Config"]["WorkingDir"], "/");
        assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "no");
        assert!(doc["State"].get("Health").is_none());
    }

    #[test]
    fn health_and_restart_policy() {
        let mut spec = engine::ContainerSpec::new("/r", ["sh"]);
        spec.restart = engine::restart::RestartPolicy::OnFailure {
            max_retries: Some(3),
        };
        let response = InspectResponse {
            summary: Some(ContainerSummary {
                state: ContainerState::Running as i32,
                health: Health::Healthy as i32,
                restart_count: 2,
                ..Default::default()
            }),
            spec_json: serde_json::to_string(&spec).unwrap(),
        };
        let doc = document(&response).unwrap();
        assert_eq!(doc["State"]["Health"]["Status"], "healthy");
        assert_eq!(doc["RestartCount"], 2);
        assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    }

    #[test]
    fn ports_are_docker_s_map() {
        let binding = |container_port, host_port, protocol: &str| agent::proto::PortBinding {
            container_port,
            host_port,
            protocol: protocol.into(),
            ..Default::default()
        };
        let doc = ports(&[
            binding(80, 8080, "tcp"),
            binding(80, 8081, "tcp"),
            binding(53, 0, "udp"),
            agent::proto::PortBinding {
                container_port: 7000,
                container_port_end: 7001,
                host_port: 9000,
                host_port_end: 9001,
                ..Default::default()
            },
        ]);
        assert_eq!(
            doc,
            json!({
                "80/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "8080"},
                    {"HostIp": "0.0.0.0", "HostPort": "8081"},
                ],
                "53/udp": null,
                "7000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9000"}],
                "7001/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9001"}],
            })
        );
        // docker's documented template for one port's binding.
        let text = crate::cli::format::Format::parse_inspect(Some(
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
        ))
        .expect("parses")
        .objects(&[json!({"NetworkSettings": {"Ports": doc}})])
        .expect("renders");
        assert_eq!(text, "8080\n");
    }
}
