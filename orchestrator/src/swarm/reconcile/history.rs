//! Forgetting old tasks: each slot keeps its `task_history_limit` newest stopped tasks (for
//! `service ps`); older ones are removed. A task is only forgotten once it no longer runs
//! anywhere, counting the shutdowns this run decided. A job's completed tasks of the current
//! spec version are its record of completion: they are kept.

use std::collections::BTreeMap;

use crate::swarm::reconcile::pass::Pass;
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::task_state::TaskState;

pub(super) fn remove_old(pass: &mut Pass<'_>, tasks: &[&Task]) {
    let limit = usize::try_from(pass.service.task_history_limit).unwrap_or(usize::MAX);
    let is_job = pass.service.spec.mode.is_job();
    let version = pass.service.spec_version;
    let mut stopped: BTreeMap<&TaskSlot, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().copied() {
        let shut = !task.is_desired_running() || pass.is_shut(&task.id);
        let off_node =
            task.status.state.is_terminal() || task.node.is_none() || pass.is_orphaned(&task.id);
        let completion =
            is_job && task.spec_version == version && task.status.state == TaskState::Complete;
        if shut && off_node && !completion {
            stopped.entry(&task.slot).or_default().push(task);
        }
    }
    for (_, mut old) in stopped {
        if old.len() <= limit {
            continue;
        }
        old.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        for task in &old[limit..] {
            pass.remove(&task.id);
        }
    }
}
