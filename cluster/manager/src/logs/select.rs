//! Which tasks and nodes a log subscription selects, as pure functions of the store's records:
//! the manager's side (what the user named → the service, its tasks, the nodes to hear from)
//! and the node's side (which of its containers a subscription reads).

use std::collections::{BTreeMap, BTreeSet};

use cluster_state::{Node, Service, Task};

/// Why a log target selects nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No name was given.
    #[error("a service or task name or id is required")]
    Empty,
    /// Neither a service nor a task has this name, id or id prefix.
    #[error("no such service or task: {0}")]
    NotFound(String),
    /// An id prefix matches more than one service or task.
    #[error("{target} is ambiguous: it matches {count} {what}s")]
    Ambiguous {
        /// What the user typed.
        target: String,
        /// How many matched.
        count: usize,
        /// "service" or "task".
        what: &'static str,
    },
}

/// What a subscription covers, as the store says when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The service's id.
    pub service_id: String,
    /// Only these tasks (a task was named); empty for the whole service.
    pub task_ids: Vec<String>,
    /// The nodes that hold (or held) the selected tasks: those to hear from.
    pub nodes: BTreeSet<String>,
}

/// Picks the one item `target` names: exact id or name first, else a unique id prefix.
fn pick<'a, T>(
    items: &'a [T],
    target: &str,
    what: &'static str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> Option<&str>,
) -> Result<Option<&'a T>, SelectError> {
    if let Some(item) = items
        .iter()
        .find(|i| id(i) == target || name(i) == Some(target))
    {
        return Ok(Some(item));
    }
    let matches: Vec<&T> = items.iter().filter(|i| id(i).starts_with(target)).collect();
    match matches.as_slice() {
        [] => Ok(None),
        [item] => Ok(Some(item)),
        _ => Err(SelectError::Ambiguous {
            target: target.to_owned(),
            count: matches.len(),
            what,
        }),
    }
}

/// The selection `target` names among `services` and `tasks`: a service (name, id or
/// unique id prefix) with all its tasks, else one task (id or unique id prefix). The nodes
/// are those the selected tasks were assigned to, past tasks included (their containers may
/// still be there).
pub fn select(
    target: &str,
    services: &[Service],
    tasks: &[Task],
) -> Result<Selection, SelectError> {
    if target.is_empty() {
        return Err(SelectError::Empty);
    }
    let service = pick(
        services,
        target,
        "service",
        |s| &s.meta.id,
        |s| Some(s.service.name.as_str()),
    )?;
    if let Some(service) = service {
        let service_id = service.meta.id.clone();
        let nodes = tasks
            .iter()
            .filter(|t| t.task.service_id.as_str() == service_id)
            .filter_map(|t| t.task.node.as_ref().map(|n| n.as_str().to_owned()))
            .collect();
        return Ok(Selection {
            service_id,
            task_ids: Vec::new(),
            nodes,
        });
    }
    let task = pick(tasks, target, "task", |t| &t.meta.id, |_| None)?
        .ok_or_else(|| SelectError::NotFound(target.to_owned()))?;
    Ok(Selection {
        service_id: task.task.service_id.as_str().to_owned(),
        task_ids: vec![task.meta.id.clone()],
        nodes: task
            .task
            .node
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
    })
}

/// Host names by node id.
pub fn node_names(nodes: &[Node]) -> BTreeMap<String, String> {
    nodes
        .iter()
        .map(|n| (n.meta.id.clone(), n.hostname.clone()))
        .collect()
}

/// Whether node `node` serves a subscription that names `nodes` (every node when empty).
pub fn node_serves(nodes: &[String], node: &str) -> bool {
    nodes.is_empty() || nodes.iter().any(|n| n == node)
}

/// A task container on a node, by its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContainer {
    /// The container's id.
    pub id: String,
    /// Its service id label.
    pub service_id: String,
    /// Its service name label.
    pub service_name: String,
    /// Its task id label.
    pub task_id: String,
    /// Its task name label (`<service>.<slot or node>.<task>`).
    pub task_name: String,
}

impl TaskContainer {
    /// The slot the task name gives; 0 for a global task (named after its node).
    pub fn slot(&self) -> u64 {
        let place = self
            .task_name
            .strip_suffix(self.task_id.as_str())
            .and_then(|rest| rest.strip_suffix('.'))
            .and_then(|rest| rest.rsplit_once('.'))
            .map(|(_, place)| place);
        place.and_then(|p| p.parse().ok()).unwrap_or(0)
    }
}

