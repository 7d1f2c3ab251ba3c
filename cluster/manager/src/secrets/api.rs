//! The secret and config calls of the services API: create (name and payload checked, the
//! record written in one batch, a secret's payload sealed by the leader before it is
//! proposed), list, inspect (never a secret's payload) and remove (refused while a service
//! uses it, naming the services).

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use tonic::{Response, Status};

use super::check::{self, store_kind};
use crate::driver::{Query, Refused};
use crate::service::{ManagerService, status_of};
use crate::services::decode::label_pairs;
use crate::services::guard::{at_versions_read, in_use, raced};
use crate::services::lookup::pick;
use crate::services::proto;
use cluster_raft::WriteError;
use cluster_state::{ApplyError, Batch, Blob, Command, Kind, Meta, Record, RecordKey, Service};
use orchestrator::swarm::{FileKind, ServiceSpec};

/// Attempts of a read-decide-write that keeps losing races.
const ATTEMPTS: usize = 5;

/// The kind a request names.
pub(crate) fn kind_of(wire: i32) -> Result<FileKind, Status> {
    match proto::BlobKind::from_i32(wire) {
        Some(proto::BlobKind::Secret) => Ok(FileKind::Secret),
        Some(proto::BlobKind::Config) => Ok(FileKind::Config),
        _ => Err(Status::invalid_argument(
            "a kind is required: secret or config",
        )),
    }
}

struct Contents {
    kind: FileKind,
    blobs: Vec<Blob>,
    services: Vec<Service>,
}

async fn contents(manager: &ManagerService, kind: FileKind) -> Result<Contents, Status> {
    let (data, _) = manager
        .raft
        .read(Query::Kinds(vec![store_kind(kind), Kind::Service]))
        .await
        .map_err(status_of)?;
    let records: Vec<Record> = serde_json::from_slice(&data)
        .map_err(|e| Status::internal(format!("cannot decode records: {e}")))?;
    let mut contents = Contents {
        kind,
        blobs: Vec::new(),
        services: Vec::new(),
    };
    for record in records {
        match record {
            Record::Secret(b) | Record::Config(b) => contents.blobs.push(b),
            Record::Service(s) => contents.services.push(*s),
            _ => {}
        }
    }
    Ok(contents)
}

fn record(kind: FileKind, blob: Blob) -> Record {
    match kind {
        FileKind::Secret => Record::Secret(blob),
        FileKind::Config => Record::Config(blob),
    }
}

impl Contents {
    /// The secret or config `name` designates: exact id, exact name, else a unique id prefix.
    fn blob(&self, name: &str) -> Result<&Blob, Status> {
        pick(
            &self.blobs,
            name,
            self.kind.as_str(),
            |b| &b.meta.id,
            |b| &b.name,
        )
    }

    /// The answer about `blob`: a secret's payload is never part of it.
    fn info(&self, blob: &Blob) -> Result<proto::BlobInfo, Status> {
        let mut shown = blob.clone();
        if self.kind == FileKind::Secret {
            shown.data.clear();
        }
        Ok(proto::BlobInfo {
            record: serde_json::to_vec(&shown)
                .map_err(|e| Status::internal(format!("cannot encode the record: {e}")))?,
            services: check::users(self.kind, &blob.name, &self.services),
        })
    }
}

/// Creates a secret or config.
pub(crate) async fn create(
    manager: &ManagerService,
    request: proto::CreateBlobRequest,
) -> Result<Response<proto::BlobInfo>, Status> {
    let kind = kind_of(request.kind)?;
    let name = request.name.trim().to_owned();
    check::check_new(kind, &name, &request.data)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let labels = label_pairs("--label", &request.labels)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let blob = Blob {
        meta: Meta {
            id: crate::control::new_task_id().0,
            labels,
            ..Meta::default()
        },
        name: name.clone(),
        data: request.data,
    };
    let exists = || Status::already_exists(format!("{} {name} already exists", kind.as_str()));
    match manager
        .raft
        .write(Batch::new(
            0,
            vec![Command::Create(record(kind, blob.clone()))],
        ))
        .await
    {
        Ok(_) => {}
        Err(Refused::Write(WriteError::Refused(ApplyError::NameInUse { .. }))) => {
            return Err(exists());
        }
        Err(refused) => return Err(status_of(refused)),
    }
    tracing::info!(kind = kind.as_str(), name = %name, id = %blob.meta.id, "created");
    // The answer reads the record back: it carries the times the apply step stamped.
    inspect(manager, kind, &blob.meta.id).await
}

/// Every secret or config of `kind`, by name.
pub(crate) async fn list(
    manager: &ManagerService,
    kind: FileKind,
) -> Result<Response<proto::BlobList>, Status> {
    let store = contents(manager, kind).await?;
    let mut sorted: Vec<&Blob> = store.blobs.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let blobs = sorted
        .into_iter()
        .map(|b| store.info(b))
        .collect::<Result<_, _>>()?;
    Ok(Response::new(proto::BlobList { blobs }))
}

/// One secret or config.
pub(crate) async fn inspect(
    manager: &ManagerService,
    kind: FileKind,
    name: &str,
) -> Result<Response<proto::BlobInfo>, Status> {
    let store = contents(manager, kind).await?;
    let blob = store.blob(name)?;
    Ok(Response::new(store.info(blob)?))
}

/// Removes a secret or config unless a service uses it.
pub(crate) async fn remove(
    manager: &ManagerService,
    kind: FileKind,
    name: &str,
) -> Result<Response<proto::Empty>, Status> {
    for _ in 0..ATTEMPTS {
        let store = contents(manager, kind).await?;
        let blob = store.blob(name)?;
        let users = check::users(kind, &blob.name, &store.services);
        if !users.is_empty() {
            return Err(in_use(&format!("{} {}", kind.as_str(), blob.name), &users));
        }
        // A service that started using it meanwhile refuses the removal.
        let mut commands = at_versions_read(&store.services);
        commands.push(Command::Delete {
            key: RecordKey::new(store_kind(kind), blob.meta.id.clone()),
            expected_version: Some(blob.meta.version),
        });
        match manager.raft.write(Batch::new(0, commands)).await {
            Ok(_) => {
                tracing::info!(kind = kind.as_str(), name = %blob.name, "removed");
                return Ok(Response::new(proto::Empty {}));
            }
            Err(refused) if raced(&refused) => continue,
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "{} {name} kept changing; retry",
        kind.as_str()
    )))
}

/// Checks that every secret and config `spec` uses exists, and returns the commands that
/// rewrite them at the versions read: added to a service's write, they make it fail if one
/// of them was removed meanwhile.
pub(crate) async fn referenced(
    manager: &ManagerService,
    spec: &ServiceSpec,
) -> Result<Vec<Command>, Status> {
    let mut commands = Vec::new();
    for (kind, refs) in [
        (FileKind::Secret, &spec.secrets),
        (FileKind::Config, &spec.configs),
    ] {
        if refs.is_empty() {
            continue;
        }
        let store = contents(manager, kind).await?;
        for wanted in refs {
            let blob = store
                .blobs
                .iter()
                .find(|b| b.name == wanted.source)
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "{} {} not found: create it with `bosun {} create {} FILE`",
                        kind.as_str(),
                        wanted.source,
                        kind.as_str(),
                        wanted.source
                    ))
                })?;
            commands.push(Command::Update {
                expected_version: blob.meta.version,
                record: record(kind, blob.clone()),
            });
        }
    }
    Ok(commands)
}
