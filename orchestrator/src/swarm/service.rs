//! A service as the store keeps it: its spec with a version, the previous spec, the status of
//! a rolling update, and the knobs of the reconcilers.

use serde::{Deserialize, Serialize};

use crate::swarm::ids::ServiceId;
use crate::swarm::spec::ServiceSpec;
use crate::swarm::time::Timestamp;
use crate::swarm::update::UpdateProgress;

/// Where a rolling update or a rollback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// Tasks are being replaced with the new spec.
    Updating,
    /// The update stopped (on failure or on request) and waits.
    Paused,
    /// Every task runs the new spec.
    Completed,
    /// Tasks are being put back on the previous spec.
    RollbackStarted,
    /// The rollback stopped and waits.
    RollbackPaused,
    /// Every task runs the previous spec again.
    RollbackCompleted,
    /// The update was cancelled on request: the spec is the previous one again and the tasks
    /// already updated go back to it (with the rollback knobs, failures ignored).
    Cancelled,
}

impl std::fmt::Display for UpdateState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UpdateState::Updating => "updating",
            UpdateState::Paused => "paused",
            UpdateState::Completed => "completed",
            UpdateState::RollbackStarted => "rollback_started",
            UpdateState::RollbackPaused => "rollback_paused",
            UpdateState::RollbackCompleted => "rollback_completed",
            UpdateState::Cancelled => "cancelled",
        })
    }
}

impl UpdateState {
    /// An update or rollback is under way (paused counts: it will resume or be rolled back),
    /// so nothing else may move the service's tasks.
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            UpdateState::Updating
                | UpdateState::Paused
                | UpdateState::RollbackStarted
                | UpdateState::RollbackPaused
        )
    }
}

/// The status of the service's last update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    /// Where it stands.
    pub state: UpdateState,
    /// When it started.
    pub started_at: Timestamp,
    /// When it completed, once it did.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// A human message (why it paused).
    #[serde(default)]
    pub message: String,
    /// The update was forced: every task of an older spec version is replaced, even one that
    /// runs the same spec.
    #[serde(default)]
    pub force: bool,
    /// Which slots are done, failed or being replaced: what a new leader continues from.
    #[serde(default)]
    pub progress: UpdateProgress,
}

impl UpdateStatus {
    /// A status in `state` started at `now`, with no progress yet.
    pub fn new(state: UpdateState, now: Timestamp, message: impl Into<String>) -> Self {
        UpdateStatus {
            state,
            started_at: now,
            completed_at: None,
            message: message.into(),
            force: false,
            progress: UpdateProgress::default(),
        }
    }

    /// Tasks are being replaced now: updating, rolling back, or returning the tasks of a
    /// cancelled update that has not finished.
    pub fn is_moving(&self) -> bool {
        match self.state {
            UpdateState::Updating | UpdateState::RollbackStarted => true,
            UpdateState::Cancelled => self.completed_at.is_none(),
            _ => false,
        }
    }

    /// A rollback (or a cancel, which is one) is what is under way.
    pub fn is_rollback(&self) -> bool {
        matches!(
            self.state,
            UpdateState::RollbackStarted
                | UpdateState::RollbackPaused
                | UpdateState::RollbackCompleted
                | UpdateState::Cancelled
        )
    }
}

fn default_rebalance() -> bool {
    true
}

fn default_history_limit() -> u32 {
    5
}

/// A service: the desired state the reconcilers turn into tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Identity.
    pub id: ServiceId,
    /// Unique name.
    pub name: String,
    /// The current spec.
    pub spec: ServiceSpec,
    /// Incremented at each spec change; tasks record the version they were made from.
    pub spec_version: u64,
    /// The spec before the last change (what a rollback returns to).
    #[serde(default)]
    pub previous_spec: Option<ServiceSpec>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its spec last changed.
    pub updated_at: Timestamp,
    /// Move tasks toward an even spread when nodes join or return (on by default).
    #[serde(default = "default_rebalance")]
    pub rebalance: bool,
    /// Stopped tasks kept per slot for `service ps` (default 5).
    #[serde(default = "default_history_limit")]
    pub task_history_limit: u32,
    /// The last rolling update, if any.
    #[serde(default)]
    pub update_status: Option<UpdateStatus>,
}

impl Service {
    /// A new service at spec version 1, with the default knobs.
    pub fn new(id: ServiceId, name: impl Into<String>, spec: ServiceSpec, now: Timestamp) -> Self {
        Self {
            id,
            name: name.into(),
            spec,
            spec_version: 1,
            previous_spec: None,
            created_at: now,
            updated_at: now,
            rebalance: default_rebalance(),
            task_history_limit: default_history_limit(),
            update_status: None,
        }
    }

    /// An update or rollback is under way.
    pub fn update_in_progress(&self) -> bool {
        self.update_status
            .as_ref()
            .is_some_and(|status| status.state.in_progress() || status.is_moving())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_default_when_absent_from_the_record() {
        let service = Service::new("s1".into(), "web", ServiceSpec::default(), Timestamp(7));
        let mut json = serde_json::to_value(&service).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("rebalance");
        object.remove("task_history_limit");
        let back: Service = serde_json::from_value(json).unwrap();
        assert!(back.rebalance);
        assert_eq!(back.task_history_limit, 5);
        assert_eq!(back, service);
    }

    #[test]
    fn paused_updates_are_in_progress_completed_are_not() {
        let mut service = Service::new("s1".into(), "web", ServiceSpec::default(), Timestamp(0));
        assert!(!service.update_in_progress());
        for (state, busy) in [
            (UpdateState::Updating, true),
            (UpdateState::Paused, true),
            (UpdateState::RollbackStarted, true),
            (UpdateState::Completed, false),
            (UpdateState::RollbackCompleted, false),
        ] {
            service.update_status = Some(UpdateStatus {
                state,
                started_at: Timestamp(0),
                completed_at: None,
                message: String::new(),
                force: false,
                progress: UpdateProgress::default(),
            });
            assert_eq!(service.update_in_progress(), busy, "{state:?}");
        }
    }
}
