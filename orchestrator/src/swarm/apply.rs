//! How decisions are committed: the reference for the store's apply step, used by the tests
//! and the simulation, and by the cluster side on its own copies of the records. Applying is
//! deterministic given the ids and the time the leader stamped.

use std::collections::HashMap;
use std::sync::Arc;

use crate::swarm::ids::TaskId;
use crate::swarm::reconcile::Reconciliation;
use crate::swarm::restart::RestartHistory;
use crate::swarm::schedule::Schedule;
use crate::swarm::service::Service;
use crate::swarm::spec::ServiceSpec;
use crate::swarm::task::{DesiredState, Task};
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;

/// Commits `reconciliation` (computed for `service` from `tasks` and `history`): shutdowns,
/// removals, then creations with ids from `next_id`; restarts go into `history`.
pub fn apply_reconciliation(
    service: &Service,
    tasks: &mut Vec<Task>,
    history: &mut RestartHistory,
    reconciliation: &Reconciliation,
    now: Timestamp,
    mut next_id: impl FnMut() -> TaskId,
) {
    let index: HashMap<TaskId, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    for shutdown in &reconciliation.shutdowns {
        let Some(task) = index.get(&shutdown.task).and_then(|&i| tasks.get_mut(i)) else {
            continue;
        };
        task.desired_state = DesiredState::Shutdown;
        task.shutdown_reason = Some(shutdown.reason.clone());
        if shutdown.orphaned && task.status.state.advance(TaskState::Orphaned).is_ok() {
            task.status.message = shutdown.reason.to_string();
            task.status.timestamp = now;
        }
    }
    if !reconciliation.removals.is_empty() {
        let removed: std::collections::HashSet<&TaskId> = reconciliation.removals.iter().collect();
        tasks.retain(|t| !removed.contains(&t.id));
    }
    if !reconciliation.creations.is_empty() {
        let spec = shared_spec(service, tasks);
        for creation in &reconciliation.creations {
            tasks.push(creation.clone().into_task(next_id(), &spec, now));
        }
    }
    history.apply(&reconciliation.restarts, &service.spec.restart_policy, now);
}

/// The spec of `service` as new tasks hold it: the copy its tasks of the same version already
/// share when there is one (so a service's tasks keep one copy between passes), else a new one.
pub fn shared_spec(service: &Service, tasks: &[Task]) -> Arc<ServiceSpec> {
    tasks
        .iter()
        .find(|t| t.service_id == service.id && t.spec_version == service.spec_version)
        .filter(|t| *t.spec == service.spec)
        .map_or_else(|| Arc::new(service.spec.clone()), |t| Arc::clone(&t.spec))
}

/// Commits `schedule`: assigned tasks get their node and the state `assigned`; tasks that
/// cannot be placed stay `pending` with the reason as their message.
pub fn apply_schedule(tasks: &mut [Task], schedule: &Schedule, now: Timestamp) {
    let index: HashMap<&TaskId, usize> =
        tasks.iter().enumerate().map(|(i, t)| (&t.id, i)).collect();
    let assigned: Vec<(usize, _)> = schedule
        .assignments
        .iter()
        .filter_map(|a| index.get(&a.task).map(|&i| (i, a.node.clone())))
        .collect();
    let unplaced: Vec<(usize, String)> = schedule
        .unplaced
        .iter()
        .filter_map(|u| index.get(&u.task).map(|&i| (i, u.reason.to_string())))
        .collect();
    for (i, node) in assigned {
        let task = &mut tasks[i];
        if task.is_unassigned() && task.status.state.advance(TaskState::Assigned).is_ok() {
            task.node = Some(node);
            task.status.message = "assigned".to_string();
            task.status.timestamp = now;
        }
    }
    for (i, reason) in unplaced {
        let task = &mut tasks[i];
        if task.status.state == TaskState::New {
            task.status.state = TaskState::Pending;
            task.status.timestamp = now;
        }
        if task.status.state == TaskState::Pending {
            task.status.message = reason;
        }
    }
}
