//! What the dispatcher tells a node and what the node reports back, as domain values, and
//! their wire forms (decoded here, once, at the edge).

use cluster_state::RegistryAuth;
use serde::{Deserialize, Serialize};

use crate::dispatcher::files::TaskFile;
use crate::dispatcher::networks::TaskNetwork;
use crate::dispatcher::proto;
use orchestrator::swarm::{
    DesiredState, NodeId, ServiceId, ServiceSpec, TaskId, TaskSlot, TaskState, TaskStatus,
    Timestamp,
};

/// One task a node must run (or stop), as the dispatcher sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The task.
    pub task_id: TaskId,
    /// Its service.
    pub service_id: ServiceId,
    /// The service's name (its id when the service record is gone).
    pub service_name: String,
    /// Its slot, or the node of a global task.
    pub slot: TaskSlot,
    /// What the managers want of it.
    pub desired_state: DesiredState,
    /// The store holds a terminal state for it: the node never starts it again.
    pub finished: bool,
    /// The service spec version it was made from.
    pub spec_version: u64,
    /// The spec it runs (shared with the task record and the other tasks made from it).
    pub spec: std::sync::Arc<ServiceSpec>,
    /// The cluster networks it joins, with their endpoints on other nodes (absent from sets
    /// saved before networks existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<TaskNetwork>,
    /// Credentials to pull the image with (`--with-registry-auth`). Never saved: the node's
    /// assignments file leaves them out.
    #[serde(skip)]
    pub registry_auth: Option<RegistryAuth>,
    /// The task's secret and config files with their payloads (only while it is to run).
    /// Never saved: the node's assignments file leaves them out.
    #[serde(skip)]
    pub files: Vec<TaskFile>,
}

fn auth_to_proto(auth: &RegistryAuth) -> proto::RegistryAuth {
    proto::RegistryAuth {
        registry: auth.registry.clone(),
        username: auth.username.clone(),
        password: auth.password.clone(),
        identity_token: auth.identity_token.clone(),
    }
}

fn auth_from_proto(wire: proto::RegistryAuth) -> RegistryAuth {
    RegistryAuth {
        registry: wire.registry,
        username: wire.username,
        password: wire.password,
        identity_token: wire.identity_token,
    }
}

/// A wire message the node cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The networks of an assignment do not decode.
    #[error("task {task}: invalid networks: {message}")]
    Networks {
        /// The task.
        task: String,
        /// Why.
        message: String,
    },
    /// The spec of an assignment does not decode.
    #[error("task {task}: invalid spec: {message}")]
    Spec {
        /// The task.
        task: String,
        /// Why.
        message: String,
    },
    /// A state the receiver does not know.
    #[error("task {task}: unknown {what} {value}")]
    Unknown {
        /// The task.
        task: String,
        /// Which field.
        what: &'static str,
        /// Its number.
        value: i32,
    },
}

impl Assignment {
    /// The wire form.
    pub fn to_proto(&self) -> proto::Assignment {
        let slot = match &self.slot {
            TaskSlot::Slot(n) => *n,
            TaskSlot::Node(_) => 0,
        };
        let desired = match self.desired_state {
            DesiredState::Running => proto::DesiredState::Running,
            DesiredState::Shutdown => proto::DesiredState::Shutdown,
        };
        proto::Assignment {
            task_id: self.task_id.to_string(),
            service_id: self.service_id.to_string(),
            service_name: self.service_name.clone(),
            slot,
            desired_state: desired as i32,
            finished: self.finished,
            spec_version: self.spec_version,
            // Plain data with ordered maps: serializing cannot fail.
            spec: serde_json::to_vec(&self.spec).expect("a spec serializes to json"),
            registry_auth: self.registry_auth.as_ref().map(auth_to_proto),
            files: self.files.iter().map(TaskFile::to_proto).collect(),
            networks: if self.networks.is_empty() {
                Vec::new()
            } else {
                // Plain data: serializing cannot fail.
                serde_json::to_vec(&self.networks).expect("networks serialize to json")
            },
        }
    }

    /// Decodes the wire form received by node `node` (a global task's slot is that node).
    pub fn from_proto(wire: proto::Assignment, node: &NodeId) -> Result<Self, WireError> {
        let task = wire.task_id.clone();
        let desired_state = match proto::DesiredState::from_i32(wire.desired_state) {
            Some(proto::DesiredState::Running) => DesiredState::Running,
            Some(proto::DesiredState::Shutdown) => DesiredState::Shutdown,
            _ => {
                return Err(WireError::Unknown {
                    task,
                    what: "desired state",
                    value: wire.desired_state,
                });
            }
        };
        let spec = serde_json::from_slice(&wire.spec).map_err(|e| WireError::Spec {
            task: task.clone(),
            message: e.to_string(),
        })?;
        let networks = if wire.networks.is_empty() {
            Vec::new()
        } else {
            serde_json::from_slice(&wire.networks).map_err(|e| WireError::Networks {
                task: task.clone(),
                message: e.to_string(),
            })?
        };
        Ok(Assignment {
            task_id: TaskId(wire.task_id),
            service_id: ServiceId(wire.service_id),
            service_name: wire.service_name,
            slot: match wire.slot {
                0 => TaskSlot::Node(node.clone()),
                n => TaskSlot::Slot(n),
            },
            desired_state,
            finished: wire.finished,
            spec_version: wire.spec_version,
            spec,
            registry_auth: wire.registry_auth.map(auth_from_proto),
            files: wire.files.into_iter().map(TaskFile::from_proto).collect(),
            networks,
        })
    }
}

