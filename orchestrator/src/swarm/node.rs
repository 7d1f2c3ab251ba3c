//! What the scheduler and the reconcilers know of a node: identity, role, labels, platform,
//! the operator's availability, the managers' view of its liveness, and the resources it
//! reported. The cluster side builds these from its node records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::swarm::ids::NodeId;
use crate::swarm::resources::Resources;

/// Role of a node in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs tasks only.
    Worker,
    /// Takes part in Raft; runs tasks too unless drained.
    Manager,
}

impl NodeRole {
    /// `worker` or `manager`, as constraints name it.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Worker => "worker",
            NodeRole::Manager => "manager",
        }
    }
}

/// Scheduling availability, set by the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// Takes new tasks.
    #[default]
    Active,
    /// Takes no new tasks; its tasks keep running.
    Pause,
    /// Takes no tasks; its tasks are moved away (replacements first).
    Drain,
}

/// Liveness of a node as the managers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Not known yet (e.g. just after a leader change, during the nodes' grace period):
    /// nothing new is placed there and nothing is taken away from it.
    #[default]
    Unknown,
    /// Heartbeats arrive.
    Ready,
    /// Silent past its grace period: its tasks are lost.
    Down,
}

/// Operating system and architecture a node reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `x86_64`, `aarch64`.
    pub arch: String,
}

/// A node as scheduling sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Identity.
    pub id: NodeId,
    /// Host name it reported.
    pub hostname: String,
    /// Worker or manager.
    pub role: NodeRole,
    /// Operator-set labels (`node.labels.X`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Operating system and architecture.
    #[serde(default)]
    pub platform: Platform,
    /// Operator-set availability.
    #[serde(default)]
    pub availability: Availability,
    /// Liveness.
    #[serde(default)]
    pub status: NodeStatus,
    /// CPU and memory it reported as available to tasks.
    #[serde(default)]
    pub resources: Resources,
}

impl Node {
    /// Ready and active: may take new tasks.
    pub fn takes_new_tasks(&self) -> bool {
        self.status == NodeStatus::Ready && self.availability == Availability::Active
    }

    /// Its tasks are lost: it is down.
    pub fn is_down(&self) -> bool {
        self.status == NodeStatus::Down
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ready, active linux worker named after its id, with 4 CPUs and 8 GiB.
    pub(crate) fn node(id: &str) -> Node {
        Node {
            id: NodeId::from(id),
            hostname: id.to_string(),
            role: NodeRole::Worker,
            labels: BTreeMap::new(),
            platform: Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
            },
            availability: Availability::Active,
            status: NodeStatus::Ready,
            resources: Resources {
                nano_cpus: 4_000_000_000,
                memory_bytes: 8 << 30,
            },
        }
    }

    #[test]
    fn only_ready_active_nodes_take_new_tasks() {
        let mut n = node("n1");
        assert!(n.takes_new_tasks());
        n.availability = Availability::Pause;
        assert!(!n.takes_new_tasks());
        n.availability = Availability::Active;
        n.status = NodeStatus::Unknown;
        assert!(!n.takes_new_tasks());
        assert!(!n.is_down());
    }

    #[test]
    fn nodes_round_trip_through_json() {
        let n = node("n1");
        let json = serde_json::to_string(&n).unwrap();
        assert!(json.contains("\"availability\":\"active\""));
        assert_eq!(serde_json::from_str::<Node>(&json).unwrap(), n);
    }
}
