//! Forgetting old tasks: each slot keeps its `task_history_limit` newest stopped tasks (for
//! `service ps`); older ones are removed. A task is only forgotten once it no longer runs
//! anywhere, counting the shutdowns this run decided.

use std::collections::BTreeMap;

use crate::swarm::reconcile::pass::Pass;
use crate::swarm::task::{Task, TaskSlot};

pub(super) fn remove_old(pass: &mut Pass<'_>, tasks: &[&Task]) {
    let limit = usize::try_from(pass.service.task_history_limit).unwrap_or(usize::MAX);
    let mut stopped: BTreeMap<&TaskSlot, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().copied() {
        let shut = !task.is_desired_running() || pass.is_shut(&task.id);
        let off_node =
            task.status.state.is_terminal() || task.node.is_none() || pass.is_orphaned(&task.id);
        if shut && off_node {
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
