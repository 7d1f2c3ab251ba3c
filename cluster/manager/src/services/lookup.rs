//! Reading the store for the services API: one linearizable read of everything, split into
//! services, tasks and nodes, and finding a service or a node by what the user typed.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use tonic::Status;

use crate::driver::Query;
use crate::service::{ManagerService, status_of};
use cluster_state::{Kind, Node, Record, Service, Task};

/// The store's services, tasks and nodes as of one linearizable read.
pub(super) struct Contents {
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
    pub nodes: Vec<Node>,
}

/// Reads the store.
pub(super) async fn contents(manager: &ManagerService) -> Result<Contents, Status> {
    let (data, _) = manager
        .raft
        .read(Query::Kinds(vec![Kind::Node, Kind::Service, Kind::Task]))
        .await
        .map_err(status_of)?;
    let records: Vec<Record> = serde_json::from_slice(&data)
        .map_err(|e| Status::internal(format!("cannot decode records: {e}")))?;
    let mut contents = Contents {
        services: Vec::new(),
        tasks: Vec::new(),
        nodes: Vec::new(),
    };
    for record in records {
        match record {
            Record::Service(s) => contents.services.push(*s),
            Record::Task(t) => contents.tasks.push(*t),
            Record::Node(n) => contents.nodes.push(n),
            _ => {}
        }
    }
    Ok(contents)
}

/// Picks the one item `name` designates: exact id, exact name, else a unique id prefix.
pub(crate) fn pick<'a, T>(
    items: &'a [T],
    name: &str,
    what: &str,
    id: impl Fn(&T) -> &str,
    label: impl Fn(&T) -> &str,
) -> Result<&'a T, Status> {
    if name.is_empty() {
        return Err(Status::invalid_argument(format!(
            "a {what} name or id is required"
        )));
    }
    if let Some(item) = items.iter().find(|i| id(i) == name || label(i) == name) {
        return Ok(item);
    }
    let matches: Vec<&T> = items.iter().filter(|i| id(i).starts_with(name)).collect();
    match matches.as_slice() {
        [item] => Ok(item),
        [] => Err(Status::not_found(format!("{what} {name} not found"))),
        _ => Err(Status::failed_precondition(format!(
            "{what} {name} is ambiguous: it matches {} {what}s",
            matches.len()
        ))),
    }
}

impl Contents {
    /// The service `name` designates (name, id or unique id prefix).
    pub(super) fn service(&self, name: &str) -> Result<&Service, Status> {
        pick(
            &self.services,
            name,
            "service",
            |s| &s.meta.id,
            |s| &s.service.name,
        )
    }

    /// The node `name` designates (id, hostname or unique id prefix).
    pub(super) fn node(&self, name: &str) -> Result<&Node, Status> {
        pick(&self.nodes, name, "node", |n| &n.meta.id, |n| &n.hostname)
    }
}
