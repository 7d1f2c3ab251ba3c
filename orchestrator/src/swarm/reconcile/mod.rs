//! Reconcilers: one service, its tasks, the nodes and the time → what to create, shut down
//! and forget ([`Reconciliation`]). One file per mode; `slot.rs` holds what they share (a slot's
//! replacements, restarts and lost tasks).
//!
//! Creations carry no id: the leader stamps one on each when it builds the proposal
//! ([`TaskCreation::into_task`]), as it stamps the time. Running a reconciler on the state that
//! results from committing its own output yields an empty [`Reconciliation`].

mod global;
mod history;
mod job;
mod pass;
mod replicated;
mod slot;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::swarm::ids::{NodeId, ServiceId, TaskId};
use crate::swarm::mode::Mode;
use crate::swarm::node::Node;
use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::restart::{RestartHistory, RestartRecord};
use crate::swarm::service::Service;
use crate::swarm::spec::ServiceSpec;
use crate::swarm::task::{DesiredState, Replaces, Task, TaskSlot, TaskStatus};
use crate::swarm::time::Timestamp;

pub(crate) use pass::{Fitness, fitness};
pub(crate) use slot::newest;

/// A task to create (without its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCreation {
    /// The service.
    pub service_id: ServiceId,
    /// Its slot, or its node for global modes.
    pub slot: TaskSlot,
    /// The service's spec version it is made from.
    pub spec_version: u64,
    /// Why.
    pub reason: CreateReason,
    /// It may not be assigned before this time (restart delay).
    pub not_before: Option<Timestamp>,
    /// The running task it replaces: shut down once this one runs.
    pub replaces: Option<Replaces>,
    /// The node the scheduler should try first.
    pub preferred_node: Option<NodeId>,
}

impl TaskCreation {
    /// The task record, with the id the leader chose, the service's current spec (`spec`,
    /// shared) and the leader's time. The spec must be the one of the service the creation
    /// was computed from.
    pub fn into_task(self, id: TaskId, spec: &Arc<ServiceSpec>, now: Timestamp) -> Task {
        Task {
            id,
            service_id: self.service_id,
            slot: self.slot,
            spec_version: self.spec_version,
            spec: Arc::clone(spec),
            desired_state: DesiredState::Running,
            shutdown_reason: None,
            status: TaskStatus {
                timestamp: now,
                message: self.reason.to_string(),
                ..TaskStatus::default()
            },
            node: None,
            created_at: now,
            not_before: self.not_before,
            replaces: self.replaces,
            preferred_node: self.preferred_node,
        }
    }
}

/// A task whose desired state becomes `shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// The task.
    pub task: TaskId,
    /// Why.
    pub reason: ShutdownReason,
    /// Its node is gone: also mark its observed state `orphaned`, so it neither holds the node
    /// nor waits for a report that will not come.
    pub orphaned: bool,
}

/// What a reconciler decided for one service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Tasks to create.
    pub creations: Vec<TaskCreation>,
    /// Tasks to shut down.
    pub shutdowns: Vec<Shutdown>,
    /// Stopped tasks to forget (beyond the service's per-slot history limit).
    pub removals: Vec<TaskId>,
    /// Restarts to add to the service's [`RestartHistory`].
    pub restarts: Vec<RestartRecord>,
    /// Run the reconciler again at this time even if nothing changes (a restart that max
    /// attempts held back becomes possible).
    pub requeue_at: Option<Timestamp>,
}

impl Reconciliation {
    /// Nothing to commit (a requeue time alone commits nothing).
    pub fn is_empty(&self) -> bool {
        self.creations.is_empty()
            && self.shutdowns.is_empty()
            && self.removals.is_empty()
            && self.restarts.is_empty()
    }
}

/// Reconciles `service` at `now`.
///
/// `tasks` are the service's tasks in the store (tasks of other services are ignored), `nodes`
/// every node of the cluster, `history` the service's stored restart history. The caller
/// commits the result as one batch: creations (with ids it stamps), shutdowns, removals, and
/// the restarts appended to the history ([`RestartHistory::apply`]).
pub fn reconcile(
    service: &Service,
    tasks: &[Task],
    nodes: &[Node],
    history: &RestartHistory,
    now: Timestamp,
) -> Reconciliation {
    let own: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.service_id == service.id)
        .collect();
    let mut pass = pass::Pass::new(service, nodes, history, now);
    match service.spec.mode {
        Mode::Replicated { replicas } => replicated::reconcile(&mut pass, &own, replicas),
        Mode::Global => global::reconcile(&mut pass, &own, nodes, false),
        Mode::ReplicatedJob {
            total_completions,
            max_concurrent,
        } => job::reconcile(&mut pass, &own, total_completions, max_concurrent),
        Mode::GlobalJob => global::reconcile(&mut pass, &own, nodes, true),
    }
    history::remove_old(&mut pass, &own);
    pass.finish()
}

#[cfg(test)]
pub(crate) mod fixtures;
