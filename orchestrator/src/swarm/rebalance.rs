//! Rebalance: when a replicated service's running tasks are spread unevenly over the nodes
//! that may run them (a node joined or came back), move a bounded number of tasks toward an
//! even spread. A move starts the new task first (a creation that replaces the old task and
//! prefers the emptier node); the reconciler shuts the old one down once the new one runs.
//!
//! Moves are proposed only when the service is at rest (every slot has exactly one task, and
//! it runs on a node that may keep it), so moves in flight are never doubled. Nodes are
//! balanced within each spread group (nodes sharing the values of every spread label); moving
//! tasks between spread groups is left to new placements.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::swarm::ids::NodeId;
use crate::swarm::mode::Mode;
use crate::swarm::node::Node;
use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::{Fitness, Reconciliation, TaskCreation, fitness};
use crate::swarm::schedule::{Demand, Usage};
use crate::swarm::service::Service;
use crate::swarm::task::{Replaces, Task, TaskSlot};
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;

/// Proposes at most `max_moves` moves of `service`'s tasks toward an even spread. `tasks` are
/// every task of the cluster (what the nodes hold decides where a task fits). Empty when the
/// service opted out (`rebalance: false`), is not replicated, has an update or rollback in
/// progress, or is not at rest. The caller commits the creations like a reconciler's.
pub fn rebalance(
    service: &Service,
    tasks: &[Task],
    nodes: &[Node],
    max_moves: usize,
    now: Timestamp,
) -> Reconciliation {
    let mut out = Reconciliation::default();
    if !service.rebalance
        || service.update_in_progress()
        || !matches!(service.spec.mode, Mode::Replicated { .. })
        || max_moves == 0
    {
        return out;
    }
    let placement = &service.spec.placement;
    let by_id: HashMap<&NodeId, &Node> = nodes.iter().map(|n| (&n.id, n)).collect();
    let mut on_node: HashMap<&NodeId, Vec<&Task>> = HashMap::new();
    let mut slots = HashSet::new();
    for task in tasks
        .iter()
        .filter(|t| t.service_id == service.id && t.is_desired_running())
    {
        let at_rest = task.status.state == TaskState::Running
            && matches!(task.slot, TaskSlot::Slot(_))
            && slots.insert(&task.slot)
            && task
                .node
                .as_ref()
                .is_some_and(|n| fitness(by_id.get(n).copied(), placement) == Fitness::Eligible);
        let Some(node) = task.node.as_ref().filter(|_| at_rest) else {
            return out;
        };
        on_node.entry(node).or_default().push(task);
    }
    let index: HashMap<&NodeId, usize> =
        nodes.iter().enumerate().map(|(i, n)| (&n.id, i)).collect();
    let mut usage = Usage::new(&index, tasks, now);
    let demand = Demand::new(&service.spec);
    // Eligible nodes by spread group.
    let mut groups: BTreeMap<Vec<Option<&str>>, Vec<usize>> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if fitness(Some(node), placement) == Fitness::Eligible {
            let key = placement
                .preferences
                .iter()
                .map(|p| p.value(node))
                .collect();
            groups.entry(key).or_default().push(i);
        }
    }
    for members in groups.values() {
        let mut moves_left = max_moves - out.creations.len();
        while moves_left > 0 {
            let count = |i: usize| on_node.get(&nodes[i].id).map_or(0, Vec::len);
            let Some(&source) = members
                .iter()
                .max_by_key(|&&i| (count(i), std::cmp::Reverse(i)))
            else {
                break;
            };
            let target = members
                .iter()
                .copied()
                .filter(|&i| {
                    demand
                        .dynamic_failure(&nodes[i], &usage, i, usage.service_tasks(&service.id, i))
                        .is_none()
                })
                .min_by_key(|&i| (count(i), i));
            let Some(target) = target.filter(|&t| count(source) > count(t) + 1) else {
                break;
            };
            let Some(task) = on_node.get_mut(&nodes[source].id).and_then(|list| {
                list.sort_by_key(|t| std::cmp::Reverse(t.slot.clone()));
                (!list.is_empty()).then(|| list.remove(0))
            }) else {
                break;
            };
            usage.hold(target, &service.id, task);
            on_node.entry(&nodes[target].id).or_default().push(task);
            out.creations.push(TaskCreation {
                service_id: service.id.clone(),
                slot: task.slot.clone(),
                spec_version: service.spec_version,
                reason: CreateReason::Replacement,
                not_before: None,
                replaces: Some(Replaces {
                    task: task.id.clone(),
                    reason: ShutdownReason::Rebalanced {
                        node: nodes[source].id.clone(),
                    },
                }),
                preferred_node: Some(nodes[target].id.clone()),
            });
            moves_left -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::tests::node;
    use crate::swarm::reconcile::fixtures::World;
    use crate::swarm::service::{UpdateState, UpdateStatus};

    /// Six tasks on n1 and n2, and an empty n3 that just joined.
    fn uneven() -> World {
        let mut world = World::replicated(6).with_nodes(&["n1", "n2", "n3"]);
        for slot in 1..=6 {
            let n = if slot % 2 == 0 { "n2" } else { "n1" };
            world.running(&format!("t{slot}"), slot, n);
        }
        world
    }

    fn moves(world: &World, max: usize) -> Reconciliation {
        rebalance(&world.service, &world.tasks, &world.nodes, max, world.now)
    }

    #[test]
    fn moves_toward_the_new_node_a_bounded_number_at_a_time() {
        let world = uneven();
        let all = moves(&world, 10);
        assert_eq!(all.creations.len(), 2);
        assert!(
            all.creations
                .iter()
                .all(|c| c.preferred_node == Some("n3".into()))
        );
        let replaced: Vec<_> = all
            .creations
            .iter()
            .map(|c| c.replaces.as_ref().unwrap().task.to_string())
            .collect();
        assert_eq!(replaced, vec!["t5", "t6"]);
        assert_eq!(moves(&world, 1).creations.len(), 1);
    }

    #[test]
    fn skipped_when_opted_out_updating_or_not_at_rest() {
        let mut world = uneven();
        world.service.rebalance = false;
        assert!(moves(&world, 5).is_empty());
        world.service.rebalance = true;
        world.service.update_status = Some(UpdateStatus::new(
            UpdateState::Updating,
            Timestamp(0),
            String::new(),
        ));
        assert!(moves(&world, 5).is_empty());
        world.service.update_status = None;
        world.pending("t7", 7);
        assert!(moves(&world, 5).is_empty());
    }

    #[test]
    fn the_old_task_stops_once_the_moved_one_runs() {
        let mut world = uneven();
        let rec = moves(&world, 1);
        world.commit(&rec);
        assert!(
            world.reconcile().is_empty(),
            "nothing stops before the new task runs"
        );
        assert!(
            moves(&world, 1).is_empty(),
            "no second move while one is in flight"
        );
        let new_id = world.tasks.last().unwrap().id.clone();
        world.set_running(&new_id, "n3");
        let rec = world.reconcile();
        assert_eq!(world.shut_ids(&rec), vec!["t5"]);
        assert_eq!(
            rec.shutdowns[0].reason,
            ShutdownReason::Rebalanced { node: "n1".into() }
        );
    }

    #[test]
    fn an_even_spread_or_a_full_node_moves_nothing() {
        let mut world = uneven();
        world.nodes.pop();
        assert!(moves(&world, 5).is_empty());
        let mut full = node("n3");
        full.resources.memory_bytes = 0;
        world.service.spec.resources.reservations.memory_bytes = 1;
        world.nodes.push(full);
        assert!(moves(&world, 5).is_empty());
    }
}
