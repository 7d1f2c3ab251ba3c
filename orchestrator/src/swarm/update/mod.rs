//! Rolling updates and rollbacks, as a pure planner: a service (with the state of its update
//! in its record), its tasks and the time in; the tasks to replace now, and the update's next
//! state, out ([`plan_update`]). Requests that move an update by hand (rollback, pause,
//! resume, cancel) are functions of the service too ([`request`]).
//!
//! Everything the update needs to continue is in the service's [`UpdateStatus`]: the slots
//! being replaced and when their step started, the slots done and failed, and when the last
//! one finished. A new leader reads it from the store and carries on; a slot is replaced only
//! while its current task runs another spec, so no slot is ever replaced twice.
//!
//! A slot counts as updated once its new task has been running for the `monitor` period (a
//! node reports a task with a healthcheck as running only once it is healthy). It fails when
//! its new task fails, is rejected or exits, or when it is not updated by the step's
//! `deadline`. More failures than `max_failure_ratio` of the slots trigger the failure action:
//! pause, continue, or roll back (a rollback that fails pauses: it is never rolled back).

mod planner;
pub mod request;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::swarm::ids::TaskId;
use crate::swarm::reconcile::Reconciliation;
use crate::swarm::service::Service;
use crate::swarm::task::TaskSlot;
use crate::swarm::time::Timestamp;

pub use planner::plan_update;
pub use request::UpdateRequestError;

/// A slot whose task is being replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotStep {
    /// The slot.
    pub slot: TaskSlot,
    /// When its replacement started (its deadline counts from here).
    pub started_at: Timestamp,
}

/// A slot whose new task failed, or that missed its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFailure {
    /// The slot.
    pub slot: TaskSlot,
    /// The task that failed, when one did.
    #[serde(default)]
    pub task: Option<TaskId>,
    /// Why.
    pub error: String,
}

impl std::fmt::Display for SlotFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.task {
            Some(task) => write!(f, "task {task} ({}): {}", self.slot, self.error),
            None => write!(f, "{}: {}", self.slot, self.error),
        }
    }
}

/// How far an update went.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateProgress {
    /// Slots being replaced now.
    pub in_flight: Vec<SlotStep>,
    /// Slots updated.
    pub done: Vec<TaskSlot>,
    /// Slots that failed.
    pub failed: Vec<SlotFailure>,
    /// When the last slot finished (the next one starts `delay` after it).
    pub last_done_at: Option<Timestamp>,
}

/// What one planning run decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdatePlan {
    /// The service after this run, when it changed: its update status, and for an automatic
    /// rollback its spec and version too. Commit it with the tasks.
    pub service: Option<Service>,
    /// Tasks to create and shut down now, and when to plan again.
    pub reconciliation: Reconciliation,
}

impl UpdatePlan {
    /// Nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.service.is_none() && self.reconciliation.is_empty()
    }
}
