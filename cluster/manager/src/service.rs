//! The manager's gRPC service: authenticates callers by their certificate and by what the
//! store says of them now (a removed node and a demoted node's manager certificate are
//! refused), checks that the raft messages a manager sends carry its own raft id, forwards
//! writes a follower receives to the leader, and answers no-quorum at once.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::driver::{Query, RaftHandle, Refused};
use super::proto::manager_client::ManagerClient as RawClient;
use super::proto::manager_server::Manager as ManagerApi;
use super::proto::{self, Empty};
use super::roster::Standing;
use super::sender::{self, ForeignSenders};
use super::tls::{self, PeerInfo};
use super::workers::{self, Liveness};
use super::{admin, roles};
use crate::pki::PeerIdentity;
use cluster_raft::decode_message;
use cluster_state::{Batch, Kind, NodeRole, RecordKey};

/// Header marking a request a manager forwarded; it is never forwarded twice.
const FORWARDED: &str = "x-bosun-forwarded";
/// Time allowed for a forwarded request.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a linearizable read.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The service of one manager.
pub struct ManagerService {
    pub(super) raft: RaftHandle,
    client_config: Arc<ClientConfig>,
    /// Channels to other managers by address, shared by the clients of every API served
    /// beside this one. A std mutex: it is never held across an await.
    channels: std::sync::Mutex<HashMap<String, Channel>>,
    /// Serializes joins and membership changes on this manager: each reads the cluster record
    /// and then writes it, so two must not interleave. A tokio mutex: held across awaits.
    pub(super) admin_lock: tokio::sync::Mutex<()>,
    /// The key sealing secrets at rest, handed to joining managers.
    pub(super) seal_key: Option<cluster_state::SealKey>,
    /// When the workers last reported (used while this manager leads).
    pub(super) liveness: Arc<Liveness>,
    /// The raft messages dropped because they were sent in another node's name.
    foreign_senders: ForeignSenders,
}

/// Maps a refusal of the raft thread to a gRPC status.
pub(crate) fn status_of(refused: Refused) -> Status {
    match &refused {
        Refused::NoQuorum(_) => {
            api::Reason::NoQuorum.mark(Status::unavailable(refused.to_string()))
        }
        Refused::Stopped | Refused::ReadInterrupted => Status::unavailable(refused.to_string()),
        Refused::NotLeader { .. } => Status::unavailable(refused.to_string()),
        Refused::Propose(cluster_raft::ProposeError::Membership(_)) => {
            Status::failed_precondition(refused.to_string())
        }
        Refused::Propose(_) => Status::unavailable(refused.to_string()),
        Refused::Write(cluster_raft::WriteError::Refused(_)) => {
            Status::failed_precondition(refused.to_string())
        }
        Refused::Write(_) => Status::aborted(refused.to_string()),
    }
}

/// What a call needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Any node of the cluster (heartbeats, renewal, promotion).
    Node,
    /// A manager: the manager api.
    Manager,
    /// A manager sending raft messages. The store catches up through these very messages,
    /// so a caller the store does not know yet (or knows as a worker, its promotion not yet
    /// applied) is let through; each message must still come from a raft id the store gives
    /// the caller or has not handed out yet (see [`sender`]).
    Raft,
}

/// The refusal of a node removed from the cluster (clients map it to a removed node).
pub(crate) fn removed(node: &str) -> Status {
    api::Reason::Removed.mark(Status::permission_denied(format!(
        "node {node} was removed from the cluster"
    )))
}

/// The refusal of a worker calling a manager-only api with a manager certificate.
fn demoted(node: &str) -> Status {
    Status::permission_denied(format!(
        "node {node} was demoted to a worker: workers cannot call the manager api"
    ))
}

/// The caller's certificate identity, refused unless it presented a certificate of this
/// cluster.
fn certificate<T>(request: &Request<T>) -> Result<PeerIdentity, Status> {
    request
        .extensions()
        .get::<PeerInfo>()
        .and_then(|info| info.identity.clone())
        .ok_or_else(|| {
            Status::unauthenticated(
                "a node certificate of this cluster is required (join the cluster first)",
            )
        })
}

/// `identity`, refused unless its certificate names the manager role where `need` asks for
/// a manager.
fn certificate_role(identity: PeerIdentity, need: Need) -> Result<PeerIdentity, Status> {
    if need != Need::Node && identity.role != NodeRole::Manager {
        return Err(Status::permission_denied(format!(
            "node {} has a worker certificate: workers cannot call the manager api",
            identity.node_id
        )));
    }
    Ok(identity)
}

pub(super) fn forwarded<T>(request: &Request<T>) -> bool {
    request.metadata().contains_key(FORWARDED)
}

