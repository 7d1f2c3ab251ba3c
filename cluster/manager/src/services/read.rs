//! The reading calls of the services API, answered by any manager from a linearizable read:
//! services with their task counts, and tasks filtered by service, node and desired state.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::cmp::Reverse;
use std::collections::HashMap;

use tonic::{Response, Status};

use super::lookup::contents;
use super::proto::{self, DesiredStateFilter};
use crate::service::ManagerService;
use orchestrator::swarm::{DesiredState, Mode, TaskState};

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(value).map_err(|e| Status::internal(format!("cannot encode: {e}")))
}

/// A service with its task counts.
fn info(
    service: &cluster_state::Service,
    tasks: &[cluster_state::Task],
) -> Result<proto::ServiceInfo, Status> {
    let own: Vec<_> = tasks
        .iter()
        .map(|t| &t.task)
        .filter(|t| t.service_id == service.service.id)
        .collect();
    let running = own
        .iter()
        .filter(|t| t.is_desired_running() && t.status.state == TaskState::Running)
        .count() as u64;
    let desired = match service.service.spec.mode {
        Mode::Replicated { replicas } => replicas,
        Mode::ReplicatedJob {
            total_completions, ..
        } => total_completions,
        Mode::Global | Mode::GlobalJob => {
            own.iter().filter(|t| t.is_desired_running()).count() as u64
        }
    };
    let completed = own
        .iter()
        .filter(|t| {
            t.status.state == TaskState::Complete && t.spec_version == service.service.spec_version
        })
        .count() as u64;
    Ok(proto::ServiceInfo {
        record: encode(&service.shown())?,
        running,
        desired,
        completed,
    })
}

/// Every service, by name.
pub(super) async fn list_services(
    manager: &ManagerService,
) -> Result<Response<proto::ServiceList>, Status> {
    let mut store = contents(manager).await?;
    store
        .services
        .sort_by(|a, b| a.service.name.cmp(&b.service.name));
    let services = store
        .services
        .iter()
        .map(|s| info(s, &store.tasks))
        .collect::<Result<_, _>>()?;
    Ok(Response::new(proto::ServiceList { services }))
}

/// One service.
pub(super) async fn inspect_service(
    manager: &ManagerService,
    name: &str,
) -> Result<Response<proto::ServiceInfo>, Status> {
    let store = contents(manager).await?;
    let service = store.service(name)?;
    Ok(Response::new(info(service, &store.tasks)?))
}

/// Tasks matching the request's filters.
pub(super) async fn list_tasks(
    manager: &ManagerService,
    request: &proto::ListTasksRequest,
) -> Result<Response<proto::TaskList>, Status> {
    let store = contents(manager).await?;
    let service = match request.service.as_str() {
        "" => None,
        name => Some(store.service(name)?.service.id.clone()),
    };
    let node = match request.node.as_str() {
        "" => None,
        name => Some(store.node(name)?.meta.id.clone()),
    };
    let desired = match DesiredStateFilter::from_i32(request.desired_state) {
        Some(DesiredStateFilter::DesiredAny) => None,
        Some(DesiredStateFilter::DesiredRunning) => Some(DesiredState::Running),
        Some(DesiredStateFilter::DesiredShutdown) => Some(DesiredState::Shutdown),
        None => return Err(Status::invalid_argument("unknown desired-state filter")),
    };
    let service_names: HashMap<String, String> = store
        .services
        .iter()
        .map(|s| (s.meta.id.clone(), s.service.name.clone()))
        .collect();
    let node_names: HashMap<String, String> = store
        .nodes
        .iter()
        .map(|n| (n.meta.id.clone(), n.hostname.clone()))
        .collect();
    let mut tasks: Vec<&cluster_state::Task> = store
        .tasks
        .iter()
        .filter(|t| service.as_ref().is_none_or(|s| t.task.service_id == *s))
        .filter(|t| {
            node.as_deref()
                .is_none_or(|n| t.task.node.as_ref().is_some_and(|tn| tn.as_str() == n))
        })
        .filter(|t| desired.is_none_or(|d| t.task.desired_state == d))
        .collect();
    tasks.sort_by_key(|t| {
        (
            service_names.get(t.task.service_id.as_str()).cloned(),
            t.task.slot.clone(),
            Reverse(t.task.created_at),
        )
    });
    Ok(Response::new(proto::TaskList {
        tasks: encode(&tasks)?,
        node_names,
        service_names,
    }))
}
