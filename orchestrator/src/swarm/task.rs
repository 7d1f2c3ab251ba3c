//! A task: one run of one container of a service, in a slot (replicated) or on a node
//! (global). A task runs once and is never reused: a restart is a new task in the same slot.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::swarm::ids::{NodeId, ServiceId, TaskId};
use crate::swarm::reasons::ShutdownReason;
use crate::swarm::spec::ServiceSpec;
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;

/// Where a task belongs in its service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskSlot {
    /// Slot `n` (1-based) of a replicated service or job.
    Slot(u64),
    /// The node of a global service or job.
    Node(NodeId),
}

impl fmt::Display for TaskSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskSlot::Slot(n) => write!(f, "slot {n}"),
            TaskSlot::Node(node) => write!(f, "node {node}"),
        }
    }
}

/// What the managers want of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// Run it (a job's task: run it to completion).
    #[default]
    Running,
    /// Stop it; the node stops the container and reports `shutdown`.
    Shutdown,
}

/// What the node last reported about a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskStatus {
    /// The state.
    pub state: TaskState,
    /// A short human message (`started`, or why a task is pending).
    pub message: String,
    /// The error, when the task failed or was rejected.
    pub error: Option<String>,
    /// When the state was reached.
    pub timestamp: Timestamp,
    /// The container's exit code, once it exited.
    pub exit_code: Option<i32>,
}

/// Marks a task as the replacement of another one that keeps running until this one runs
/// (drain and rebalance start the new task before stopping the old).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaces {
    /// The task to shut down once this one runs.
    pub task: TaskId,
    /// Why it is replaced.
    pub reason: ShutdownReason,
}

/// One run of a service's container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Identity, chosen by the leader.
    pub id: TaskId,
    /// The service.
    pub service_id: ServiceId,
    /// Its slot or node in the service.
    pub slot: TaskSlot,
    /// The service's spec version it was made from.
    pub spec_version: u64,
    /// The spec it runs (a snapshot: later service updates do not change it). Shared: the
    /// tasks made from one version of a service's spec hold one copy (a fleet holds tens of
    /// thousands of tasks, and passes clone and compare them all).
    pub spec: Arc<ServiceSpec>,
    /// What the managers want.
    pub desired_state: DesiredState,
    /// Why the managers want it shut down, once they do.
    #[serde(default)]
    pub shutdown_reason: Option<ShutdownReason>,
    /// What the node reported.
    #[serde(default)]
    pub status: TaskStatus,
    /// The node it is assigned to, once the scheduler chose one.
    #[serde(default)]
    pub node: Option<NodeId>,
    /// When it was created.
    pub created_at: Timestamp,
    /// It may not be assigned before this time (restart delay).
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// The task it replaces, which is shut down once this one runs.
    #[serde(default)]
    pub replaces: Option<Replaces>,
    /// The node the scheduler tries first (a rebalance move's target), if it still fits.
    #[serde(default)]
    pub preferred_node: Option<NodeId>,
}

impl Task {
    /// The managers want it to run.
    pub fn is_desired_running(&self) -> bool {
        self.desired_state == DesiredState::Running
    }

    /// It holds resources and ports on its node: assigned there and not stopped, whatever the
    /// managers want of it.
    pub fn holds_node(&self) -> bool {
        self.node.is_some() && self.status.state.is_active()
    }

    /// It waits for the scheduler: wanted, not assigned.
    pub fn is_unassigned(&self) -> bool {
        self.is_desired_running() && self.node.is_none() && self.status.state <= TaskState::Pending
    }

    /// It can be forgotten: not wanted, and either stopped or never placed on a node.
    pub fn is_removable(&self) -> bool {
        self.desired_state == DesiredState::Shutdown
            && (self.status.state.is_terminal() || self.node.is_none())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A new task of service `s1` in `slot`, made at time 0 from the default spec.
    pub(crate) fn task(id: &str, slot: TaskSlot) -> Task {
        Task {
            id: TaskId::from(id),
            service_id: ServiceId::from("s1"),
            slot,
            spec_version: 1,
            spec: Arc::default(),
            desired_state: DesiredState::Running,
            shutdown_reason: None,
            status: TaskStatus::default(),
            node: None,
            created_at: Timestamp(0),
            not_before: None,
            replaces: None,
            preferred_node: None,
        }
    }

    #[test]
    fn predicates_follow_state_and_desire() {
        let mut t = task("t1", TaskSlot::Slot(1));
        assert!(t.is_unassigned() && !t.holds_node() && !t.is_removable());
        t.node = Some("n1".into());
        t.status.state = TaskState::Running;
        assert!(t.holds_node() && !t.is_unassigned());
        t.desired_state = DesiredState::Shutdown;
        assert!(t.holds_node() && !t.is_removable());
        t.status.state = TaskState::Shutdown;
        assert!(!t.holds_node() && t.is_removable());
    }

    #[test]
    fn tasks_round_trip_through_json() {
        let t = task("t1", TaskSlot::Node("n1".into()));
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains(r#""slot":{"node":"n1"}"#));
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), t);
    }
}
