//! Replicated services: slots `1..=replicas`, each with one running task. Scale-down takes
//! the slots whose task does not run first, then slots from the nodes that hold the most tasks
//! of the service; scale-up fills the lowest free slot numbers.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::swarm::ids::NodeId;
use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::pass::Pass;
use crate::swarm::reconcile::slot::{self, Rules, newest};
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::task_state::TaskState;

const RULES: Rules = Rules {
    movable: true,
    can_create: true,
    is_job: false,
};

pub(super) fn reconcile(pass: &mut Pass<'_>, tasks: &[&Task], replicas: u64) {
    let mut slots: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().copied().filter(|t| t.is_desired_running()) {
        match task.slot {
            TaskSlot::Slot(n) => slots.entry(n).or_default().push(task),
            TaskSlot::Node(_) => pass.shut_down(task, ShutdownReason::ModeChanged),
        }
    }
    let wanted = usize::try_from(replicas).unwrap_or(usize::MAX);
    if slots.len() > wanted {
        for number in scale_down(&slots, slots.len() - wanted) {
            for task in slots.remove(&number).unwrap_or_default() {
                pass.shut_down(task, ShutdownReason::ScaledDown { to: replicas });
            }
        }
    }
    for (number, live) in &slots {
        slot::settle(pass, &TaskSlot::Slot(*number), live, RULES);
    }
    let mut missing = wanted - slots.len();
    let mut number = 0;
    while missing > 0 {
        number += 1;
        if !slots.contains_key(&number) {
            pass.create(TaskSlot::Slot(number), CreateReason::Missing, None, None);
            missing -= 1;
        }
    }
}

