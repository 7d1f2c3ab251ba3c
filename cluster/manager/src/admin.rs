//! Cluster administration on the leader: joins (token → certificate, raft id, membership),
//! certificate renewal, join tokens, the status answer, and the record lookups the other
//! administrative handlers share.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::driver::{Query, StatusView};
use super::proto;
use super::proto::manager_client::ManagerClient as RawClient;
use super::service::{ManagerService, Need, forwarded, status_of};
use crate::pki::{ClusterCa, JoinToken, ca_digest, new_secret, role_name};
use cluster_raft::MembershipChange;
use cluster_raft::{failures_tolerated, quorum};
use cluster_state::{
    Availability, Batch, ClusterInfo, Command, Kind, Meta, Node, NodeRole, NodeState, Record,
    RecordKey,
};

/// `Some(client)` to forward to when this manager does not lead; `None` when it does.
pub(super) async fn leader_or_forward<T>(
    service: &ManagerService,
    request: &Request<T>,
) -> Result<Option<RawClient<Channel>>, Status> {
    let view = service.raft.status().await.map_err(status_of)?;
    if view.status.leader == Some(view.status.id) {
        return Ok(None);
    }
    match view.leader_addr {
        Some(addr) if !forwarded(request) => Ok(Some(service.client(&addr)?)),
        _ => match view.quorum_error {
            Some(no) => Err(Status::unavailable(no.to_string())),
            None => Err(Status::unavailable("no leader elected yet; retry shortly")),
        },
    }
}

pub(super) fn decode_records(data: &[u8]) -> Result<Vec<Record>, Status> {
    serde_json::from_slice(data)
        .map_err(|e| Status::internal(format!("cannot decode records: {e}")))
}

/// The record at `key`, read linearizably; `None` when there is none.
pub(super) async fn read_record(
    service: &ManagerService,
    key: RecordKey,
) -> Result<Option<Record>, Status> {
    let (data, _) = service
        .raft
        .read(Query::Key(key))
        .await
        .map_err(status_of)?;
    Ok(decode_records(&data)?.pop())
}

/// Proposes `commands` as one batch and waits until it is committed and applied.
pub(super) async fn commit(service: &ManagerService, commands: Vec<Command>) -> Result<(), Status> {
    service
        .raft
        .write(Batch::new(0, commands))
        .await
        .map(drop)
        .map_err(status_of)
}

pub(super) async fn cluster_info(service: &ManagerService) -> Result<ClusterInfo, Status> {
    let key = RecordKey::new(Kind::Cluster, ClusterInfo::ID);
    match read_record(service, key).await? {
        Some(Record::Cluster(info)) => Ok(info),
        _ => Err(Status::unavailable(
            "the cluster is still initializing; retry shortly",
        )),
    }
}

/// Finds a node by id, unique id prefix or hostname.
pub(super) async fn find_node(service: &ManagerService, name: &str) -> Result<Node, Status> {
    let (data, _) = service
        .raft
        .read(Query::Kind(Kind::Node))
        .await
        .map_err(status_of)?;
    let nodes: Vec<Node> = decode_records(&data)?
        .into_iter()
        .filter_map(|r| match r {
            Record::Node(node) => Some(node),
            _ => None,
        })
        .collect();
    if let Some(node) = nodes.iter().find(|n| n.meta.id == name) {
        return Ok(node.clone());
    }
    let matches: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.meta.id.starts_with(name) || n.hostname == name)
        .collect();
    match matches.as_slice() {
        [node] => Ok((*node).clone()),
        [] => Err(Status::not_found(format!("node {name} not found"))),
        _ => Err(Status::failed_precondition(format!(
            "node {name} is ambiguous: it matches {} nodes",
            matches.len()
        ))),
    }
}

fn node_id() -> String {
    let mut bytes = [0u8; 12];
    crate::pki::secure_random(&mut bytes);
    hex::encode(bytes)
}

