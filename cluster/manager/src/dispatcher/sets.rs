//! Which tasks each node must know about, computed from the store's task and service
//! records, and the increment between two sets of one node.

use std::collections::BTreeMap;

use crate::dispatcher::assignment::Assignment;
use cluster_state::Record;
use orchestrator::swarm::{NodeId, TaskId, TaskState};

/// The tasks assigned to one node, by id.
pub type NodeSet = BTreeMap<TaskId, Assignment>;

/// Every node's set, by node id.
pub type AllSets = BTreeMap<NodeId, NodeSet>;

/// The change from one set of a node to the next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Increment {
    /// Tasks new to the set or changed.
    pub updated: Vec<Assignment>,
    /// Tasks gone from the set.
    pub removed: Vec<TaskId>,
}

impl Increment {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.updated.is_empty() && self.removed.is_empty()
    }
}

/// Each node's assignments in `records` (tasks and services of a store): every task with a
/// node whose state reached `assigned`. Tasks the node finished stay in its set (their
/// exited containers are kept, as history) until the store drops them or moves them away.
/// A task still to run carries its service's registry credentials, when it has some (and
/// they are open): so only the nodes that run the service's tasks get them. So do its secret
/// and config files, with their payloads.
pub fn assignments(records: &[Record]) -> AllSets {
    let mut networks = super::networks::task_networks(records);
    let payloads = super::files::Payloads::new(records);
    let services: BTreeMap<&str, &cluster_state::Service> = records
        .iter()
        .filter_map(|r| match r {
            Record::Service(s) => Some((s.service.id.as_str(), s.as_ref())),
            _ => None,
        })
        .collect();
    let mut sets = AllSets::new();
    for record in records {
        let Record::Task(record) = record else {
            continue;
        };
        let task = &record.task;
        let Some(node) = &task.node else { continue };
        if task.status.state < TaskState::Assigned {
            continue;
        }
        let service = services.get(task.service_id.as_str());
        let service_name =
            service.map_or_else(|| task.service_id.to_string(), |s| s.service.name.clone());
        let finished = task.status.state.is_terminal();
        let to_run = !finished && task.is_desired_running();
        let registry_auth = service
            .filter(|_| to_run)
            .and_then(|s| s.registry_auth.as_ref()?.open().cloned());
        let files = if to_run {
            payloads.files_of(&task.spec)
        } else {
            Vec::new()
        };
        // A task whose networks are not all ready yet (its node has no address on the ingress
        // network) waits: started without them, its container would never join them.
        let networks = match networks.remove(&task.id) {
            Some(joined) => joined,
            None if !record.networks.is_empty() => continue,
            None => Vec::new(),
        };
        let assignment = Assignment {
            task_id: task.id.clone(),
            service_id: task.service_id.clone(),
            service_name,
            slot: task.slot.clone(),
            desired_state: task.desired_state,
            finished,
            spec_version: task.spec_version,
            spec: task.spec.clone(),
            registry_auth,
            files,
            networks,
        };
        sets.entry(node.clone())
            .or_default()
            .insert(task.id.clone(), assignment);
    }
    sets
}

/// What turns `old` into `new`.
pub fn increment(old: &NodeSet, new: &NodeSet) -> Increment {
    Increment {
        updated: new
            .iter()
            .filter(|(id, a)| old.get(*id) != Some(*a))
            .map(|(_, a)| a.clone())
            .collect(),
        removed: old
            .keys()
            .filter(|id| !new.contains_key(*id))
            .cloned()
            .collect(),
    }
}

