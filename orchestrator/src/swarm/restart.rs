//! The restart policy and its history. The history is data ([`RestartHistory`], one per
//! service) that the cluster keeps in its store next to the service, so a new leader counts
//! the same attempts as the old one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::swarm::task::TaskSlot;
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;

/// When a task that stopped is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    /// Never.
    None,
    /// When it failed (non-zero exit, rejected by its node).
    OnFailure,
    /// Whenever it stopped (a job's completed task is never restarted).
    #[default]
    Any,
}

/// How the tasks of a service are restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// When.
    pub condition: RestartCondition,
    /// Time between the stop and the replacement's start.
    pub delay: Duration,
    /// Attempts at most (within `window` when set); unlimited when absent.
    pub max_attempts: Option<u64>,
    /// The window attempts are counted in; all attempts count when absent.
    pub window: Option<Duration>,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            condition: RestartCondition::Any,
            delay: Duration::from_secs(5),
            max_attempts: None,
            window: None,
        }
    }
}

/// Restarts of one slot (or one node, for global services).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRestarts {
    /// The slot.
    pub slot: TaskSlot,
    /// When each recent restart was decided, oldest first.
    pub at: Vec<Timestamp>,
}

/// One restart decided by a reconciler, to add to the service's [`RestartHistory`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRecord {
    /// The slot restarted.
    pub slot: TaskSlot,
    /// When.
    pub at: Timestamp,
}

/// The recent restarts of a service's slots, kept as long as the policy needs them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestartHistory {
    /// Per slot, sorted by slot.
    pub slots: Vec<SlotRestarts>,
}

impl RestartHistory {
    fn restarts(&self, slot: &TaskSlot) -> &[Timestamp] {
        self.slots
            .binary_search_by(|s| s.slot.cmp(slot))
            .map(|index| self.slots[index].at.as_slice())
            .unwrap_or(&[])
    }

    /// The restarts of `slot` that count against `policy.max_attempts` at `now`.
    pub fn attempts(&self, slot: &TaskSlot, policy: &RestartPolicy, now: Timestamp) -> usize {
        self.counted(slot, policy, now).len()
    }

    fn counted(&self, slot: &TaskSlot, policy: &RestartPolicy, now: Timestamp) -> &[Timestamp] {
        let all = self.restarts(slot);
        match policy.window {
            None => all,
            Some(window) => {
                let first = all.partition_point(|at| !in_window(*at, window, now));
                &all[first..]
            }
        }
    }

    /// Adds decided restarts, then forgets what `policy` no longer needs at `now`.
    pub fn apply(&mut self, records: &[RestartRecord], policy: &RestartPolicy, now: Timestamp) {
        for record in records {
            let index = match self.slots.binary_search_by(|s| s.slot.cmp(&record.slot)) {
                Ok(index) => index,
                Err(index) => {
                    self.slots.insert(
                        index,
                        SlotRestarts {
                            slot: record.slot.clone(),
                            at: Vec::new(),
                        },
                    );
                    index
                }
            };
            let at = &mut self.slots[index].at;
            let position = at.partition_point(|t| *t <= record.at);
            at.insert(position, record.at);
        }
        self.prune(policy, now);
    }

    /// Forgets restarts outside the window and beyond the attempts that can still matter.
    pub fn prune(&mut self, policy: &RestartPolicy, now: Timestamp) {
        for slot in &mut self.slots {
            if let Some(window) = policy.window {
                slot.at.retain(|at| in_window(*at, window, now));
            }
            let keep = usize::try_from(policy.max_attempts.unwrap_or(0)).unwrap_or(usize::MAX);
            if slot.at.len() > keep {
                let extra = slot.at.len() - keep;
                slot.at.drain(..extra);
            }
        }
        self.slots.retain(|slot| !slot.at.is_empty());
    }

    /// Forgets the slots for which `keep` is false (slots removed by a scale-down).
    pub fn retain_slots(&mut self, mut keep: impl FnMut(&TaskSlot) -> bool) {
        self.slots.retain(|slot| keep(&slot.slot));
    }
}

/// Whether a restart at `at` counts in the `window` that ends at `now`: it is less than
/// `window` old.
fn in_window(at: Timestamp, window: Duration, now: Timestamp) -> bool {
    now.since(at) < window
}

/// What to do with a slot whose current task stopped while it should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartDecision {
    /// Replace it; the replacement starts no earlier than `not_before`.
    Restart {
        /// Earliest start of the replacement.
        not_before: Timestamp,
    },
    /// Leave it stopped: the condition does not ask for a restart.
    NotWanted,
    /// Leave it stopped: max attempts reached; `until` is when an attempt leaves the window,
    /// absent when attempts never expire.
    Exhausted {
        /// When a restart becomes possible again.
        until: Option<Timestamp>,
    },
}

