//! One run of the update planner: settle the slots being replaced (updated, failed, or past
//! their deadline), apply the failure action, start the next slots, and finish the update
//! when no slot runs another spec.

use std::collections::BTreeMap;

use crate::swarm::mode::Mode;
use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::{Reconciliation, Shutdown, TaskCreation, newest};
use crate::swarm::service::{Service, UpdateState, UpdateStatus};
use crate::swarm::task::{Replaces, Task, TaskSlot};
use crate::swarm::task_state::TaskState;
use crate::swarm::time::{Timestamp, earliest};
use crate::swarm::update::request;
use crate::swarm::update::{SlotFailure, SlotStep, UpdatePlan};
use crate::swarm::update_config::{FailureAction, UpdateConfig, UpdateOrder};

/// The tasks of one slot.
struct Slot<'t> {
    /// Every task of the slot the store holds.
    all: Vec<&'t Task>,
    /// Those the managers want running.
    live: Vec<&'t Task>,
}

/// What one run reads and has decided so far.
struct Run<'a> {
    service: &'a Service,
    force: bool,
    out: Reconciliation,
}

impl Run<'_> {
    /// The task was made from an older spec version that runs another container than the
    /// service's (or, in a forced update, from any older version). A task of the current
    /// version is never dirty: the reconcilers made it from the current spec.
    fn is_dirty(&self, task: &Task) -> bool {
        task.spec_version < self.service.spec_version
            && (self.force || !task.spec.same_tasks(&self.service.spec))
    }

    /// The slot's current task runs another spec: the update must replace it.
    fn slot_is_dirty(&self, slot: &Slot<'_>) -> bool {
        newest(&slot.live).is_some_and(|t| self.is_dirty(t))
    }

    fn requeue(&mut self, at: Timestamp) {
        self.out.requeue_at = earliest(self.out.requeue_at, Some(at));
    }

    /// Starts replacing `slot` in `order`.
    fn replace(&mut self, slot: &TaskSlot, tasks: &Slot<'_>, order: UpdateOrder) {
        let reason = ShutdownReason::Updated {
            version: self.service.spec_version,
        };
        let current = newest(&tasks.live);
        let keep = match (order, current) {
            (UpdateOrder::StartFirst, Some(c)) if !c.status.state.is_terminal() => Some(c),
            _ => None,
        };
        for task in &tasks.live {
            if keep.is_none_or(|k| k.id != task.id) {
                self.out.shutdowns.push(Shutdown {
                    task: task.id.clone(),
                    reason: reason.clone(),
                    orphaned: false,
                });
            }
        }
        let preferred_node = match slot {
            TaskSlot::Slot(_) => current.and_then(|c| c.node.clone()),
            TaskSlot::Node(_) => None,
        };
        self.out.creations.push(TaskCreation {
            service_id: self.service.id.clone(),
            slot: slot.clone(),
            spec_version: self.service.spec_version,
            reason: CreateReason::Update,
            not_before: None,
            replaces: keep.map(|k| Replaces {
                task: k.id.clone(),
                reason,
            }),
            preferred_node,
        });
    }
}

/// The knobs the update runs with: the spec's update config; for a rollback (or a cancel),
/// the rollback config of the spec rolled back from.
fn config(service: &Service, status: &UpdateStatus) -> UpdateConfig {
    if status.is_rollback() {
        service
            .previous_spec
            .as_ref()
            .map_or(service.spec.rollback_config, |p| p.rollback_config)
    } else {
        service.spec.update_config
    }
}

/// Whether a task of the slot's new spec ended in a way that fails the slot.
fn failed(task: &Task) -> bool {
    matches!(
        task.status.state,
        TaskState::Failed | TaskState::Rejected | TaskState::Complete
    )
}

