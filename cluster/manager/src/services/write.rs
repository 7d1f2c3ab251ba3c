//! The writing calls of the services API, on the leader: create, update and remove a service.
//! Each reads the store, decides, and commits one guarded batch; an update that lost a race
//! with another write is decided again on the new state.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use tonic::{Response, Status};

use super::decode::{self, SpecError};
use super::guard::raced;
use super::lookup::contents;
use super::proto;
use super::update::{ServiceUpdate, updated};
use crate::control;
use crate::driver::Refused;
use crate::service::{ManagerService, status_of};
use cluster_raft::WriteError;
use cluster_state::{ApplyError, Batch, Command, Kind, Record, RecordKey};
use orchestrator::swarm::{self, DesiredState, ServiceId};

/// Attempts of a read-decide-write that keeps losing races.
const ATTEMPTS: usize = 5;

fn bad_spec(err: SpecError) -> Status {
    Status::invalid_argument(err.to_string())
}

fn record_reply(record: &cluster_state::Service) -> Result<Response<proto::ServiceReply>, Status> {
    let record = serde_json::to_vec(&record.shown())
        .map_err(|e| Status::internal(format!("cannot encode the service: {e}")))?;
    Ok(Response::new(proto::ServiceReply { record }))
}

/// Commits `commands` as one batch. A record guarded twice (a network the service joins that
/// the first ingress port's write also rewrites) is kept once: the second rewrite at the same
/// version would always fail, the first having moved the version on.
async fn commit(manager: &ManagerService, commands: Vec<Command>) -> Result<u64, Refused> {
    manager.raft.write(Batch::new(0, once_each(commands))).await
}

/// `commands` without the updates of a record already updated earlier in the list.
fn once_each(commands: Vec<Command>) -> Vec<Command> {
    let mut updated = std::collections::HashSet::new();
    commands
        .into_iter()
        .filter(|command| match command {
            Command::Update { record, .. } => updated.insert(record.key()),
            _ => true,
        })
        .collect()
}

/// Creates a service.
pub(super) async fn create(
    manager: &ManagerService,
    request: proto::CreateServiceRequest,
) -> Result<Response<proto::ServiceReply>, Status> {
    let spec = match (request.spec, request.spec_json.is_empty()) {
        (Some(_), false) => return Err(bad_spec(SpecError::Conflict("spec", "spec_json"))),
        (None, false) => decode::spec_json(&request.spec_json).map_err(bad_spec)?,
        (wire, true) => decode::spec(&wire.unwrap_or_default()).map_err(bad_spec)?,
    };
    let name = decode::service_name(&request.name, &spec.image).map_err(bad_spec)?;
    let auth = decode::registry_auth(request.registry_auth.as_ref()).map_err(bad_spec)?;
    let id = ServiceId(control::new_task_id().0);
    let mut service = swarm::Service::new(id, name.clone(), spec, control::now());
    service.rebalance = !request.no_rebalance;
    // The networks, secrets and other publishing services are guarded at the versions read:
    // a write that lost a race with another (the control loop gives nodes their addresses on
    // the ingress network, for one) is decided again on the new state.
    for _ in 0..ATTEMPTS {
        let mut guards = crate::networks::api::joined(manager, &service.spec).await?;
        guards.extend(crate::secrets::api::referenced(manager, &service.spec).await?);
        let (ports, published) =
            crate::networks::api::published(manager, service.id.as_str(), &service.spec, &[])
                .await?;
        guards.extend(published);
        let mut record = cluster_state::Service::new(service.clone());
        record.endpoint.ports = ports;
        record.with_registry_auth = auth.is_some();
        record.registry_auth = auth.clone().map(cluster_state::StoredAuth::Open);
        let mut commands = vec![Command::Create(Record::Service(Box::new(record.clone())))];
        commands.extend(guards);
        match commit(manager, commands).await {
            Ok(_) => {
                tracing::info!(service = %name, id = %record.meta.id, "service created");
                return record_reply(&record);
            }
            Err(Refused::Write(WriteError::Refused(ApplyError::NameInUse { .. }))) => {
                return Err(Status::already_exists(format!(
                    "service {name} already exists"
                )));
            }
            Err(refused) if raced(&refused) => continue,
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "the networks, secrets or ports service {name} uses kept changing; retry"
    )))
}

/// Changes a service's spec.
pub(super) async fn update(
    manager: &ManagerService,
    request: proto::UpdateServiceRequest,
) -> Result<Response<proto::ServiceReply>, Status> {
    let change = ServiceUpdate::decode(&request).map_err(bad_spec)?;
    for _ in 0..ATTEMPTS {
        let store = contents(manager).await?;
        let current = store.service(&request.service)?;
        let mut next = updated(current, &change, control::now()).map_err(bad_spec)?;
        let (ports, published) = crate::networks::api::published(
            manager,
            &current.meta.id,
            &next.service.spec,
            &current.endpoint.ports,
        )
        .await?;
        next.endpoint.ports = ports;
        let mut commands = vec![Command::Update {
            expected_version: current.meta.version,
            record: Record::Service(Box::new(next.clone())),
        }];
        commands.extend(crate::networks::api::joined(manager, &next.service.spec).await?);
        commands.extend(crate::secrets::api::referenced(manager, &next.service.spec).await?);
        commands.extend(published);
        match commit(manager, commands).await {
            Ok(_) => return record_reply(&next),
            Err(refused) if raced(&refused) => continue,
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "service {} kept changing; retry",
        request.service
    )))
}

/// Removes a service: in one batch its record goes and every task of it is wanted shut
/// down; the control loop forgets the tasks once their nodes report them stopped.
pub(super) async fn remove(
    manager: &ManagerService,
    request: proto::ServiceRef,
) -> Result<Response<proto::Empty>, Status> {
    for _ in 0..ATTEMPTS {
        let store = contents(manager).await?;
        let service = store.service(&request.service)?;
        let mut commands = vec![Command::Delete {
            key: RecordKey::new(Kind::Service, service.meta.id.clone()),
            expected_version: Some(service.meta.version),
        }];
        for task in store
            .tasks
            .iter()
            .filter(|t| t.task.service_id == service.service.id && t.task.is_desired_running())
        {
            let mut stopping = task.clone();
            stopping.task.desired_state = DesiredState::Shutdown;
            commands.push(Command::Update {
                expected_version: task.meta.version,
                record: Record::Task(Box::new(stopping)),
            });
        }
        match commit(manager, commands).await {
            Ok(_) => {
                tracing::info!(service = %service.service.name, "service removed");
                return Ok(Response::new(proto::Empty {}));
            }
            Err(refused) if raced(&refused) => continue,
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "service {} kept changing; retry",
        request.service
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{ServiceSpec, Timestamp};

    fn guard(id: &str, version: u64) -> Command {
        let service = swarm::Service::new(
            ServiceId(id.to_owned()),
            id.to_owned(),
            ServiceSpec::default(),
            Timestamp(0),
        );
        let mut record = cluster_state::Service::new(service);
        record.meta.version = version;
        Command::Update {
            expected_version: version,
            record: Record::Service(Box::new(record)),
        }
    }

    #[test]
    fn a_record_guarded_twice_is_rewritten_once() {
        let commands = vec![guard("front", 3), guard("back", 5), guard("front", 3)];
        assert_eq!(
            once_each(commands),
            vec![guard("front", 3), guard("back", 5)]
        );
    }
}
