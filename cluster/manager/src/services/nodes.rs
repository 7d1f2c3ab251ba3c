//! `node update`: a node's availability (active, pause, drain) and labels, which the
//! scheduler reads (`node.labels.X` constraints, spread preferences).

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use tonic::{Response, Status};

use super::decode;
use super::lookup::contents;
use super::proto::{self, AvailabilityChange};
use crate::driver::Refused;
use crate::service::{ManagerService, status_of};
use cluster_raft::WriteError;
use cluster_state::{ApplyError, Availability, Batch, Command, Record};

/// Attempts while the node record keeps changing (heartbeats mark it ready or down).
const ATTEMPTS: usize = 5;

/// Applies the change to the node's record.
pub(super) async fn update(
    manager: &ManagerService,
    request: proto::UpdateNodeRequest,
) -> Result<Response<proto::Empty>, Status> {
    let availability = match AvailabilityChange::from_i32(request.availability) {
        Some(AvailabilityChange::AvailabilityUnchanged) => None,
        Some(AvailabilityChange::AvailabilityActive) => Some(Availability::Active),
        Some(AvailabilityChange::AvailabilityPause) => Some(Availability::Pause),
        Some(AvailabilityChange::AvailabilityDrain) => Some(Availability::Drain),
        None => return Err(Status::invalid_argument("unknown availability")),
    };
    let add = decode::label_pairs("--label-add", &request.label_add)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    for _ in 0..ATTEMPTS {
        let store = contents(manager).await?;
        let node = store.node(&request.node)?;
        let mut next = node.clone();
        if let Some(availability) = availability {
            next.availability = availability;
        }
        for key in &request.label_rm {
            next.meta.labels.remove(key);
        }
        next.meta.labels.extend(add.clone());
        if next == *node {
            return Ok(Response::new(proto::Empty {}));
        }
        let command = Command::Update {
            expected_version: node.meta.version,
            record: Record::Node(next),
        };
        match manager.raft.write(Batch::new(0, vec![command])).await {
            Ok(_) => {
                tracing::info!(node = %node.meta.id, ?availability, "node updated");
                return Ok(Response::new(proto::Empty {}));
            }
            Err(Refused::Write(WriteError::Refused(ApplyError::VersionMismatch { .. }))) => {
                continue;
            }
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "node {} kept changing; retry",
        request.node
    )))
}