/// Whether the task in `slot`, which stopped in `state` at `stopped_at`, is restarted.
pub(crate) fn decide(
    policy: &RestartPolicy,
    history: &RestartHistory,
    slot: &TaskSlot,
    state: TaskState,
    stopped_at: Timestamp,
    is_job: bool,
    now: Timestamp,
) -> RestartDecision {
    let failed = matches!(
        state,
        TaskState::Failed | TaskState::Rejected | TaskState::Orphaned
    );
    let wanted = match policy.condition {
        _ if is_job && state == TaskState::Complete => false,
        RestartCondition::None => false,
        RestartCondition::OnFailure => failed,
        RestartCondition::Any => true,
    };
    if !wanted {
        return RestartDecision::NotWanted;
    }
    if let Some(max) = policy.max_attempts {
        let counted = history.counted(slot, policy, now);
        if u64::try_from(counted.len()).unwrap_or(u64::MAX) >= max {
            let until = match (policy.window, counted.first()) {
                (Some(window), Some(oldest)) => Some(oldest.after(window)),
                (Some(_), None) => Some(now),
                (None, _) => None,
            };
            return RestartDecision::Exhausted { until };
        }
    }
    RestartDecision::Restart {
        not_before: stopped_at.after(policy.delay).max(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: Option<u64>, window: Option<u64>) -> RestartPolicy {
        RestartPolicy {
            condition: RestartCondition::Any,
            delay: Duration::from_secs(5),
            max_attempts: max,
            window: window.map(Duration::from_secs),
        }
    }

    fn record(slot: u64, at: u64) -> RestartRecord {
        RestartRecord {
            slot: TaskSlot::Slot(slot),
            at: Timestamp(at),
        }
    }

    #[test]
    fn default_policy_restarts_any_stop_after_five_seconds() {
        let p = RestartPolicy::default();
        let d = decide(
            &p,
            &RestartHistory::default(),
            &TaskSlot::Slot(1),
            TaskState::Complete,
            Timestamp(1_000),
            false,
            Timestamp(2_000),
        );
        assert_eq!(
            d,
            RestartDecision::Restart {
                not_before: Timestamp(6_000)
            }
        );
    }

    #[test]
    fn conditions_filter_states() {
        let mut p = RestartPolicy {
            condition: RestartCondition::OnFailure,
            ..RestartPolicy::default()
        };
        let h = RestartHistory::default();
        let slot = TaskSlot::Slot(1);
        let go = |p: &RestartPolicy, state, job| {
            decide(p, &h, &slot, state, Timestamp(0), job, Timestamp(0))
        };
        assert_eq!(
            go(&p, TaskState::Complete, false),
            RestartDecision::NotWanted
        );
        assert!(matches!(
            go(&p, TaskState::Failed, false),
            RestartDecision::Restart { .. }
        ));
        assert!(matches!(
            go(&p, TaskState::Rejected, false),
            RestartDecision::Restart { .. }
        ));
        p.condition = RestartCondition::Any;
        assert_eq!(
            go(&p, TaskState::Complete, true),
            RestartDecision::NotWanted
        );
        assert!(matches!(
            go(&p, TaskState::Shutdown, false),
            RestartDecision::Restart { .. }
        ));
        p.condition = RestartCondition::None;
        assert_eq!(go(&p, TaskState::Failed, false), RestartDecision::NotWanted);
    }

    #[test]
    fn max_attempts_count_within_the_window() {
        let p = policy(Some(2), Some(60));
        let mut h = RestartHistory::default();
        h.apply(
            &[record(1, 10_000), record(1, 20_000)],
            &p,
            Timestamp(20_000),
        );
        let slot = TaskSlot::Slot(1);
        assert_eq!(h.attempts(&slot, &p, Timestamp(30_000)), 2);
        assert_eq!(
            decide(
                &p,
                &h,
                &slot,
                TaskState::Failed,
                Timestamp(30_000),
                false,
                Timestamp(30_000)
            ),
            RestartDecision::Exhausted {
                until: Some(Timestamp(70_000))
            }
        );
        // Once the first attempt left the window, one more is allowed.
        assert!(matches!(
            decide(
                &p,
                &h,
                &slot,
                TaskState::Failed,
                Timestamp(30_000),
                false,
                Timestamp(70_000)
            ),
            RestartDecision::Restart { .. }
        ));
        // Other slots have their own count.
        assert_eq!(h.attempts(&TaskSlot::Slot(2), &p, Timestamp(30_000)), 0);
    }

    #[test]
    fn attempts_without_window_never_expire_and_history_stays_small() {
        let p = policy(Some(3), None);
        let mut h = RestartHistory::default();
        for at in 0..10 {
            h.apply(&[record(1, at)], &p, Timestamp(at));
        }
        assert_eq!(h.slots[0].at.len(), 3);
        assert_eq!(
            decide(
                &p,
                &h,
                &TaskSlot::Slot(1),
                TaskState::Failed,
                Timestamp(0),
                false,
                Timestamp(1 << 40)
            ),
            RestartDecision::Exhausted { until: None }
        );
        let unlimited = policy(None, None);
        h.prune(&unlimited, Timestamp(0));
        assert!(h.slots.is_empty());
    }

    #[test]
    fn history_round_trips_through_json() {
        let mut h = RestartHistory::default();
        h.apply(
            &[
                record(2, 5),
                RestartRecord {
                    slot: TaskSlot::Node("n1".into()),
                    at: Timestamp(7),
                },
            ],
            &policy(Some(5), None),
            Timestamp(7),
        );
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<RestartHistory>(&json).unwrap(), h);
    }
}