/// The `excess` slots to remove: those whose current task does not run (highest numbers
/// first), then one at a time from the node holding the most running tasks of the service
/// (its highest slot; ties go to the node with the greatest id).
fn scale_down(slots: &BTreeMap<u64, Vec<&Task>>, excess: usize) -> Vec<u64> {
    let mut idle = Vec::new();
    let mut by_node: HashMap<&NodeId, Vec<u64>> = HashMap::new();
    for (number, live) in slots {
        match newest(live) {
            Some(Task {
                node: Some(node),
                status,
                ..
            }) if status.state == TaskState::Running => {
                by_node.entry(node).or_default().push(*number);
            }
            _ => idle.push(*number),
        }
    }
    let mut chosen: Vec<u64> = idle.into_iter().rev().take(excess).collect();
    let mut heap: BinaryHeap<(usize, &NodeId)> = by_node
        .iter()
        .map(|(node, numbers)| (numbers.len(), *node))
        .collect();
    while chosen.len() < excess {
        let Some((count, node)) = heap.pop() else {
            break;
        };
        let Some(number) = by_node.get_mut(node).and_then(Vec::pop) else {
            continue;
        };
        chosen.push(number);
        if count > 1 {
            heap.push((count - 1, node));
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::swarm::node::{Availability, NodeStatus};
    use crate::swarm::reasons::{CreateReason, ShutdownReason};
    use crate::swarm::reconcile::fixtures::*;
    use crate::swarm::restart::RestartCondition;
    use crate::swarm::task::{DesiredState, TaskSlot};
    use crate::swarm::task_state::TaskState;
    use crate::swarm::time::Timestamp;

    #[test]
    fn an_empty_service_gets_its_slots() {
        let world = World::replicated(3).with_nodes(&["n1", "n2"]);
        let rec = world.reconcile();
        let slots: Vec<_> = rec.creations.iter().map(|c| c.slot.clone()).collect();
        assert_eq!(
            slots,
            vec![TaskSlot::Slot(1), TaskSlot::Slot(2), TaskSlot::Slot(3)]
        );
        assert!(
            rec.creations
                .iter()
                .all(|c| c.reason == CreateReason::Missing && c.spec_version == 1)
        );
        assert!(rec.shutdowns.is_empty());
    }

    #[test]
    fn scale_down_takes_idle_slots_then_the_busiest_node() {
        let mut world = World::replicated(2).with_nodes(&["n1", "n2"]);
        world.running("a", 1, "n1");
        world.running("b", 2, "n1");
        world.running("c", 3, "n2");
        world.pending("d", 4);
        world.running("e", 5, "n1");
        let rec = world.reconcile();
        assert_eq!(world.shut_ids(&rec), vec!["d", "e", "b"]);
        assert!(
            rec.shutdowns
                .iter()
                .all(|s| s.reason == ShutdownReason::ScaledDown { to: 2 })
        );
        assert!(rec.creations.is_empty());
    }

    #[test]
    fn scale_up_fills_the_lowest_free_slots() {
        let mut world = World::replicated(3).with_nodes(&["n1"]);
        world.running("a", 2, "n1");
        let rec = world.reconcile();
        let slots: Vec<_> = rec.creations.iter().map(|c| c.slot.clone()).collect();
        assert_eq!(slots, vec![TaskSlot::Slot(1), TaskSlot::Slot(3)]);
    }

    #[test]
    fn a_failed_task_is_restarted_after_the_delay_and_recorded() {
        let mut world = World::replicated(1).with_nodes(&["n1"]);
        world.stopped("a", 1, "n1", TaskState::Failed, Timestamp(1_000));
        world.now = Timestamp(2_000);
        let rec = world.reconcile();
        assert_eq!(world.shut_ids(&rec), vec!["a"]);
        assert_eq!(rec.shutdowns[0].reason, ShutdownReason::Restarted);
        assert_eq!(rec.creations.len(), 1);
        assert_eq!(rec.creations[0].reason, CreateReason::Restart);
        assert_eq!(rec.creations[0].not_before, Some(Timestamp(6_000)));
        assert_eq!(rec.restarts.len(), 1);
    }

    #[test]
    fn tasks_on_a_down_node_are_orphaned_and_replaced_at_once() {
        let mut world = World::replicated(2).with_nodes(&["n1", "n2"]);
        world.running("a", 1, "n1");
        world.running("b", 2, "n2");
        world.nodes[0].status = NodeStatus::Down;
        let rec = world.reconcile();
        assert_eq!(world.shut_ids(&rec), vec!["a"]);
        assert!(rec.shutdowns[0].orphaned);
        assert_eq!(rec.creations.len(), 1);
        assert_eq!(rec.creations[0].reason, CreateReason::Lost);
        assert_eq!(rec.creations[0].not_before, None);
        assert!(
            rec.restarts.is_empty(),
            "a lost task is not a restart attempt"
        );
    }

    #[test]
    fn drain_starts_the_replacement_before_stopping_the_old_task() {
        let mut world = World::replicated(1).with_nodes(&["n1", "n2"]);
        world.running("a", 1, "n1");
        world.nodes[0].availability = Availability::Drain;
        let rec = world.reconcile();
        assert!(
            rec.shutdowns.is_empty(),
            "the old task keeps running for now"
        );
        let replaces = rec.creations[0].replaces.clone().unwrap();
        assert_eq!(replaces.task.as_str(), "a");
        assert_eq!(
            replaces.reason,
            ShutdownReason::NodeDrained { node: "n1".into() }
        );

        // Committed: the replacement is pending, nothing more to do.
        world.commit(&rec);
        assert!(world.reconcile().is_empty());

        // Once the replacement runs, the old task stops.
        let new_id = world.tasks[1].id.clone();
        world.set_running(&new_id, "n2");
        let rec = world.reconcile();
        assert_eq!(world.shut_ids(&rec), vec!["a"]);
        assert_eq!(
            rec.shutdowns[0].reason,
            ShutdownReason::NodeDrained { node: "n1".into() }
        );
        assert!(rec.creations.is_empty());
    }

    #[test]
    fn a_replacement_that_fails_before_running_is_restarted_and_keeps_replacing() {
        let mut world = World::replicated(1).with_nodes(&["n1", "n2"]);
        world.running("a", 1, "n1");
        world.nodes[0].availability = Availability::Drain;
        let rec = world.reconcile();
        world.commit(&rec);
        let new_id = world.tasks[1].id.clone();
        world.set_state(&new_id, TaskState::Rejected);
        let rec = world.reconcile();
        assert_eq!(world.shut_ids(&rec), vec![new_id.as_str()]);
        assert_eq!(
            rec.creations[0].replaces.as_ref().unwrap().task.as_str(),
            "a"
        );
    }

    #[test]
    fn history_beyond_the_limit_is_forgotten() {
        let mut world = World::replicated(1).with_nodes(&["n1"]);
        world.service.task_history_limit = 2;
        for (i, id) in ["h1", "h2", "h3", "h4"].iter().enumerate() {
            world.stopped(id, 1, "n1", TaskState::Failed, Timestamp(i as u64));
            world.tasks.last_mut().unwrap().desired_state = DesiredState::Shutdown;
            world.tasks.last_mut().unwrap().created_at = Timestamp(i as u64);
        }
        world.running("a", 1, "n1");
        let rec = world.reconcile();
        let removed: Vec<_> = rec.removals.iter().map(|t| t.as_str()).collect();
        assert_eq!(removed, vec!["h2", "h1"]);
    }

    #[test]
    fn restart_condition_none_leaves_the_slot_stopped() {
        let mut world = World::replicated(1).with_nodes(&["n1"]);
        world.service.spec.restart_policy.condition = RestartCondition::None;
        world.stopped("a", 1, "n1", TaskState::Complete, Timestamp(0));
        assert!(world.reconcile().is_empty());
    }

    #[test]
    fn max_attempts_hold_restarts_until_the_window_moves() {
        let mut world = World::replicated(1).with_nodes(&["n1"]);
        world.service.spec.restart_policy.max_attempts = Some(1);
        world.service.spec.restart_policy.window = Some(Duration::from_secs(10));
        world.stopped("a", 1, "n1", TaskState::Failed, Timestamp(0));
        let rec = world.reconcile();
        assert_eq!(rec.restarts.len(), 1);
        world.commit(&rec);
        let new_id = world.tasks[1].id.clone();
        world.set_running(&new_id, "n1");
        world.set_state(&new_id, TaskState::Failed);
        world.now = Timestamp(1_000);
        let rec = world.reconcile();
        assert!(rec.is_empty(), "{rec:?}");
        assert_eq!(rec.requeue_at, Some(Timestamp(10_000)));
        world.now = Timestamp(10_000);
        assert_eq!(world.reconcile().creations.len(), 1);
    }
}