impl ManagerService {
    /// A service over the raft thread behind `raft`.
    pub fn new(raft: RaftHandle, client_config: Arc<ClientConfig>) -> Self {
        ManagerService {
            raft,
            client_config,
            channels: std::sync::Mutex::new(HashMap::new()),
            admin_lock: tokio::sync::Mutex::new(()),
            seal_key: None,
            liveness: Arc::new(Liveness::default()),
            foreign_senders: ForeignSenders::default(),
        }
    }

    /// The workers' liveness record, for the task that marks silent workers down.
    pub fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
    }

    /// How many raft messages this manager dropped because their `from` was not the raft id
    /// of the node that sent them.
    pub fn foreign_raft_messages(&self) -> u64 {
        self.foreign_senders.dropped()
    }

    /// The service with the key that seals secrets, handed to managers that join.
    pub fn with_seal_key(mut self, key: Option<cluster_state::SealKey>) -> Self {
        self.seal_key = key;
        self
    }

    /// The caller's identity, checked against its certificate and then against the store
    /// as applied here: a removed node is refused everywhere, a demoted node's manager
    /// certificate is refused where `need` asks for a manager. The check is a local lookup;
    /// only a caller the local store does not know (or knows only as a worker) makes it
    /// catch up with a linearizable read first, as it may lag behind the leader.
    pub(crate) async fn authorize<T>(
        &self,
        request: &Request<T>,
        need: Need,
    ) -> Result<PeerIdentity, Status> {
        let identity = certificate(request)?;
        let standing = self.raft.roster().standing(&identity);
        if standing == Standing::Removed {
            return Err(removed(&identity.node_id));
        }
        let identity = certificate_role(identity, need)?;
        match (standing, need) {
            (Standing::Member | Standing::Uninitialized, _) => Ok(identity),
            (Standing::Removed, _) => Err(removed(&identity.node_id)),
            (Standing::Demoted, Need::Manager | Need::Raft) => Err(demoted(&identity.node_id)),
            (Standing::Demoted | Standing::WorkerInStore, Need::Node) => Ok(identity),
            (Standing::WorkerInStore | Standing::Unknown, Need::Raft) => Ok(identity),
            (Standing::WorkerInStore | Standing::Unknown, _) => {
                let key = RecordKey::new(Kind::Node, identity.node_id.clone());
                tokio::time::timeout(READ_TIMEOUT, self.raft.read(Query::Key(key)))
                    .await
                    .map_err(|_| {
                        Status::unavailable(format!(
                            "cannot check node {} against the cluster state: no leader answered; retry",
                            identity.node_id
                        ))
                    })?
                    .map_err(status_of)?;
                match self.raft.roster().standing(&identity) {
                    Standing::Member | Standing::Uninitialized => Ok(identity),
                    Standing::Removed | Standing::Unknown => Err(removed(&identity.node_id)),
                    Standing::Demoted | Standing::WorkerInStore if need == Need::Node => {
                        Ok(identity)
                    }
                    Standing::Demoted | Standing::WorkerInStore => Err(demoted(&identity.node_id)),
                }
            }
        }
    }

    pub(super) fn client(&self, addr: &str) -> Result<RawClient<Channel>, Status> {
        Ok(RawClient::new(self.channel(addr)?)
            .max_encoding_message_size(crate::tls::MAX_MESSAGE)
            .max_decoding_message_size(crate::tls::MAX_MESSAGE))
    }

    /// The channel to the manager at `addr`, with this manager's certificate: one per address
    /// (it connects lazily and reconnects by itself), shared by the clients of every API.
    pub(crate) fn channel(&self, addr: &str) -> Result<Channel, Status> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let channel = tls::channel(addr, self.client_config.clone(), true)
            .map_err(|e| Status::internal(e.to_string()))?;
        channels.insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Where to forward a request refused with `refused`, or the status to answer with.
    pub(super) async fn forward_target<T>(
        &self,
        request: &Request<T>,
        refused: Refused,
    ) -> Result<(RawClient<Channel>, String), Status> {
        match refused {
            Refused::NotLeader {
                leader,
                addr: Some(addr),
            } if !forwarded(request) => Ok((self.client(&addr)?, format!("{leader} at {addr}"))),
            other => Err(status_of(other)),
        }
    }

    /// The answer when forwarding to the leader failed: the no-quorum error if this manager
    /// sees too few managers, otherwise the transport failure.
    pub(super) async fn forward_failed(&self, leader: &str, status: Status) -> Status {
        if status.code() != tonic::Code::Unavailable
            || api::Reason::of(&status) == Some(api::Reason::NoQuorum)
        {
            return status;
        }
        if let Ok(view) = self.raft.status().await
            && let Some(no) = view.quorum_error
        {
            return api::Reason::NoQuorum.mark(Status::unavailable(no.to_string()));
        }
        Status::unavailable(format!("leader {leader} unreachable: {}", status.message()))
    }

    /// Sends `inner` to the leader with the forwarded mark.
    pub(super) fn forward_request<T>(inner: T) -> Request<T> {
        let mut request = Request::new(inner);
        request
            .metadata_mut()
            .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
        request.set_timeout(FORWARD_TIMEOUT);
        request
    }
}