/// The containers of `containers` a subscription to `service_id` (only `task_ids` when not
/// empty) reads that are not in `seen` yet, in a stable order.
pub fn containers_to_read<'a>(
    service_id: &str,
    task_ids: &[String],
    containers: &'a [TaskContainer],
    seen: &BTreeSet<String>,
) -> Vec<&'a TaskContainer> {
    let mut picked: Vec<&TaskContainer> = containers
        .iter()
        .filter(|c| c.service_id == service_id)
        .filter(|c| task_ids.is_empty() || task_ids.contains(&c.task_id))
        .filter(|c| !seen.contains(&c.id))
        .collect();
    picked.sort_by(|a, b| a.task_name.cmp(&b.task_name));
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::Meta;
    use orchestrator::swarm::{
        DesiredState, NodeId, ServiceId, ServiceSpec, TaskId, TaskSlot, TaskStatus, Timestamp,
    };

    fn service(id: &str, name: &str) -> Service {
        Service {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            service: orchestrator::swarm::Service::new(
                ServiceId(id.to_owned()),
                name,
                ServiceSpec::default(),
                Timestamp::default(),
            ),
            restarts: Default::default(),
            force_update: 0,
            registry_auth: None,
            with_registry_auth: false,
            endpoint: Default::default(),
        }
    }

    fn task(id: &str, service: &str, slot: u64, node: Option<&str>) -> Task {
        Task::new(orchestrator::swarm::Task {
            id: TaskId(id.to_owned()),
            service_id: ServiceId(service.to_owned()),
            slot: TaskSlot::Slot(slot),
            spec_version: 1,
            spec: Default::default(),
            desired_state: DesiredState::Running,
            shutdown_reason: None,
            status: TaskStatus::default(),
            node: node.map(|n| NodeId(n.to_owned())),
            created_at: Timestamp::default(),
            not_before: None,
            replaces: None,
            preferred_node: None,
        })
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_service_selects_every_node_that_held_its_tasks() {
        let services = [service("s1abc", "web"), service("s2def", "db")];
        let tasks = [
            task("t1", "s1abc", 1, Some("n1")),
            task("t2", "s1abc", 2, Some("n2")),
            task("t3", "s1abc", 2, Some("n3")),
            task("t4", "s1abc", 3, None),
            task("t5", "s2def", 1, Some("n4")),
        ];
        for target in ["web", "s1abc", "s1"] {
            let selection = select(target, &services, &tasks).unwrap();
            assert_eq!(selection.service_id, "s1abc");
            assert!(selection.task_ids.is_empty());
            assert_eq!(selection.nodes, set(&["n1", "n2", "n3"]), "{target}");
        }
    }

    #[test]
    fn a_task_selects_itself_and_its_node() {
        let services = [service("s1", "web")];
        let tasks = [
            task("ta11", "s1", 1, Some("n1")),
            task("tb22", "s1", 2, Some("n2")),
        ];
        let selection = select("tb", &services, &tasks).unwrap();
        assert_eq!(selection.service_id, "s1");
        assert_eq!(selection.task_ids, ["tb22"]);
        assert_eq!(selection.nodes, set(&["n2"]));
    }

    #[test]
    fn unknown_and_ambiguous_targets_are_refused() {
        let services = [service("s1", "web"), service("s2", "db")];
        let tasks = [task("t1", "s1", 1, None), task("t2", "s1", 2, None)];
        assert_eq!(
            select("nope", &services, &tasks),
            Err(SelectError::NotFound("nope".into()))
        );
        assert_eq!(
            select("s", &services, &tasks).unwrap_err().to_string(),
            "s is ambiguous: it matches 2 services"
        );
        assert_eq!(
            select("t", &services, &tasks).unwrap_err().to_string(),
            "t is ambiguous: it matches 2 tasks"
        );
        assert_eq!(select("", &services, &tasks), Err(SelectError::Empty));
    }

    fn container(id: &str, service: &str, task: &str, name: &str) -> TaskContainer {
        TaskContainer {
            id: id.to_owned(),
            service_id: service.to_owned(),
            service_name: "web".to_owned(),
            task_id: task.to_owned(),
            task_name: name.to_owned(),
        }
    }

    #[test]
    fn a_node_reads_the_unseen_containers_of_the_subscription() {
        let containers = [
            container("c2", "s1", "t2", "web.2.t2"),
            container("c1", "s1", "t1", "web.1.t1"),
            container("c3", "s2", "t3", "db.1.t3"),
        ];
        let ids = |picked: Vec<&TaskContainer>| -> Vec<String> {
            picked.iter().map(|c| c.id.clone()).collect()
        };
        assert_eq!(
            ids(containers_to_read("s1", &[], &containers, &BTreeSet::new())),
            ["c1", "c2"]
        );
        assert_eq!(
            ids(containers_to_read("s1", &[], &containers, &set(&["c1"]))),
            ["c2"]
        );
        assert_eq!(
            ids(containers_to_read(
                "s1",
                &["t2".into()],
                &containers,
                &BTreeSet::new()
            )),
            ["c2"]
        );
    }

    #[test]
    fn the_slot_comes_from_the_task_name() {
        assert_eq!(container("c", "s", "t9", "web.12.t9").slot(), 12);
        assert_eq!(container("c", "s", "t9", "my.web.3.t9").slot(), 3);
        assert_eq!(container("c", "s", "t9", "web.node1.t9").slot(), 0);
        assert_eq!(container("c", "s", "t9", "garbage").slot(), 0);
    }

    #[test]
    fn nodes_serve_subscriptions_that_name_them_or_nobody() {
        assert!(node_serves(&[], "n1"));
        assert!(node_serves(&["n1".into()], "n1"));
        assert!(!node_serves(&["n2".into()], "n1"));
    }
}
