//! `bosun node inspect`'s objects in docker's node shape (`swarm.Node` of the Engine API): `ID`,
//! `Version.Index`, `CreatedAt`, `UpdatedAt`, `Spec` (`Labels`, `Role`, `Availability`),
//! `Description` (`Hostname`, `Platform`, `Resources`, `Engine`), `Status` (`State`, `Addr`) and,
//! for a manager, `ManagerStatus` (`Leader`, `Reachability`, `Addr`), from the node's record and
//! the managers' view of raft membership.
//!
//! Nodes do not report their engine's version, so `Description.Engine` is empty (docker omits
//! its fields when empty too).

use cluster_manager::ManagerClient;
use cluster_state::{Availability, Node, NodeRole, NodeState};
use serde_json::{Value, json};

/// A raft member as the managers see it (the parts of their status docker's node shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    /// Its raft id.
    pub(super) raft_id: u64,
    /// Its address for the managers' API.
    pub(super) addr: String,
    /// Whether the leader hears from it.
    pub(super) reachable: bool,
    /// Whether it leads.
    pub(super) leader: bool,
}

/// The members of the managers' status.
pub(super) async fn members(client: &ManagerClient) -> anyhow::Result<Vec<Member>> {
    let status = client.status().await?;
    Ok(status
        .members
        .iter()
        .map(|m| Member {
            raft_id: m.raft_id,
            addr: m.addr.clone(),
            reachable: m.reachable,
            leader: m.leader,
        })
        .collect())
}

/// RFC 3339 with nanoseconds of a time in milliseconds since the Unix epoch.
fn rfc3339(millis: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_nanos(time).to_string()
}

/// The host of an address `host:port` (`[v6]:port` gives `v6`); the address when it has no port.
fn host(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => addr,
    }
}

/// Docker's node object for `node`, with `members` the managers' raft membership.
pub(super) fn document(node: &Node, members: &[Member]) -> Value {
    let role = match node.role {
        NodeRole::Manager => "manager",
        NodeRole::Worker => "worker",
    };
    let availability = match node.availability {
        Availability::Active => "active",
        Availability::Pause => "pause",
        Availability::Drain => "drain",
    };
    let state = match node.state {
        NodeState::Ready => "ready",
        NodeState::Down => "down",
    };
    let mut doc = json!({
        "ID": node.meta.id,
        "Version": { "Index": node.meta.version },
        "CreatedAt": rfc3339(node.meta.created_at_ms),
        "UpdatedAt": rfc3339(node.meta.updated_at_ms),
        "Spec": {
            "Labels": node.meta.labels,
            "Role": role,
            "Availability": availability,
        },
        "Description": {
            "Hostname": node.hostname,
            "Platform": {
                "Architecture": node.platform.arch,
                "OS": node.platform.os,
            },
            "Resources": {
                "NanoCPUs": node.resources.nano_cpus,
                "MemoryBytes": node.resources.memory_bytes,
            },
            "Engine": {},
        },
        "Status": {
            "State": state,
            "Addr": host(&node.addr),
        },
    });
    let member = node
        .raft_id
        .and_then(|id| members.iter().find(|m| m.raft_id == id));
    if let Some(member) = member {
        let reachability = if member.reachable || member.leader {
            "reachable"
        } else {
            "unreachable"
        };
        let addr = if member.addr.is_empty() {
            &node.addr
        } else {
            &member.addr
        };
        doc["ManagerStatus"] = json!({
            "Leader": member.leader,
            "Reachability": reachability,
            "Addr": addr,
        });
    }
    doc
}

#[cfg(test)]
mod tests {
    use cluster_state::Meta;

    use super::*;

    fn node(role: NodeRole, raft_id: Option<u64>) -> Node {
        Node {
            meta: Meta {
                id: "n1abc".into(),
                version: 8,
                created_at_ms: 1_466_117_564_991,
                updated_at_ms: 1_466_117_565_230,
                labels: [("zone".to_string(), "a".to_string())].into(),
            },
            hostname: "swarm-manager".into(),
            addr: "168.0.32.137:2377".into(),
            role,
            raft_id,
            availability: Availability::Drain,
            state: NodeState::Ready,
            desired_role: None,
            demoted_at_ms: None,
            platform: orchestrator::swarm::Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
            },
            resources: orchestrator::swarm::Resources {
                nano_cpus: 1_000_000_000,
                memory_bytes: 1_039_843_328,
            },
        }
    }

    #[test]
    fn a_leader_in_dockers_shape() {
        let members = [Member {
            raft_id: 1,
            addr: "168.0.32.137:2377".into(),
            reachable: true,
            leader: true,
        }];
        let doc = document(&node(NodeRole::Manager, Some(1)), &members);
        assert_eq!(
            doc.to_string(),
            concat!(
                r#"{"ID":"n1abc","Version":{"Index":8},"CreatedAt":"2016-06-16T22:52:44.991000000Z","#,
                r#""UpdatedAt":"2016-06-16T22:52:45.230000000Z","#,
                r#""Spec":{"Labels":{"zone":"a"},"Role":"manager","Availability":"drain"},"#,
                r#""Description":{"Hostname":"swarm-manager","Platform":{"Architecture":"x86_64","OS":"linux"},"#,
                r#""Resources":{"NanoCPUs":1000000000,"MemoryBytes":1039843328},"Engine":{}},"#,
                r#""Status":{"State":"ready","Addr":"168.0.32.137"},"#,
                r#""ManagerStatus":{"Leader":true,"Reachability":"reachable","Addr":"168.0.32.137:2377"}}"#
            )
        );
    }

    #[test]
    fn a_worker_has_no_manager_status_and_a_lost_manager_is_unreachable() {
        let worker = document(&node(NodeRole::Worker, None), &[]);
        assert!(worker.get("ManagerStatus").is_none(), "{worker}");
        assert_eq!(worker["Spec"]["Role"], "worker");
        let members = [Member {
            raft_id: 2,
            addr: String::new(),
            reachable: false,
            leader: false,
        }];
        let lost = document(&node(NodeRole::Manager, Some(2)), &members);
        assert_eq!(
            lost["ManagerStatus"],
            json!({"Leader": false, "Reachability": "unreachable", "Addr": "168.0.32.137:2377"})
        );
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host("10.0.0.1:2377"), "10.0.0.1");
        assert_eq!(host("10.0.0.1"), "10.0.0.1");
        assert_eq!(host("[fd00::1]:2377"), "fd00::1");
        assert_eq!(host("fd00::1"), "fd00::1");
    }
}
