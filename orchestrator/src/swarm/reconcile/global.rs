//! Global services and global jobs: one task on every eligible node (ready, active,
//! constraints met), including nodes that join later. Tasks on drained, unfit or lost nodes
//! shut down (there is nowhere to move them); tasks on paused nodes, or nodes whose liveness
//! is not known yet, stay but are not restarted there.

use std::collections::{BTreeMap, BTreeSet};

use crate::swarm::ids::NodeId;
use crate::swarm::node::Node;
use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::pass::{Fitness, Pass};
use crate::swarm::reconcile::slot::{self, Rules};
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::task_state::TaskState;

pub(super) fn reconcile(pass: &mut Pass<'_>, tasks: &[&Task], nodes: &[Node], is_job: bool) {
    let version = pass.service.spec_version;
    let mut live: BTreeMap<&NodeId, Vec<&Task>> = BTreeMap::new();
    let mut done: BTreeSet<&NodeId> = BTreeSet::new();
    for task in tasks.iter().copied() {
        let TaskSlot::Node(node) = &task.slot else {
            if task.is_desired_running() {
                pass.shut_down(task, ShutdownReason::ModeChanged);
            }
            continue;
        };
        let current = task.spec_version == version;
        if is_job && current && task.status.state == TaskState::Complete {
            done.insert(node);
        }
        if !task.is_desired_running() {
            continue;
        }
        if is_job && !current {
            pass.shut_down(task, ShutdownReason::JobSpecChanged);
            continue;
        }
        live.entry(node).or_default().push(task);
    }
    for (node, tasks) in &live {
        let reason = match pass.fitness(node) {
            Fitness::Lost => ShutdownReason::NodeDown {
                node: (*node).clone(),
            },
            Fitness::Drained => ShutdownReason::NodeDrained {
                node: (*node).clone(),
            },
            Fitness::Unfit => ShutdownReason::ConstraintsNotMet {
                node: (*node).clone(),
            },
            fitness => {
                let rules = Rules {
                    movable: false,
                    can_create: fitness == Fitness::Eligible,
                    is_job,
                };
                slot::settle(pass, &TaskSlot::Node((*node).clone()), tasks, rules);
                continue;
            }
        };
        for task in tasks {
            pass.shut_down(task, reason.clone());
        }
    }
    for node in nodes {
        if !live.contains_key(&node.id)
            && !done.contains(&node.id)
            && pass.fitness(&node.id) == Fitness::Eligible
        {
            pass.create(
                TaskSlot::Node(node.id.clone()),
                CreateReason::Missing,
                None,
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::swarm::mode::Mode;
    use crate::swarm::node::{Availability, NodeStatus};
    use crate::swarm::reasons::ShutdownReason;
    use crate::swarm::reconcile::fixtures::World;
    use crate::swarm::task::TaskSlot;
    use crate::swarm::task_state::TaskState;

    fn created_on(rec: &crate::swarm::reconcile::Reconciliation) -> Vec<String> {
        rec.creations
            .iter()
            .map(|c| match &c.slot {
                TaskSlot::Node(n) => n.to_string(),
                TaskSlot::Slot(n) => format!("slot {n}"),
            })
            .collect()
    }

    #[test]
    fn one_task_per_eligible_node_including_late_joiners() {
        let mut world = World::with_mode(Mode::Global).with_nodes(&["n1", "n2", "n3"]);
        world.nodes[1].availability = Availability::Pause;
        world.nodes[2].status = NodeStatus::Unknown;
        world.running_in("a", TaskSlot::Node("n1".into()), "n1");
        assert!(world.reconcile().is_empty());
        world.nodes.push(crate::swarm::node::tests::node("n4"));
        assert_eq!(created_on(&world.reconcile()), vec!["n4"]);
    }

    #[test]
    fn tasks_on_drained_down_or_unfit_nodes_shut_down() {
        let mut world = World::with_mode(Mode::Global).with_nodes(&["n1", "n2", "n3"]);
        world.service.spec.placement.constraints = vec!["node.labels.gpu!=no".parse().unwrap()];
        for n in ["n1", "n2", "n3"] {
            world.running_in(n, TaskSlot::Node(n.into()), n);
        }
        world.running_in("gone", TaskSlot::Node("n9".into()), "n9");
        world.nodes[0].availability = Availability::Drain;
        world.nodes[1].status = NodeStatus::Down;
        world.nodes[2].labels.insert("gpu".into(), "no".into());
        let rec = world.reconcile();
        let reasons: Vec<_> = rec
            .shutdowns
            .iter()
            .map(|s| (s.task.to_string(), s.reason.to_string(), s.orphaned))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("n1".into(), "node n1 is drained".into(), false),
                ("n2".into(), "node n2 is down".into(), true),
                (
                    "n3".into(),
                    "node n3 no longer meets the placement constraints".into(),
                    false
                ),
                ("gone".into(), "node n9 is down".into(), true),
            ]
        );
        assert!(rec.creations.is_empty());
    }

    #[test]
    fn a_global_job_runs_once_per_node() {
        let mut world = World::with_mode(Mode::GlobalJob).with_nodes(&["n1", "n2"]);
        world.running_in("a", TaskSlot::Node("n1".into()), "n1");
        world.set_state(&"a".into(), TaskState::Complete);
        let rec = world.reconcile();
        assert_eq!(created_on(&rec), vec!["n2"]);
        assert!(rec.shutdowns.is_empty());
    }

    #[test]
    fn a_failed_global_task_is_restarted_on_its_node_only_when_eligible() {
        let mut world = World::with_mode(Mode::Global).with_nodes(&["n1"]);
        world.running_in("a", TaskSlot::Node("n1".into()), "n1");
        world.set_state(&"a".into(), TaskState::Failed);
        let rec = world.reconcile();
        assert_eq!(created_on(&rec), vec!["n1"]);
        assert_eq!(rec.shutdowns[0].reason, ShutdownReason::Restarted);
        world.nodes[0].availability = Availability::Pause;
        assert!(world.reconcile().is_empty());
    }
}