/// Admits a node presenting a join token.
pub(super) async fn join(
    service: &ManagerService,
    request: Request<proto::JoinRequest>,
) -> Result<Response<proto::JoinResponse>, Status> {
    if let Some(mut client) = leader_or_forward(service, &request).await? {
        let inner = request.into_inner();
        return client.join(ManagerService::forward_request(inner)).await;
    }
    let _guard = service.admin_lock.lock().await;
    let info = cluster_info(service).await?;
    let request = request.into_inner();
    let token: JoinToken = request
        .token
        .parse()
        .map_err(|e: crate::pki::PkiError| Status::unauthenticated(e.to_string()))?;
    let digest = ca_digest(&info.ca_cert_pem).map_err(|e| Status::internal(e.to_string()))?;
    if token.ca_digest != digest {
        return Err(Status::unauthenticated(
            "join token belongs to another cluster: its ca digest does not match this cluster's ca",
        ));
    }
    let role = if token.secret_matches(&info.manager_secret) {
        NodeRole::Manager
    } else if token.secret_matches(&info.worker_secret) {
        NodeRole::Worker
    } else {
        return Err(Status::unauthenticated(
            "invalid join token: it matches none of this cluster's current join tokens",
        ));
    };
    // Node ids are never reused: a removed node's certificates stay refused.
    let id = std::iter::repeat_with(node_id)
        .find(|id| !info.removed_nodes.contains(id))
        .expect("an endless stream of random ids holds one not yet removed");
    let ca = ClusterCa {
        cert_pem: info.ca_cert_pem.clone(),
        key_pem: info.ca_key_pem.clone(),
    };
    let cert_pem = ca
        .sign(&request.csr_pem, &id, role, info.cert_validity())
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let mut commands = Vec::new();
    let raft_id = if role == NodeRole::Manager {
        let mut next = info.clone();
        next.next_raft_id += 1;
        commands.push(Command::Update {
            record: Record::Cluster(next),
            expected_version: info.meta.version,
        });
        Some(info.next_raft_id)
    } else {
        None
    };
    commands.push(Command::Create(Record::Node(Node {
        meta: Meta {
            id: id.clone(),
            ..Meta::default()
        },
        hostname: request.hostname,
        addr: request.advertise_addr,
        role,
        raft_id,
        availability: Availability::Active,
        state: NodeState::Ready,
        desired_role: None,
        demoted_at_ms: None,
        platform: Default::default(),
        resources: Default::default(),
    })));
    commit(service, commands).await?;
    service.liveness.heard(&id);
    if let Some(raft_id) = raft_id {
        service
            .raft
            .membership(MembershipChange::AddManager(raft_id))
            .await
            .map_err(status_of)?;
    }
    tracing::info!(node = %id, role = role_name(role), ?raft_id, "node joined");
    let view = service.raft.status().await.map_err(status_of)?;
    let managers = view
        .members
        .iter()
        .filter_map(|(raft_id, node)| node.as_ref().map(|n| (*raft_id, n.addr.clone())))
        .collect();
    Ok(Response::new(proto::JoinResponse {
        node_id: id,
        role: role_name(role).to_owned(),
        raft_id: raft_id.unwrap_or_default(),
        cert_pem,
        ca_pem: info.ca_cert_pem,
        managers,
        seal_key: match (role, &service.seal_key) {
            (NodeRole::Manager, Some(key)) => key.to_bytes(),
            _ => Vec::new(),
        },
    }))
}

/// Issues a fresh certificate to a node of this cluster, with the role the store gives it.
pub(super) async fn renew(
    service: &ManagerService,
    request: Request<proto::RenewRequest>,
) -> Result<Response<proto::RenewResponse>, Status> {
    let caller = service.authorize(&request, Need::Node).await?;
    let node = find_node(service, &caller.node_id)
        .await
        .map_err(|_| super::service::removed(&caller.node_id))?;
    let info = cluster_info(service).await?;
    let validity = info.cert_validity();
    let ca = ClusterCa {
        cert_pem: info.ca_cert_pem,
        key_pem: info.ca_key_pem,
    };
    let cert_pem = ca
        .sign(
            &request.get_ref().csr_pem,
            &node.meta.id,
            node.role,
            validity,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    Ok(Response::new(proto::RenewResponse { cert_pem }))
}

/// Shows, or rotates and shows, the join token of a role.
pub(super) async fn join_token(
    service: &ManagerService,
    request: Request<proto::JoinTokenRequest>,
) -> Result<Response<proto::JoinTokenResponse>, Status> {
    service.authorize(&request, Need::Manager).await?;
    let role = crate::pki::parse_role(&request.get_ref().role).ok_or_else(|| {
        Status::invalid_argument(format!(
            "unknown role {:?}: expected worker or manager",
            request.get_ref().role
        ))
    })?;
    if request.get_ref().rotate
        && let Some(mut client) = leader_or_forward(service, &request).await?
    {
        let inner = request.into_inner();
        return client
            .join_token(ManagerService::forward_request(inner))
            .await;
    }
    let _guard = service.admin_lock.lock().await;
    let mut info = cluster_info(service).await?;
    if request.get_ref().rotate {
        let version = info.meta.version;
        match role {
            NodeRole::Manager => info.manager_secret = new_secret(),
            NodeRole::Worker => info.worker_secret = new_secret(),
        }
        let command = Command::Update {
            record: Record::Cluster(info.clone()),
            expected_version: version,
        };
        commit(service, vec![command]).await?;
    }
    let token = JoinToken {
        ca_digest: ca_digest(&info.ca_cert_pem).map_err(|e| Status::internal(e.to_string()))?,
        secret: match role {
            NodeRole::Manager => info.manager_secret,
            NodeRole::Worker => info.worker_secret,
        },
    };
    Ok(Response::new(proto::JoinTokenResponse {
        token: token.to_string(),
    }))
}

/// The status answer from a manager's view.
pub(super) fn status_response(view: &StatusView) -> proto::StatusResponse {
    let status = &view.status;
    let members = view
        .members
        .iter()
        .map(|(id, node)| proto::Member {
            raft_id: *id,
            node_id: node.as_ref().map(|n| n.meta.id.clone()).unwrap_or_default(),
            addr: node.as_ref().map(|n| n.addr.clone()).unwrap_or_default(),
            reachable: view.reachable.contains(id),
            leader: status.leader == Some(*id),
        })
        .collect();
    let voters = status.voters.len();
    let need = quorum(voters);
    let tolerates = view
        .reachable
        .len()
        .saturating_sub(need)
        .min(failures_tolerated(voters));
    proto::StatusResponse {
        raft_id: status.id,
        leader: status.leader.unwrap_or_default(),
        term: status.term,
        commit: status.commit,
        applied: status.applied,
        members,
        quorum: need as u64,
        tolerates: tolerates as u64,
        state_hash: view.state_hash.clone().unwrap_or_default(),
        quorum_error: view
            .quorum_error
            .map(|no| no.to_string())
            .unwrap_or_default(),
    }
}