/// Plans the rolling update of `service` at `now`, given the tasks in the store (tasks of
/// other services are ignored). Jobs are not updated this way (they run again with a new
/// spec). Committing the plan and planning again at the same time gives an empty plan.
pub fn plan_update(service: &Service, tasks: &[Task], now: Timestamp) -> UpdatePlan {
    if service.spec.mode.is_job() {
        return UpdatePlan::default();
    }
    let by_node = matches!(service.spec.mode, Mode::Global);
    let mut slots: BTreeMap<TaskSlot, Slot<'_>> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.service_id == service.id) {
        if matches!(task.slot, TaskSlot::Node(_)) != by_node {
            continue;
        }
        let slot = slots.entry(task.slot.clone()).or_insert_with(|| Slot {
            all: Vec::new(),
            live: Vec::new(),
        });
        slot.all.push(task);
        if task.is_desired_running() {
            slot.live.push(task);
        }
    }
    let mut run = Run {
        service,
        force: false,
        out: Reconciliation::default(),
    };
    let mut status = match &service.update_status {
        Some(s) if s.is_moving() => s.clone(),
        Some(s) if s.state.in_progress() => return UpdatePlan::default(),
        _ => {
            // At rest, a slot on another spec (a record written before rolling updates, or
            // a version bump without a status) starts an update.
            if !slots.values().any(|s| run.slot_is_dirty(s)) {
                return UpdatePlan::default();
            }
            UpdateStatus::new(UpdateState::Updating, now, "update in progress")
        }
    };
    run.force = status.force;
    let config = config(service, &status);
    let rollback = status.is_rollback();

    // 1. The slots being replaced.
    let mut new_failure = false;
    for step in std::mem::take(&mut status.progress.in_flight) {
        let Some(tasks) = slots.get(&step.slot) else {
            continue; // scaled away and forgotten
        };
        let fresh = |t: &Task| t.created_at >= step.started_at && !run.is_dirty(t);
        if let Some(task) = tasks.all.iter().find(|t| fresh(t) && failed(t)) {
            let error = task
                .status
                .error
                .clone()
                .unwrap_or_else(|| format!("{} ({})", task.status.state, task.status.message));
            status.progress.failed.push(SlotFailure {
                slot: step.slot.clone(),
                task: Some(task.id.clone()),
                error,
            });
            new_failure = true;
            continue;
        }
        if tasks.live.is_empty() {
            continue; // scaled away: nothing left to update
        }
        let current = newest(&tasks.live).filter(|t| fresh(t));
        if let Some(task) = current.filter(|t| t.status.state == TaskState::Running) {
            let settled = task.status.timestamp.after(config.monitor);
            if now >= settled {
                status.progress.done.push(step.slot.clone());
                status.progress.last_done_at = Some(now);
                continue;
            }
            run.requeue(settled);
        }
        let deadline = step.started_at.after(config.deadline);
        if now >= deadline {
            status.progress.failed.push(SlotFailure {
                slot: step.slot.clone(),
                task: current.map(|t| t.id.clone()),
                error: format!(
                    "not running and healthy {}s after its update started (the deadline)",
                    config.deadline.as_secs()
                ),
            });
            new_failure = true;
            continue;
        }
        run.requeue(deadline);
        status.progress.in_flight.push(step);
    }

    // 2. The failure action.
    let waiting: Vec<&TaskSlot> = slots
        .iter()
        .filter(|(slot, tasks)| {
            run.slot_is_dirty(tasks)
                && !status.progress.in_flight.iter().any(|s| &s.slot == *slot)
                && !status.progress.failed.iter().any(|f| &f.slot == *slot)
        })
        .map(|(slot, _)| slot)
        .collect();
    let total = status.progress.done.len()
        + status.progress.failed.len()
        + status.progress.in_flight.len()
        + waiting.len();
    let cancelled = status.state == UpdateState::Cancelled;
    if new_failure
        && !cancelled
        && config
            .max_failure_ratio
            .exceeded_by(status.progress.failed.len(), total)
    {
        let failure = status
            .progress
            .failed
            .last()
            .map(ToString::to_string)
            .unwrap_or_default();
        let what = if rollback { "rollback" } else { "update" };
        match config.failure_action {
            FailureAction::Continue => {}
            FailureAction::Rollback if !rollback => {
                let mut failed = service.clone();
                failed.update_status = Some(status.clone());
                let message = format!("update rolled back due to failure of {failure}");
                if let Ok(next) = request::rollback(&failed, message, now) {
                    return UpdatePlan {
                        service: Some(next),
                        reconciliation: Reconciliation::default(),
                    };
                }
                status.state = UpdateState::Paused;
                status.message = format!(
                    "update paused due to failure of {failure}; there is no previous spec to roll back to"
                );
                return finish(service, status, run.out);
            }
            FailureAction::Rollback | FailureAction::Pause => {
                status.state = if rollback {
                    UpdateState::RollbackPaused
                } else {
                    UpdateState::Paused
                };
                status.message = format!("{what} paused due to failure of {failure}");
                if rollback && config.failure_action == FailureAction::Rollback {
                    status
                        .message
                        .push_str(" (a rollback is never rolled back)");
                }
                return finish(service, status, run.out);
            }
        }
    }

    // 3. The next slots.
    let capacity = match config.parallelism {
        0 => usize::MAX,
        n => usize::try_from(n)
            .unwrap_or(usize::MAX)
            .saturating_sub(status.progress.in_flight.len()),
    };
    let delayed = status
        .progress
        .last_done_at
        .map(|at| at.after(config.delay))
        .filter(|until| *until > now);
    let mut started = 0;
    if capacity > 0 && !waiting.is_empty() {
        if let Some(until) = delayed {
            run.requeue(until);
        } else {
            for slot in waiting.iter().take(capacity) {
                run.replace(slot, &slots[*slot], config.order);
                status.progress.in_flight.push(SlotStep {
                    slot: (*slot).clone(),
                    started_at: now,
                });
                run.requeue(now.after(config.deadline));
                started += 1;
            }
        }
    }

    // 4. Done when no slot is left to replace.
    if status.progress.in_flight.is_empty() && waiting.len() == started {
        status.completed_at = Some(now);
        let failures = status.progress.failed.len();
        match status.state {
            UpdateState::Updating => {
                status.state = UpdateState::Completed;
                status.message = if failures == 0 {
                    "update completed".to_owned()
                } else {
                    format!("update completed with {failures} failed slot(s)")
                };
            }
            UpdateState::RollbackStarted => {
                status.state = UpdateState::RollbackCompleted;
                status.message = format!("rollback completed ({})", status.message);
            }
            _ => {
                status.message =
                    "update cancelled: the updated tasks run the previous spec again".to_owned();
            }
        }
    }
    finish(service, status, run.out)
}

/// The plan: `out`, and the service with `status` when the status changed.
fn finish(service: &Service, status: UpdateStatus, out: Reconciliation) -> UpdatePlan {
    let changed = service.update_status.as_ref() != Some(&status);
    UpdatePlan {
        service: changed.then(|| {
            let mut next = service.clone();
            next.update_status = Some(status);
            next
        }),
        reconciliation: out,
    }
}