fn parse_query(query: &str) -> Result<Query, Status> {
    let bad = || Status::invalid_argument(format!("invalid read query {query:?}"));
    let kind = |name: &str| {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(bad)
    };
    match query.split_once(':') {
        None if query == "all" => Ok(Query::All),
        None if query == "hash" => Ok(Query::Hash),
        Some(("kind", name)) => Ok(Query::Kind(kind(name)?)),
        Some(("key", key)) => {
            let (k, id) = key.split_once('/').ok_or_else(bad)?;
            Ok(Query::Key(RecordKey::new(kind(k)?, id)))
        }
        _ => Err(bad()),
    }
}

#[tonic::async_trait]
impl ManagerApi for ManagerService {
    async fn raft(&self, request: Request<proto::RaftBatch>) -> Result<Response<Empty>, Status> {
        let caller = self.authorize(&request, Need::Raft).await?.node_id;
        let mut messages = Vec::new();
        for bytes in &request.get_ref().messages {
            messages
                .push(decode_message(bytes).map_err(|e| Status::invalid_argument(e.to_string()))?);
        }
        let roster = self.raft.roster();
        let screened = sender::screen(&roster, &caller, messages);
        self.foreign_senders
            .record(&roster, &caller, &screened.dropped);
        if let Some(refused) = sender::refusal(&roster, &caller, &screened) {
            return Err(refused);
        }
        self.raft.step(screened.kept).map_err(status_of)?;
        Ok(Response::new(Empty {}))
    }

    async fn join(
        &self,
        request: Request<proto::JoinRequest>,
    ) -> Result<Response<proto::JoinResponse>, Status> {
        admin::join(self, request).await
    }

    async fn renew(
        &self,
        request: Request<proto::RenewRequest>,
    ) -> Result<Response<proto::RenewResponse>, Status> {
        admin::renew(self, request).await
    }

    async fn write(
        &self,
        request: Request<proto::WriteRequest>,
    ) -> Result<Response<proto::WriteResponse>, Status> {
        self.authorize(&request, Need::Manager).await?;
        let batch = Batch::decode(&request.get_ref().batch)
            .map_err(|e| Status::invalid_argument(format!("invalid batch: {e}")))?;
        match self.raft.write(batch).await {
            Ok(index) => Ok(Response::new(proto::WriteResponse { index })),
            Err(refused) => {
                let (mut client, leader) = self.forward_target(&request, refused).await?;
                let inner = request.into_inner();
                match client.write(Self::forward_request(inner)).await {
                    Ok(response) => Ok(response),
                    Err(status) => Err(self.forward_failed(&leader, status).await),
                }
            }
        }
    }

    async fn read(
        &self,
        request: Request<proto::ReadRequest>,
    ) -> Result<Response<proto::ReadResponse>, Status> {
        self.authorize(&request, Need::Manager).await?;
        let query = parse_query(&request.get_ref().query)?;
        let read = tokio::time::timeout(READ_TIMEOUT, self.raft.read(query))
            .await
            .map_err(|_| Status::deadline_exceeded("linearizable read did not complete"))?;
        match read {
            Ok((data, applied)) => Ok(Response::new(proto::ReadResponse { data, applied })),
            Err(refused) => Err(status_of(refused)),
        }
    }

    async fn status(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<proto::StatusResponse>, Status> {
        self.authorize(&request, Need::Manager).await?;
        let view = self.raft.status_with_hash().await.map_err(status_of)?;
        let is_leader = view.status.leader == Some(view.status.id);
        if !is_leader
            && !forwarded(&request)
            && let Some(addr) = view.leader_addr.clone()
        {
            let mut client = self.client(&addr)?;
            if let Ok(response) = client.status(Self::forward_request(Empty {})).await {
                return Ok(response);
            }
        }
        Ok(Response::new(admin::status_response(&view)))
    }

    async fn change_role(
        &self,
        request: Request<proto::ChangeRoleRequest>,
    ) -> Result<Response<Empty>, Status> {
        roles::change_role(self, request).await
    }

    async fn remove_node(
        &self,
        request: Request<proto::RemoveNodeRequest>,
    ) -> Result<Response<Empty>, Status> {
        roles::remove_node(self, request).await
    }

    async fn join_token(
        &self,
        request: Request<proto::JoinTokenRequest>,
    ) -> Result<Response<proto::JoinTokenResponse>, Status> {
        admin::join_token(self, request).await
    }

    async fn heartbeat(
        &self,
        request: Request<proto::HeartbeatRequest>,
    ) -> Result<Response<proto::HeartbeatResponse>, Status> {
        workers::heartbeat(self, request).await
    }

    async fn promote(
        &self,
        request: Request<proto::PromoteRequest>,
    ) -> Result<Response<proto::PromoteResponse>, Status> {
        workers::promote(self, request).await
    }
}
