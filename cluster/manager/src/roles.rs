//! Role changes on the leader: demoting a manager (which revokes its manager certificates),
//! marking a worker for promotion (its daemon completes it, see [`super::workers`]), removing
//! a node (its id joins the removed ones for good) — under the membership guards. When
//! the leader itself is to leave the managers, it first hands leadership to another manager
//! and the request goes there.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::admin::{cluster_info, commit, find_node, leader_or_forward};
use super::proto::manager_client::ManagerClient as RawClient;
use super::proto::{self, Empty};
use super::service::{ManagerService, Need, status_of};
use cluster_raft::MembershipChange;
use cluster_state::{Command, Kind, Node, NodeRole, NodeState, Record, RecordKey};

/// How long the leader waits for another manager to take over before it leaves.
const HANDOFF_WAIT: Duration = Duration::from_secs(3);

/// When manager `raft_id` is this leader itself: hands leadership to another reachable
/// manager and returns a client of the new leader to send the request to. `None` when the
/// target is another manager.
async fn hand_off_if_self(
    service: &ManagerService,
    raft_id: u64,
) -> Result<Option<RawClient<Channel>>, Status> {
    let view = service.raft.status().await.map_err(status_of)?;
    if view.status.id != raft_id {
        return Ok(None);
    }
    let Some(next) = view.successor else {
        return Err(Status::failed_precondition(format!(
            "cannot remove manager {raft_id}: no other manager is reachable to take over as leader"
        )));
    };
    tracing::info!(
        to = next,
        "handing leadership over before leaving the managers"
    );
    let deadline = Instant::now() + HANDOFF_WAIT;
    let mut asked = Instant::now() - HANDOFF_WAIT;
    while Instant::now() < deadline {
        // Asked again every election timeout: raft gives up a transfer after one.
        if asked.elapsed() >= Duration::from_secs(1) {
            service.raft.transfer_leader(next).map_err(status_of)?;
            asked = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let view = service.raft.status().await.map_err(status_of)?;
        if let (Some(leader), Some(addr)) = (view.status.leader, view.leader_addr)
            && leader != raft_id
        {
            return Ok(Some(service.client(&addr)?));
        }
    }
    Err(Status::unavailable(format!(
        "cannot remove manager {raft_id}: leadership did not move to manager {next}; retry"
    )))
}

/// Demotes a manager to a worker, or marks a worker for promotion: the worker's daemon
/// notices on its next heartbeat and completes the change ([`super::workers::promote`]).
/// A worker that is down cannot be promoted.
pub(super) async fn change_role(
    service: &ManagerService,
    request: Request<proto::ChangeRoleRequest>,
) -> Result<Response<Empty>, Status> {
    service.authorize(&request, Need::Manager).await?;
    if let Some(mut client) = leader_or_forward(service, &request).await? {
        let inner = request.into_inner();
        return client
            .change_role(ManagerService::forward_request(inner))
            .await;
    }
    let node = find_node(service, &request.get_ref().node).await?;
    if request.get_ref().role == "worker"
        && let Some(raft_id) = node.raft_id
        && let Some(mut leader) = hand_off_if_self(service, raft_id).await?
    {
        let inner = request.into_inner();
        return leader
            .change_role(ManagerService::forward_request(inner))
            .await;
    }
    let _guard = service.admin_lock.lock().await;
    let request = request.into_inner();
    let node = find_node(service, &request.node).await?;
    match (request.role.as_str(), node.role) {
        ("manager", NodeRole::Manager) => Ok(Response::new(Empty {})),
        ("worker", NodeRole::Worker) if node.desired_role.is_none() => Ok(Response::new(Empty {})),
        ("worker", NodeRole::Worker) => {
            // Cancels a promotion the node has not taken yet.
            let mut worker = node;
            worker.desired_role = None;
            write_node(service, worker).await
        }
        ("worker", NodeRole::Manager) => {
            if let Some(raft_id) = node.raft_id {
                service
                    .raft
                    .membership(MembershipChange::RemoveManager(raft_id))
                    .await
                    .map_err(status_of)?;
            }
            // Its daemon carries on as a worker: count it alive from now.
            service.liveness.heard(&node.meta.id);
            let mut demoted = node;
            demoted.role = NodeRole::Worker;
            demoted.raft_id = None;
            demoted.desired_role = None;
            // Revokes the manager certificates issued to it so far.
            demoted.demoted_at_ms = Some(now_ms());
            write_node(service, demoted).await
        }
        ("manager", NodeRole::Worker) if node.state == NodeState::Down => {
            Err(Status::failed_precondition(format!(
                "cannot promote node {}: it is down (its daemon has stopped reporting); start it again and retry",
                node.meta.id
            )))
        }
        ("manager", NodeRole::Worker) => {
            let mut marked = node;
            marked.desired_role = Some(NodeRole::Manager);
            write_node(service, marked).await
        }
        (other, _) => Err(Status::invalid_argument(format!("unknown role {other:?}"))),
    }
}

/// Writes `node` over its current version.
async fn write_node(service: &ManagerService, node: Node) -> Result<Response<Empty>, Status> {
    let version = node.meta.version;
    let command = Command::Update {
        record: Record::Node(node),
        expected_version: version,
    };
    commit(service, vec![command]).await?;
    Ok(Response::new(Empty {}))
}

/// Removes a node; a manager only with `force`, after the membership guards; a worker that
/// is not down only with `force`.
pub(super) async fn remove_node(
    service: &ManagerService,
    request: Request<proto::RemoveNodeRequest>,
) -> Result<Response<Empty>, Status> {
    service.authorize(&request, Need::Manager).await?;
    if let Some(mut client) = leader_or_forward(service, &request).await? {
        let inner = request.into_inner();
        return client
            .remove_node(ManagerService::forward_request(inner))
            .await;
    }
    let node = find_node(service, &request.get_ref().node).await?;
    if request.get_ref().force
        && let Some(raft_id) = node.raft_id
        && let Some(mut leader) = hand_off_if_self(service, raft_id).await?
    {
        let inner = request.into_inner();
        return leader
            .remove_node(ManagerService::forward_request(inner))
            .await;
    }
    let _guard = service.admin_lock.lock().await;
    let request = request.into_inner();
    let node = find_node(service, &request.node).await?;
    if let Some(raft_id) = node.raft_id {
        if !request.force {
            return Err(Status::failed_precondition(format!(
                "node {} is a manager: demote it first, or use --force",
                node.meta.id
            )));
        }
        service
            .raft
            .membership(MembershipChange::RemoveManager(raft_id))
            .await
            .map_err(status_of)?;
    } else if node.state != NodeState::Down && !request.force {
        return Err(Status::failed_precondition(format!(
            "node {} is not down: stop its daemon first (it is marked down within {} s), or use --force",
            node.meta.id,
            super::workers::DOWN_AFTER.as_secs()
        )));
    }
    // The record goes and the id joins the removed ones in one entry: from then on every
    // manager refuses the node's certificates.
    let mut info = cluster_info(service).await?;
    let version = info.meta.version;
    info.removed_nodes.insert(node.meta.id.clone());
    let commands = vec![
        Command::Delete {
            key: RecordKey::new(Kind::Node, node.meta.id.clone()),
            expected_version: None,
        },
        Command::Update {
            record: Record::Cluster(info),
            expected_version: version,
        },
    ];
    commit(service, commands).await?;
    Ok(Response::new(Empty {}))
}

/// Now on this manager's clock, milliseconds since the Unix epoch.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
