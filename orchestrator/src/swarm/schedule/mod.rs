//! The scheduler: assigns unassigned tasks to nodes through a filter → rank pipeline (after
//! nomad's `scheduler/feasible/stack.go`).
//!
//! Filters (`filter.rs`): node ready and active, placement constraints, then resources (the
//! reservation against what the node reported minus what its active tasks reserve), host-mode
//! published ports, max replicas per node. Rank (`tree.rs`): spread preferences over label
//! values, then fewer recent failures of the service on the node, fewer tasks of the service,
//! fewer tasks overall. Tasks are batched per (service, spec version), so the static filters
//! and the spread tree are computed once per batch. A task that fits nowhere gets one exact
//! reason ([`NoSuitableNode`]).

mod explain;
mod filter;
mod tree;
mod usage;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::swarm::ids::{NodeId, ServiceId, TaskId};
use crate::swarm::node::{Node, NodeStatus};
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::time::{Timestamp, earliest};

pub use explain::{NoSuitableNode, ReasonParseError};
pub(crate) use filter::Demand;
pub use filter::FilterFailure;
pub use usage::FAILURE_WINDOW;
pub(crate) use usage::Usage;

use tree::{Rank, Tree};

/// A task placed on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The task.
    pub task: TaskId,
    /// Its node.
    pub node: NodeId,
}

/// A task no node can take now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unplaced {
    /// The task.
    pub task: TaskId,
    /// Why.
    pub reason: NoSuitableNode,
}

/// What the scheduler decided.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schedule {
    /// Placed tasks.
    pub assignments: Vec<Assignment>,
    /// Tasks that stay pending, each with its reason.
    pub unplaced: Vec<Unplaced>,
    /// The earliest time a task held back by its restart delay may be placed: run the
    /// scheduler again then.
    pub retry_at: Option<Timestamp>,
}

/// Places the unassigned tasks among `tasks` (every task of the cluster, so that what the
/// nodes hold is counted) on `nodes` at `now`. The caller commits the assignments (node set,
/// state `assigned`) and the pending reasons ([`crate::swarm::apply_schedule`]).
pub fn schedule(nodes: &[Node], tasks: &[Task], now: Timestamp) -> Schedule {
    let index: HashMap<&NodeId, usize> =
        nodes.iter().enumerate().map(|(i, n)| (&n.id, i)).collect();
    let mut usage = Usage::new(&index, tasks, now);
    let mut out = Schedule::default();
    let mut batches: BTreeMap<(&ServiceId, u64), Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.is_unassigned()) {
        match task.not_before {
            Some(at) if at > now => out.retry_at = earliest(out.retry_at, Some(at)),
            _ => batches
                .entry((&task.service_id, task.spec_version))
                .or_default()
                .push(task),
        }
    }
    for ((service, _), batch) in batches {
        let mut run = Batch::new(nodes, &index, service, &batch);
        for task in batch {
            run.place(&mut usage, task, &mut out);
        }
    }
    out
}

/// The placement of one batch: one service, one spec version.
struct Batch<'a> {
    nodes: &'a [Node],
    index: &'a HashMap<&'a NodeId, usize>,
    service: &'a ServiceId,
    demand: Demand<'a>,
    statics: Vec<Option<filter::FilterFailure>>,
    tree: Option<Tree<'a>>,
    explained: Option<NoSuitableNode>,
}

