//! What the nodes already hold, counted once per scheduling run from the tasks and kept up to
//! date as tasks are placed: reserved resources, host ports, tasks overall and per service,
//! and recent failures per service.

use std::collections::HashMap;
use std::time::Duration;

use crate::swarm::container::Protocol;
use crate::swarm::ids::{NodeId, ServiceId};
use crate::swarm::resources::Resources;
use crate::swarm::task::Task;
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;

/// Failures older than this no longer count against a node.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);

/// Per node (by index in the node list), what its tasks hold.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    reserved: Vec<Resources>,
    ports: Vec<Vec<(u16, Protocol)>>,
    tasks: Vec<u32>,
    per_service: HashMap<ServiceId, Vec<u32>>,
    failures: HashMap<ServiceId, Vec<u32>>,
}

impl Usage {
    /// Counts what `tasks` hold on the nodes indexed by `index`.
    pub(crate) fn new(index: &HashMap<&NodeId, usize>, tasks: &[Task], now: Timestamp) -> Self {
        let count = index.len();
        let mut usage = Usage {
            reserved: vec![Resources::ZERO; count],
            ports: vec![Vec::new(); count],
            tasks: vec![0; count],
            ..Usage::default()
        };
        let recent = now.before(FAILURE_WINDOW);
        for task in tasks {
            let Some(&i) = task.node.as_ref().and_then(|n| index.get(n)) else {
                continue;
            };
            if task.holds_node() {
                usage.hold(i, &task.service_id, task);
            } else if matches!(task.status.state, TaskState::Failed | TaskState::Rejected)
                && task.status.timestamp > recent
            {
                usage
                    .failures
                    .entry(task.service_id.clone())
                    .or_insert_with(|| vec![0; count])[i] += 1;
            }
        }
        usage
    }

    /// Records that node `i` now holds `task` of `service`.
    pub(crate) fn hold(&mut self, i: usize, service: &ServiceId, task: &Task) {
        self.reserved[i] = self.reserved[i].plus(task.spec.resources.reservations);
        self.ports[i].extend(task.spec.ports.iter().filter_map(|p| p.host_port()));
        self.tasks[i] += 1;
        let count = self.tasks.len();
        self.per_service
            .entry(service.clone())
            .or_insert_with(|| vec![0; count])[i] += 1;
    }

    /// Resources reserved on node `i`.
    pub(crate) fn reserved(&self, i: usize) -> Resources {
        self.reserved[i]
    }

    /// Whether `port` is taken on node `i`.
    pub(crate) fn port_taken(&self, i: usize, port: (u16, Protocol)) -> bool {
        self.ports[i].contains(&port)
    }

    /// Tasks on node `i`, all services.
    pub(crate) fn tasks(&self, i: usize) -> u32 {
        self.tasks[i]
    }

    /// Tasks of `service` on node `i`.
    pub(crate) fn service_tasks(&self, service: &ServiceId, i: usize) -> u32 {
        self.per_service.get(service).map_or(0, |counts| counts[i])
    }

    /// Recent failures of `service` on node `i`.
    pub(crate) fn failures(&self, service: &ServiceId, i: usize) -> u32 {
        self.failures.get(service).map_or(0, |counts| counts[i])
    }
}