/// A node's report of one task's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The task.
    pub task_id: TaskId,
    /// What the node saw.
    pub status: TaskStatus,
}

/// The states a node reports, and their wire numbers.
const STATES: [(TaskState, proto::TaskState); 8] = [
    (TaskState::Accepted, proto::TaskState::Accepted),
    (TaskState::Preparing, proto::TaskState::Preparing),
    (TaskState::Starting, proto::TaskState::Starting),
    (TaskState::Running, proto::TaskState::Running),
    (TaskState::Complete, proto::TaskState::Complete),
    (TaskState::Failed, proto::TaskState::Failed),
    (TaskState::Shutdown, proto::TaskState::Shutdown),
    (TaskState::Rejected, proto::TaskState::Rejected),
];

impl StatusReport {
    /// The wire form. States a node never reports (new … assigned, orphaned) have none.
    pub fn to_proto(&self) -> Option<proto::TaskStatus> {
        let state = STATES
            .iter()
            .find(|(s, _)| *s == self.status.state)
            .map(|(_, wire)| *wire)?;
        Some(proto::TaskStatus {
            task_id: self.task_id.to_string(),
            state: state as i32,
            message: self.status.message.clone(),
            error: self.status.error.clone().unwrap_or_default(),
            exit_code: self.status.exit_code,
            timestamp_ms: self.status.timestamp.as_millis(),
        })
    }

    /// Decodes a report from the wire.
    pub fn from_proto(wire: proto::TaskStatus) -> Result<Self, WireError> {
        let state = STATES
            .iter()
            .find(|(_, w)| *w as i32 == wire.state)
            .map(|(s, _)| *s)
            .ok_or_else(|| WireError::Unknown {
                task: wire.task_id.clone(),
                what: "task state",
                value: wire.state,
            })?;
        Ok(StatusReport {
            task_id: TaskId(wire.task_id),
            status: TaskStatus {
                state,
                message: wire.message,
                error: (!wire.error.is_empty()).then_some(wire.error),
                timestamp: Timestamp::from_millis(wire.timestamp_ms),
                exit_code: wire.exit_code,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(slot: TaskSlot) -> Assignment {
        Assignment {
            task_id: "t1".into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot,
            desired_state: DesiredState::Shutdown,
            finished: false,
            spec_version: 3,
            registry_auth: None,
            files: Vec::new(),
            spec: std::sync::Arc::new(ServiceSpec {
                image: "busybox".into(),
                ..ServiceSpec::default()
            }),
            networks: Vec::new(),
        }
    }

    #[test]
    fn assignments_round_trip_through_the_wire() {
        let node = NodeId::from("n1");
        for slot in [TaskSlot::Slot(4), TaskSlot::Node(node.clone())] {
            let a = assignment(slot);
            assert_eq!(Assignment::from_proto(a.to_proto(), &node).unwrap(), a);
        }
    }

    #[test]
    fn a_bad_spec_is_refused_with_the_task_named() {
        let mut wire = assignment(TaskSlot::Slot(1)).to_proto();
        wire.spec = b"{".to_vec();
        let err = Assignment::from_proto(wire, &"n1".into()).unwrap_err();
        assert!(
            err.to_string().starts_with("task t1: invalid spec"),
            "{err}"
        );
    }

    #[test]
    fn reports_round_trip_and_unknown_states_are_refused() {
        let report = StatusReport {
            task_id: "t1".into(),
            status: TaskStatus {
                state: TaskState::Failed,
                message: "exited".into(),
                error: Some("exit code 3".into()),
                timestamp: Timestamp::from_millis(42),
                exit_code: Some(3),
            },
        };
        let wire = report.to_proto().unwrap();
        assert_eq!(StatusReport::from_proto(wire.clone()).unwrap(), report);
        let mut bad = wire;
        bad.state = 99;
        assert!(StatusReport::from_proto(bad).is_err());
        let pending = StatusReport {
            status: TaskStatus {
                state: TaskState::Pending,
                ..report.status
            },
            ..report
        };
        assert!(pending.to_proto().is_none());
    }
}