/// Applies `increment` to `set`.
pub fn apply(set: &mut NodeSet, increment: Increment) {
    for id in increment.removed {
        set.remove(&id);
    }
    for a in increment.updated {
        set.insert(a.task_id.clone(), a);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cluster_state::{Service, Task};
    use orchestrator::swarm::{self, DesiredState, ServiceSpec, TaskSlot, Timestamp};

    /// A task record of service `s1` in `slot`, on `node`, in `state`.
    pub(crate) fn task(id: &str, node: Option<&str>, state: TaskState, slot: u64) -> Task {
        Task::new(swarm::Task {
            id: id.into(),
            service_id: "s1".into(),
            slot: TaskSlot::Slot(slot),
            spec_version: 1,
            spec: std::sync::Arc::new(ServiceSpec {
                image: "busybox".into(),
                ..ServiceSpec::default()
            }),
            desired_state: DesiredState::Running,
            shutdown_reason: None,
            status: swarm::TaskStatus {
                state,
                ..swarm::TaskStatus::default()
            },
            node: node.map(NodeId::from),
            created_at: Timestamp(0),
            not_before: None,
            replaces: None,
            preferred_node: None,
        })
    }

    fn service() -> Record {
        Record::Service(Box::new(Service::new(swarm::Service::new(
            "s1".into(),
            "web",
            ServiceSpec::default(),
            Timestamp(0),
        ))))
    }

    #[test]
    fn only_assigned_tasks_reach_their_node() {
        let records = vec![
            service(),
            Record::Task(Box::new(task("t1", Some("n1"), TaskState::Assigned, 1))),
            Record::Task(Box::new(task("t2", Some("n2"), TaskState::Running, 2))),
            Record::Task(Box::new(task("t3", None, TaskState::Pending, 3))),
            Record::Task(Box::new(task("t4", Some("n1"), TaskState::Complete, 4))),
        ];
        let sets = assignments(&records);
        let n1 = &sets[&NodeId::from("n1")];
        assert_eq!(
            n1.keys().map(|t| t.as_str()).collect::<Vec<_>>(),
            ["t1", "t4"]
        );
        assert_eq!(n1[&TaskId::from("t1")].service_name, "web");
        assert!(!n1[&TaskId::from("t1")].finished);
        assert!(n1[&TaskId::from("t4")].finished);
        assert_eq!(sets[&NodeId::from("n2")].len(), 1);
        assert_eq!(sets.len(), 2);
    }

    #[test]
    fn registry_credentials_go_only_with_tasks_still_to_run() {
        let Record::Service(mut web) = service() else {
            unreachable!("a service")
        };
        web.registry_auth = Some(cluster_state::StoredAuth::Open(
            cluster_state::RegistryAuth {
                registry: "reg.lan:5000".into(),
                username: "alice".into(),
                password: "s3cret".into(),
                identity_token: String::new(),
            },
        ));
        let mut stopping = task("t3", Some("n1"), TaskState::Running, 3);
        stopping.task.desired_state = DesiredState::Shutdown;
        let records = vec![
            Record::Service(web.clone()),
            Record::Task(Box::new(task("t1", Some("n1"), TaskState::Assigned, 1))),
            Record::Task(Box::new(task("t2", Some("n1"), TaskState::Complete, 2))),
            Record::Task(Box::new(stopping)),
        ];
        let sets = assignments(&records);
        let n1 = &sets[&NodeId::from("n1")];
        let user = |id: &str| {
            n1[&TaskId::from(id)]
                .registry_auth
                .as_ref()
                .map(|a| a.username.clone())
        };
        assert_eq!(user("t1"), Some("alice".to_owned()));
        assert_eq!((user("t2"), user("t3")), (None, None));
        // Sealed (a store read without the key) they are not handed out at all.
        web.registry_auth = Some(cluster_state::StoredAuth::Sealed("sealed:00".into()));
        let records = vec![
            Record::Service(web),
            Record::Task(Box::new(task("t1", Some("n1"), TaskState::Assigned, 1))),
        ];
        let sets = assignments(&records);
        assert_eq!(
            sets[&NodeId::from("n1")][&TaskId::from("t1")].registry_auth,
            None
        );
    }

    #[test]
    fn secret_payloads_go_only_to_the_nodes_whose_tasks_use_them_and_still_run() {
        use orchestrator::swarm::FileReference;
        let with_secret = |id: &str, node: &str, state: TaskState| {
            let mut t = task(id, Some(node), state, 1);
            std::sync::Arc::make_mut(&mut t.task.spec).secrets = vec![FileReference::named("db")];
            Record::Task(Box::new(t))
        };
        let secret = Record::Secret(cluster_state::Blob {
            meta: cluster_state::Meta::default(),
            name: "db".into(),
            data: b"hunter2".to_vec(),
        });
        let mut stopping = with_secret("t4", "n3", TaskState::Running);
        if let Record::Task(t) = &mut stopping {
            t.task.desired_state = DesiredState::Shutdown;
        }
        let records = vec![
            service(),
            secret,
            with_secret("t1", "n1", TaskState::Assigned),
            Record::Task(Box::new(task("t2", Some("n2"), TaskState::Running, 2))),
            with_secret("t3", "n3", TaskState::Failed),
            stopping,
        ];
        let sets = assignments(&records);
        let payloads = |node: &str| -> Vec<Vec<u8>> {
            sets[&NodeId::from(node)]
                .values()
                .flat_map(|a| a.files.iter().map(|f| f.data.clone()))
                .collect()
        };
        assert_eq!(payloads("n1"), [b"hunter2".to_vec()]);
        assert_eq!(
            sets[&NodeId::from("n1")][&TaskId::from("t1")].files[0].target,
            "/run/secrets/db"
        );
        assert!(payloads("n2").is_empty(), "n2 runs no task using it");
        assert!(
            payloads("n3").is_empty(),
            "n3's tasks using it are finished or stopping"
        );
    }

    #[test]
    fn a_task_without_its_service_is_named_by_service_id() {
        let records = vec![Record::Task(Box::new(task(
            "t1",
            Some("n1"),
            TaskState::Assigned,
            1,
        )))];
        let sets = assignments(&records);
        assert_eq!(
            sets[&NodeId::from("n1")][&TaskId::from("t1")].service_name,
            "s1"
        );
    }

    #[test]
    fn increments_carry_changes_and_removals_and_rebuild_the_set() {
        let mut records = vec![
            Record::Task(Box::new(task("t1", Some("n1"), TaskState::Assigned, 1))),
            Record::Task(Box::new(task("t2", Some("n1"), TaskState::Assigned, 2))),
        ];
        let old = assignments(&records).remove(&NodeId::from("n1")).unwrap();
        if let Record::Task(t) = &mut records[0] {
            t.task.desired_state = DesiredState::Shutdown;
        }
        records.remove(1);
        records.push(Record::Task(Box::new(task(
            "t3",
            Some("n1"),
            TaskState::Assigned,
            3,
        ))));
        let new = assignments(&records).remove(&NodeId::from("n1")).unwrap();
        let inc = increment(&old, &new);
        let updated: Vec<_> = inc.updated.iter().map(|a| a.task_id.as_str()).collect();
        assert_eq!(updated, ["t1", "t3"]);
        assert_eq!(inc.removed, vec![TaskId::from("t2")]);
        let mut rebuilt = old.clone();
        apply(&mut rebuilt, inc);
        assert_eq!(rebuilt, new);
        assert!(increment(&new, &new).is_empty());
    }
}
