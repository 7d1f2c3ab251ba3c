//! One reconciler run: what it reads (service, nodes, history, time) and the decisions it has
//! taken so far, so that the mode-specific code and the shared slot logic speak in the same
//! terms and never decide twice about one task.

use std::collections::HashMap;

use crate::swarm::ids::{NodeId, TaskId};
use crate::swarm::node::{Availability, Node, NodeStatus};
use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::{Reconciliation, Shutdown, TaskCreation};
use crate::swarm::restart::{RestartHistory, RestartRecord};
use crate::swarm::service::Service;
use crate::swarm::spec::Placement;
use crate::swarm::task::{Replaces, Task, TaskSlot};
use crate::swarm::time::{Timestamp, earliest};

/// What a node means for the tasks of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fitness {
    /// Down or gone: its tasks are lost.
    Lost,
    /// Drained: its tasks move away.
    Drained,
    /// Ready and active but the constraints no longer hold: its tasks move away.
    Unfit,
    /// Paused, or its liveness is not known yet: its tasks stay, nothing new goes there.
    Held,
    /// Ready, active, constraints met.
    Eligible,
}

/// How `node` (absent when it left the cluster) stands for tasks placed by `placement`.
pub(crate) fn fitness(node: Option<&Node>, placement: &Placement) -> Fitness {
    let Some(node) = node else {
        return Fitness::Lost;
    };
    match (node.status, node.availability) {
        (NodeStatus::Down, _) => Fitness::Lost,
        (_, Availability::Drain) => Fitness::Drained,
        _ if placement.unmet_constraint(node).is_some() => Fitness::Unfit,
        (NodeStatus::Ready, Availability::Active) => Fitness::Eligible,
        _ => Fitness::Held,
    }
}

/// The state of one reconciler run.
pub(crate) struct Pass<'a> {
    pub service: &'a Service,
    pub history: &'a RestartHistory,
    pub now: Timestamp,
    nodes: HashMap<&'a NodeId, &'a Node>,
    /// Tasks shut down in this run, with whether they were orphaned.
    shut: HashMap<TaskId, bool>,
    out: Reconciliation,
}

impl<'a> Pass<'a> {
    pub(super) fn new(
        service: &'a Service,
        nodes: &'a [Node],
        history: &'a RestartHistory,
        now: Timestamp,
    ) -> Self {
        Self {
            service,
            history,
            now,
            nodes: nodes.iter().map(|n| (&n.id, n)).collect(),
            shut: HashMap::new(),
            out: Reconciliation::default(),
        }
    }

    /// The fitness of the node with this id for this service.
    pub(super) fn fitness(&self, node: &NodeId) -> Fitness {
        fitness(self.nodes.get(node).copied(), &self.service.spec.placement)
    }

    /// The fitness of the node `task` is on; `None` when it is not on a node.
    pub(super) fn task_fitness(&self, task: &Task) -> Option<Fitness> {
        task.node.as_ref().map(|node| self.fitness(node))
    }

    /// Whether this run already shut `task` down.
    pub(super) fn is_shut(&self, task: &TaskId) -> bool {
        self.shut.contains_key(task)
    }

    /// Whether this run orphaned `task`.
    pub(super) fn is_orphaned(&self, task: &TaskId) -> bool {
        self.shut.get(task).copied().unwrap_or(false)
    }

    /// Shuts `task` down; a task whose node is lost and that had not stopped is also
    /// orphaned.
    pub(super) fn shut_down(&mut self, task: &Task, reason: ShutdownReason) {
        if self.shut.contains_key(&task.id) {
            return;
        }
        let orphaned = !task.status.state.is_terminal()
            && task.node.is_some()
            && self.task_fitness(task) == Some(Fitness::Lost);
        self.shut.insert(task.id.clone(), orphaned);
        self.out.shutdowns.push(Shutdown {
            task: task.id.clone(),
            reason,
            orphaned,
        });
    }

    /// Creates a task in `slot` at the service's current spec version.
    pub(super) fn create(
        &mut self,
        slot: TaskSlot,
        reason: CreateReason,
        not_before: Option<Timestamp>,
        replaces: Option<Replaces>,
    ) {
        self.out.creations.push(TaskCreation {
            service_id: self.service.id.clone(),
            slot,
            spec_version: self.service.spec_version,
            reason,
            not_before,
            replaces,
            preferred_node: None,
        });
    }

    /// Records a restart of `slot` now.
    pub(super) fn record_restart(&mut self, slot: &TaskSlot) {
        self.out.restarts.push(RestartRecord {
            slot: slot.clone(),
            at: self.now,
        });
    }

    /// Asks to be run again at `at`.
    pub(super) fn requeue(&mut self, at: Option<Timestamp>) {
        self.out.requeue_at = earliest(self.out.requeue_at, at);
    }

    /// The decisions.
    pub(super) fn finish(self) -> Reconciliation {
        self.out
    }

    /// Forgets `task`.
    pub(super) fn remove(&mut self, task: &TaskId) {
        self.out.removals.push(task.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::tests::node;

    #[test]
    fn fitness_reads_liveness_then_availability_then_constraints() {
        let placement = Placement {
            constraints: vec!["node.labels.zone==east".parse().unwrap()],
            ..Placement::default()
        };
        let mut n = node("n1");
        assert_eq!(fitness(None, &placement), Fitness::Lost);
        assert_eq!(fitness(Some(&n), &placement), Fitness::Unfit);
        n.labels.insert("zone".into(), "east".into());
        assert_eq!(fitness(Some(&n), &placement), Fitness::Eligible);
        n.availability = Availability::Pause;
        assert_eq!(fitness(Some(&n), &placement), Fitness::Held);
        n.availability = Availability::Drain;
        assert_eq!(fitness(Some(&n), &placement), Fitness::Drained);
        n.status = NodeStatus::Down;
        assert_eq!(fitness(Some(&n), &placement), Fitness::Lost);
        n.status = NodeStatus::Unknown;
        n.availability = Availability::Active;
        assert_eq!(fitness(Some(&n), &placement), Fitness::Held);
    }
}