impl<'a> Batch<'a> {
    fn new(
        nodes: &'a [Node],
        index: &'a HashMap<&'a NodeId, usize>,
        service: &'a ServiceId,
        batch: &[&'a Task],
    ) -> Self {
        let demand = Demand::new(&batch[0].spec);
        let statics = nodes.iter().map(|n| demand.static_failure(n)).collect();
        Self {
            nodes,
            index,
            service,
            demand,
            statics,
            tree: None,
            explained: None,
        }
    }

    /// The rank of node `i` for this batch, or `None` when a filter rejects it.
    fn rank(&self, usage: &Usage, i: usize) -> Option<Rank> {
        if self.statics[i].is_some() {
            return None;
        }
        let service_tasks = usage.service_tasks(self.service, i);
        if self
            .demand
            .dynamic_failure(&self.nodes[i], usage, i, service_tasks)
            .is_some()
        {
            return None;
        }
        Some((
            usage.failures(self.service, i),
            service_tasks,
            usage.tasks(i),
            i,
        ))
    }

    /// Why node `i` cannot take a task of the batch now.
    fn failure(&self, usage: &Usage, i: usize) -> Option<filter::FilterFailure> {
        self.statics[i].clone().or_else(|| {
            let service_tasks = usage.service_tasks(self.service, i);
            self.demand
                .dynamic_failure(&self.nodes[i], usage, i, service_tasks)
        })
    }

    fn build_tree(&self, usage: &Usage) -> Tree<'a> {
        let preferences = &self.demand.spec.placement.preferences;
        let mut tree = Tree::new(preferences.len());
        let mut values = Vec::with_capacity(preferences.len());
        for (i, node) in self.nodes.iter().enumerate() {
            if self.statics[i].is_some() {
                continue;
            }
            values.clear();
            values.extend(preferences.iter().map(|p| p.value(node)));
            tree.add(
                i,
                &values,
                usage.service_tasks(self.service, i),
                self.rank(usage, i),
            );
        }
        tree.seal();
        tree
    }

    fn place(&mut self, usage: &mut Usage, task: &'a Task, out: &mut Schedule) {
        let chosen = match &task.slot {
            TaskSlot::Node(node) => match self.index.get(node) {
                Some(&i) => match self.failure(usage, i) {
                    None => Ok(i),
                    Some(failure) => Err(NoSuitableNode::count(1, [failure])),
                },
                None => Err(NoSuitableNode::count(0, [])),
            },
            TaskSlot::Slot(_) => self.place_anywhere(usage, task),
        };
        match chosen {
            Ok(i) => {
                usage.hold(i, self.service, task);
                let rank = self.rank(usage, i);
                if let Some(tree) = self.tree.as_mut() {
                    tree.placed(i, rank);
                }
                out.assignments.push(Assignment {
                    task: task.id.clone(),
                    node: self.nodes[i].id.clone(),
                });
            }
            Err(reason) => out.unplaced.push(Unplaced {
                task: task.id.clone(),
                reason,
            }),
        }
    }

