//! Why a reconciler creates or shuts down a task. Typed, stored with the task, printed by
//! `service ps`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::swarm::ids::NodeId;

/// Why a task is shut down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum ShutdownReason {
    /// Its slot is beyond the wanted replica count (or the job's completions).
    ScaledDown {
        /// The count scaled to.
        to: u64,
    },
    /// It stopped and a restart replaces it.
    Restarted,
    /// Its node is down or left the cluster: the task is lost.
    NodeDown {
        /// The node.
        node: NodeId,
    },
    /// Its node is drained.
    NodeDrained {
        /// The node.
        node: NodeId,
    },
    /// Its node no longer meets the service's constraints.
    ConstraintsNotMet {
        /// The node.
        node: NodeId,
    },
    /// Moved away to even out the spread.
    Rebalanced {
        /// The node it left.
        node: NodeId,
    },
    /// A newer task of the same slot runs.
    Superseded,
    /// The job's spec changed: the job runs again with the new one.
    JobSpecChanged,
    /// The service's mode changed (replicated ↔ global): its slots are gone.
    ModeChanged,
    /// The service's spec changed (or an update was forced): a task of the new spec version
    /// replaces it.
    Updated {
        /// The service's new spec version.
        version: u64,
    },
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownReason::ScaledDown { to } => write!(f, "scaled down to {to}"),
            ShutdownReason::Restarted => f.write_str("task stopped and is restarted"),
            ShutdownReason::NodeDown { node } => write!(f, "node {node} is down"),
            ShutdownReason::NodeDrained { node } => write!(f, "node {node} is drained"),
            ShutdownReason::ConstraintsNotMet { node } => {
                write!(f, "node {node} no longer meets the placement constraints")
            }
            ShutdownReason::Rebalanced { node } => {
                write!(f, "moved off node {node} to even out the spread")
            }
            ShutdownReason::Superseded => f.write_str("a newer task of the slot runs"),
            ShutdownReason::JobSpecChanged => f.write_str("the job's spec changed"),
            ShutdownReason::ModeChanged => f.write_str("the service's mode changed"),
            ShutdownReason::Updated { version } => {
                write!(f, "the service was updated to spec version {version}")
            }
        }
    }
}

/// Why a task is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CreateReason {
    /// Its slot (or eligible node) has no task.
    Missing,
    /// The slot's task stopped and the restart policy restarts it.
    Restart,
    /// The slot's task was lost with its node.
    Lost,
    /// It replaces a task that keeps running until this one runs.
    Replacement,
    /// A rolling update (or rollback) replaces the slot's task with one of the new spec.
    Update,
}

impl fmt::Display for CreateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CreateReason::Missing => "missing",
            CreateReason::Restart => "restart",
            CreateReason::Lost => "previous task lost with its node",
            CreateReason::Replacement => "replacement",
            CreateReason::Update => "rolling update",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_phrases() {
        assert_eq!(
            ShutdownReason::NodeDrained { node: "n2".into() }.to_string(),
            "node n2 is drained"
        );
        assert_eq!(
            ShutdownReason::ScaledDown { to: 3 }.to_string(),
            "scaled down to 3"
        );
        let json = serde_json::to_string(&ShutdownReason::NodeDown { node: "n1".into() }).unwrap();
        assert_eq!(json, r#"{"reason":"node-down","node":"n1"}"#);
    }
}
