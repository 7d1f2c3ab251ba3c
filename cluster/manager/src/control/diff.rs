//! Turns the tasks a pass ended with into store commands, grouped in one batch per service:
//! creations, guarded updates and guarded deletions of its tasks (a task's update is guarded
//! on the managers' part of the record: a status its node reported meanwhile stays). A batch that creates tasks
//! (or changes the restart history) also rewrites the service record at the version the pass
//! read, so that every decision about a service is made on its latest spec: a batch decided
//! before a concurrent scale, update or removal is refused whole. A service whose rolling
//! update moved on (or rolled back) is rewritten the same way, in its tasks' batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use cluster_state::{Command, Kind, Record, RecordKey, ServiceEndpoint, TaskAttachment};
use orchestrator::swarm::{self, RestartHistory, ServiceId, TaskId};

use super::plan::Snapshot;

#[derive(Default)]
struct Group {
    commands: Vec<Command>,
    creates: bool,
}

/// The batches that take the store from `snapshot` to `tasks` and `histories`, giving the
/// tasks in `addresses` their network attachments and the services in `endpoints` their
/// virtual addresses.
pub(super) fn batches(
    snapshot: &Snapshot,
    tasks: &[swarm::Task],
    histories: &BTreeMap<ServiceId, RestartHistory>,
    services: &BTreeMap<ServiceId, swarm::Service>,
    addresses: &BTreeMap<TaskId, Vec<TaskAttachment>>,
    endpoints: &BTreeMap<ServiceId, ServiceEndpoint>,
) -> Vec<Vec<Command>> {
    let before: HashMap<&TaskId, &cluster_state::Task> =
        snapshot.tasks.iter().map(|r| (&r.task.id, r)).collect();
    let mut groups: BTreeMap<ServiceId, Group> = BTreeMap::new();
    let mut kept: HashSet<&TaskId> = HashSet::new();
    for task in tasks {
        kept.insert(&task.id);
        let group = groups.entry(task.service_id.clone()).or_default();
        match before.get(&task.id) {
            None => {
                group.creates = true;
                let mut record = cluster_state::Task::new(task.clone());
                if let Some(attachments) = addresses.get(&task.id) {
                    record.networks = attachments.clone();
                }
                group
                    .commands
                    .push(Command::Create(Record::Task(Box::new(record))));
            }
            Some(record) if record.task != *task || addresses.contains_key(&task.id) => {
                let mut updated = (*record).clone();
                updated.task = task.clone();
                if let Some(attachments) = addresses.get(&task.id) {
                    updated.networks = attachments.clone();
                }
                // Guarded on the managers' part of the record: a status its node reported
                // meanwhile stays (and wins over a status set here, such as `orphaned`).
                let command = Command::UpdateDecided {
                    expected_version: record.meta.version,
                    expected_decided: record.decided,
                    record: Record::Task(Box::new(updated)),
                };
                group.commands.push(command);
            }
            Some(_) => {}
        }
    }
    for record in &snapshot.tasks {
        if !kept.contains(&record.task.id) {
            groups
                .entry(record.task.service_id.clone())
                .or_default()
                .commands
                .push(Command::Delete {
                    key: RecordKey::new(Kind::Task, record.meta.id.clone()),
                    expected_version: Some(record.meta.version),
                });
        }
    }
    for record in &snapshot.services {
        let history = histories.get(&record.service.id);
        let history_changed = history.is_some_and(|h| *h != record.restarts);
        let service = services.get(&record.service.id);
        let endpoint = endpoints.get(&record.service.id);
        if service.is_some() || endpoint.is_some() {
            groups.entry(record.service.id.clone()).or_default();
        }
        let Some(group) = groups.get_mut(&record.service.id) else {
            continue;
        };
        if group.creates || history_changed || service.is_some() || endpoint.is_some() {
            let mut updated = record.clone();
            if let Some(history) = history {
                updated.restarts = history.clone();
            }
            if let Some(service) = service {
                updated.service = service.clone();
            }
            if let Some(endpoint) = endpoint {
                updated.endpoint = endpoint.clone();
            }
            group.commands.insert(
                0,
                Command::Update {
                    expected_version: record.meta.version,
                    record: Record::Service(Box::new(updated)),
                },
            );
        }
    }
    groups
        .into_values()
        .filter(|g| !g.commands.is_empty())
        .map(|g| g.commands)
        .collect()
}