    /// Places a slot's task: on its preferred node when that node takes it; nowhere yet when
    /// the preferred node's liveness is not known (just after a leader change), so that an
    /// update's replacement or a move stays where it was meant to go instead of unbalancing
    /// the service (the grace period ends soon: the node is then ready, or down and no longer
    /// waited for); otherwise on the best-ranked node.
    fn place_anywhere(&mut self, usage: &Usage, task: &Task) -> Result<usize, NoSuitableNode> {
        if let Some(&i) = task.preferred_node.as_ref().and_then(|n| self.index.get(n)) {
            if self.rank(usage, i).is_some() {
                return Ok(i);
            }
            if self.nodes[i].status == NodeStatus::Unknown {
                let waiting = FilterFailure::NotReady(NodeStatus::Unknown);
                return Err(NoSuitableNode::count(1, [waiting]));
            }
        }
        if self.tree.is_none() {
            self.tree = Some(self.build_tree(usage));
        }
        let mut tree = self.tree.take().expect("built above");
        let taken = tree.take(|i| self.rank(usage, i));
        self.tree = Some(tree);
        if let Some(i) = taken {
            return Ok(i);
        }
        if self.explained.is_none() {
            let failures = (0..self.nodes.len()).filter_map(|i| self.failure(usage, i));
            self.explained = Some(NoSuitableNode::count(self.nodes.len(), failures));
        }
        Err(self.explained.clone().expect("computed above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::container::{Protocol, PublishMode, PublishedPort};
    use crate::swarm::node::tests::node;
    use crate::swarm::spec::ServiceSpec;
    use crate::swarm::task::tests::task;
    use crate::swarm::task_state::TaskState;

    fn pending(n: u64, spec: &ServiceSpec) -> Vec<Task> {
        (1..=n)
            .map(|slot| {
                let mut t = task(&format!("t{slot}"), TaskSlot::Slot(slot));
                t.spec = std::sync::Arc::new(spec.clone());
                t
            })
            .collect()
    }

    fn per_node(schedule: &Schedule) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for a in &schedule.assignments {
            *counts.entry(a.node.to_string()).or_default() += 1;
        }
        counts
    }

    #[test]
    fn tasks_spread_evenly_over_nodes() {
        let nodes: Vec<_> = ["n1", "n2", "n3"].iter().map(|n| node(n)).collect();
        let out = schedule(&nodes, &pending(7, &ServiceSpec::default()), Timestamp(0));
        assert!(out.unplaced.is_empty());
        let counts: Vec<_> = per_node(&out).into_values().collect();
        assert_eq!(counts, vec![3, 2, 2]);
    }

    #[test]
    fn existing_tasks_count_and_recent_failures_rank_last() {
        let nodes: Vec<_> = ["n1", "n2", "n3"].iter().map(|n| node(n)).collect();
        let mut tasks = pending(1, &ServiceSpec::default());
        let mut running = task("r", TaskSlot::Slot(9));
        running.node = Some("n1".into());
        running.status.state = TaskState::Running;
        let mut failed = task("f", TaskSlot::Slot(8));
        failed.node = Some("n2".into());
        failed.desired_state = crate::swarm::task::DesiredState::Shutdown;
        failed.status.state = TaskState::Failed;
        failed.status.timestamp = Timestamp(1_000);
        tasks.extend([running, failed]);
        let out = schedule(&nodes, &tasks, Timestamp(2_000));
        assert_eq!(out.assignments[0].node.as_str(), "n3");
    }

    #[test]
    fn an_unplaceable_task_gets_the_exact_reason() {
        let mut nodes: Vec<_> = ["n1", "n2", "n3"].iter().map(|n| node(n)).collect();
        for n in &mut nodes[..2] {
            n.labels.insert("zone".into(), "east".into());
            n.resources.memory_bytes = 1 << 30;
        }
        let mut spec = ServiceSpec::default();
        spec.placement.constraints = vec!["node.labels.zone==east".parse().unwrap()];
        spec.resources.reservations.memory_bytes = 2 << 30;
        let out = schedule(&nodes, &pending(2, &spec), Timestamp(0));
        assert!(out.assignments.is_empty());
        assert_eq!(
            out.unplaced[0].reason.to_string(),
            "no suitable node (3 nodes: insufficient memory for a 2GiB reservation on 2, constraint node.labels.zone==east not met on 1)"
        );
        assert_eq!(out.unplaced.len(), 2);
    }

    #[test]
    fn reservations_are_never_overcommitted() {
        let nodes: Vec<_> = ["n1", "n2"].iter().map(|n| node(n)).collect();
        let mut spec = ServiceSpec::default();
        spec.resources.reservations.nano_cpus = 1_500_000_000;
        let out = schedule(&nodes, &pending(6, &spec), Timestamp(0));
        assert_eq!(out.assignments.len(), 4);
        assert_eq!(
            out.unplaced[0].reason.to_string(),
            "no suitable node (2 nodes: insufficient CPU for a 1.5 CPUs reservation on 2)"
        );
    }

    #[test]
    fn spread_preferences_balance_label_values_first() {
        let mut nodes: Vec<_> = ["a1", "a2", "a3", "b1"].iter().map(|n| node(n)).collect();
        for n in &mut nodes {
            let zone = n.id.as_str()[..1].to_string();
            n.labels.insert("zone".into(), zone);
        }
        let mut spec = ServiceSpec::default();
        spec.placement.preferences = vec!["spread=node.labels.zone".parse().unwrap()];
        let out = schedule(&nodes, &pending(6, &spec), Timestamp(0));
        let counts = per_node(&out);
        assert_eq!(counts["b1"], 3, "{counts:?}");
        assert_eq!(counts["a1"] + counts["a2"] + counts["a3"], 3);
    }

    #[test]
    fn max_replicas_and_host_ports_limit_each_node() {
        let nodes: Vec<_> = ["n1", "n2"].iter().map(|n| node(n)).collect();
        let mut spec = ServiceSpec::default();
        spec.placement.max_replicas_per_node = Some(2);
        let out = schedule(&nodes, &pending(5, &spec), Timestamp(0));
        assert_eq!(out.assignments.len(), 4);
        assert_eq!(
            out.unplaced[0].reason.to_string(),
            "no suitable node (2 nodes: max replicas per node (2) reached on 2)"
        );
        let spec = ServiceSpec {
            ports: vec![PublishedPort {
                target: 80,
                published: Some(8080),
                protocol: Protocol::Tcp,
                mode: PublishMode::Host,
                name: None,
            }],
            ..ServiceSpec::default()
        };
        let out = schedule(&nodes, &pending(3, &spec), Timestamp(0));
        assert_eq!(out.assignments.len(), 2);
        assert_eq!(
            out.unplaced[0].reason.to_string(),
            "no suitable node (2 nodes: host port 8080/tcp in use on 2)"
        );
    }

    #[test]
    fn delayed_restarts_wait_and_global_tasks_stay_on_their_node() {
        let mut nodes: Vec<_> = ["n1", "n2"].iter().map(|n| node(n)).collect();
        nodes[1].availability = crate::swarm::node::Availability::Pause;
        let mut delayed = task("d", TaskSlot::Slot(1));
        delayed.not_before = Some(Timestamp(5_000));
        let mut g1 = task("g1", TaskSlot::Node("n1".into()));
        g1.service_id = "g".into();
        let mut g2 = task("g2", TaskSlot::Node("n2".into()));
        g2.service_id = "g".into();
        let out = schedule(&nodes, &[delayed, g1, g2], Timestamp(1_000));
        assert_eq!(out.retry_at, Some(Timestamp(5_000)));
        assert_eq!(
            out.assignments,
            vec![Assignment {
                task: "g1".into(),
                node: "n1".into()
            }]
        );
        assert_eq!(
            out.unplaced[0].reason.to_string(),
            "no suitable node (1 node: node paused on 1)"
        );
    }

    #[test]
    fn a_preferred_node_is_used_when_it_fits() {
        let nodes: Vec<_> = ["n1", "n2"].iter().map(|n| node(n)).collect();
        let mut tasks = pending(1, &ServiceSpec::default());
        tasks[0].preferred_node = Some("n2".into());
        let out = schedule(&nodes, &tasks, Timestamp(0));
        assert_eq!(out.assignments[0].node.as_str(), "n2");
    }

    #[test]
    fn a_task_waits_for_its_preferred_node_while_its_liveness_is_unknown() {
        let mut nodes: Vec<_> = ["n1", "n2"].iter().map(|n| node(n)).collect();
        nodes[1].status = NodeStatus::Unknown;
        let mut tasks = pending(1, &ServiceSpec::default());
        tasks[0].preferred_node = Some("n2".into());
        let out = schedule(&nodes, &tasks, Timestamp(0));
        assert!(out.assignments.is_empty(), "{out:?}");
        assert_eq!(
            out.unplaced[0].reason.to_string(),
            "no suitable node (1 node: node status unknown on 1)"
        );

        // Down (or drained, or gone): placed elsewhere.
        nodes[1].status = NodeStatus::Down;
        let out = schedule(&nodes, &tasks, Timestamp(0));
        assert_eq!(out.assignments[0].node.as_str(), "n1");
        tasks[0].preferred_node = Some("gone".into());
        let out = schedule(&nodes, &tasks, Timestamp(0));
        assert_eq!(out.assignments[0].node.as_str(), "n1");
    }
}
