//! A small world for the reconcilers' unit tests.

use std::time::Duration;

use crate::swarm::apply::apply_reconciliation;
use crate::swarm::ids::{NodeId, TaskId};
use crate::swarm::mode::Mode;
use crate::swarm::node::Node;
use crate::swarm::node::tests::node;
use crate::swarm::reconcile::{Reconciliation, reconcile};
use crate::swarm::restart::RestartHistory;
use crate::swarm::service::Service;
use crate::swarm::spec::ServiceSpec;
use crate::swarm::task::tests::task;
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;

#[derive(Debug, Clone)]
pub(crate) struct World {
    pub service: Service,
    pub tasks: Vec<Task>,
    pub nodes: Vec<Node>,
    pub history: RestartHistory,
    pub now: Timestamp,
    pub next_id: u64,
}

impl World {
    pub(crate) fn with_mode(mode: Mode) -> Self {
        let spec = ServiceSpec {
            image: "nginx".into(),
            mode,
            ..ServiceSpec::default()
        };
        Self {
            service: Service::new("s1".into(), "web", spec, Timestamp(0)),
            tasks: Vec::new(),
            nodes: Vec::new(),
            history: RestartHistory::default(),
            now: Timestamp(0),
            next_id: 0,
        }
    }

    pub(crate) fn replicated(replicas: u64) -> Self {
        Self::with_mode(Mode::Replicated { replicas })
    }

    pub(crate) fn with_nodes(mut self, ids: &[&str]) -> Self {
        self.nodes = ids.iter().map(|id| node(id)).collect();
        self
    }

    fn add(&mut self, id: &str, slot: TaskSlot) -> &mut Task {
        let mut t = task(id, slot);
        t.spec = std::sync::Arc::new(self.service.spec.clone());
        t.spec_version = self.service.spec_version;
        self.tasks.push(t);
        self.tasks.last_mut().expect("just pushed")
    }

    pub(crate) fn pending(&mut self, id: &str, slot: u64) {
        self.add(id, TaskSlot::Slot(slot)).status.state = TaskState::Pending;
    }

    pub(crate) fn running(&mut self, id: &str, slot: u64, node: &str) {
        self.running_in(id, TaskSlot::Slot(slot), node);
    }

    pub(crate) fn running_in(&mut self, id: &str, slot: TaskSlot, node: &str) {
        let t = self.add(id, slot);
        t.status.state = TaskState::Running;
        t.node = Some(NodeId::from(node));
    }

    pub(crate) fn stopped(
        &mut self,
        id: &str,
        slot: u64,
        node: &str,
        state: TaskState,
        at: Timestamp,
    ) {
        let t = self.add(id, TaskSlot::Slot(slot));
        t.status.state = state;
        t.status.timestamp = at;
        t.node = Some(NodeId::from(node));
    }

    pub(crate) fn reconcile(&self) -> Reconciliation {
        reconcile(
            &self.service,
            &self.tasks,
            &self.nodes,
            &self.history,
            self.now,
        )
    }

    pub(crate) fn commit(&mut self, rec: &Reconciliation) {
        let next = &mut self.next_id;
        apply_reconciliation(
            &self.service,
            &mut self.tasks,
            &mut self.history,
            rec,
            self.now,
            || {
                *next += 1;
                TaskId(format!("new{next}"))
            },
        );
        self.now = self.now.after(Duration::from_millis(1));
    }

    pub(crate) fn shut_ids<'r>(&self, rec: &'r Reconciliation) -> Vec<&'r str> {
        rec.shutdowns.iter().map(|s| s.task.as_str()).collect()
    }

    fn find(&mut self, id: &TaskId) -> &mut Task {
        self.tasks
            .iter_mut()
            .find(|t| &t.id == id)
            .expect("the test names an existing task")
    }

    pub(crate) fn set_running(&mut self, id: &TaskId, node: &str) {
        let t = self.find(id);
        t.node = Some(NodeId::from(node));
        t.status.state = TaskState::Running;
    }

    pub(crate) fn set_state(&mut self, id: &TaskId, state: TaskState) {
        let now = self.now;
        let t = self.find(id);
        t.status.state = state;
        t.status.timestamp = now;
    }
}
