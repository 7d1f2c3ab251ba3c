//! The dispatcher's gRPC service on a manager: a node's assignment stream and its status
//! reports. The node is always the one its certificate names.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::admin::read_record;
use crate::dispatcher::assignment::StatusReport;
use crate::dispatcher::batch::{self, Pending};
use crate::dispatcher::proto::{self, dispatcher_server::Dispatcher};
use crate::dispatcher::hub::{AllAttached, AllIngress};
use crate::dispatcher::networks::{NodeAttachments, NodeIngress};
use crate::dispatcher::sets::{AllSets, Increment, NodeSet, increment};
use crate::service::{ManagerService, Need};
use cluster_state::{Command, Kind, Record, RecordKey};
use orchestrator::swarm::{NodeId, Platform, Resources};

/// Messages a session buffers before it waits for its node to read.
const STREAM_BUFFER: usize = 16;
/// A session with no change sends an empty increment this often, so that the node can tell
/// a quiet manager from a lost one.
pub(crate) const SESSION_BEAT: Duration = Duration::from_secs(2);
/// A session ends when its manager has followed no leader with a quorum this long.
pub(crate) const LEADERLESS_GRACE: Duration = Duration::from_secs(3);

/// What the hub publishes: every node's set, end of the routing mesh and standalone
/// containers on overlays.
pub(crate) type Published = (
    watch::Receiver<Arc<AllSets>>,
    watch::Receiver<Arc<AllIngress>>,
    watch::Receiver<Arc<AllAttached>>,
);

/// The dispatcher of one manager.
pub struct DispatcherService {
    manager: Arc<ManagerService>,
    sets: watch::Receiver<Arc<AllSets>>,
    ingress: watch::Receiver<Arc<AllIngress>>,
    attached: watch::Receiver<Arc<AllAttached>>,
    reports: mpsc::Sender<Pending>,
    stop: watch::Receiver<bool>,
    led: watch::Receiver<bool>,
}

impl DispatcherService {
    /// A dispatcher over `manager`, serving the sets (and the nodes' ends of the routing
    /// mesh, their standalone containers on overlays) the hub publishes in `sets`, sending
    /// reports to the batcher on `reports`; its streams end when `stop` turns true, or when
    /// `led` (this manager follows a leader with a quorum) stays false too long.
    pub(crate) fn new(
        manager: Arc<ManagerService>,
        (sets, ingress, attached): Published,
        reports: mpsc::Sender<Pending>,
        stop: watch::Receiver<bool>,
        led: watch::Receiver<bool>,
    ) -> Self {
        DispatcherService {
            manager,
            sets,
            ingress,
            attached,
            reports,
            stop,
            led,
        }
    }
}

/// The node's platform and resources as its session request gives them.
fn description(request: &proto::SessionRequest) -> (Platform, Resources) {
    (
        Platform {
            os: request.os.clone(),
            arch: request.arch.clone(),
        },
        Resources {
            nano_cpus: request.nano_cpus,
            memory_bytes: request.memory_bytes,
        },
    )
}

/// Attempts at recording a node's description (its record may be missing from a manager
/// that just joined, or change under the write).
const DESCRIBE_ATTEMPTS: u32 = 20;

/// Writes the node's platform and resources to its record when they differ from it,
/// retrying for a while; gives up quietly (the next session tries again).
async fn describe_node(
    manager: Arc<ManagerService>,
    node: NodeId,
    platform: Platform,
    resources: Resources,
) {
    for _ in 0..DESCRIBE_ATTEMPTS {
        match describe_once(&manager, &node, &platform, resources).await {
            Ok(()) => return,
            Err(status) => {
                tracing::debug!(%node, cause = %status.message(), "cannot record the node's resources yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn describe_once(
    manager: &ManagerService,
    node: &NodeId,
    platform: &Platform,
    resources: Resources,
) -> Result<(), Status> {
    let key = RecordKey::new(Kind::Node, node.as_str());
    let Some(Record::Node(record)) = read_record(manager, key).await? else {
        return Err(Status::not_found(format!("no record of node {node}")));
    };
    if record.platform == *platform && record.resources == resources {
        return Ok(());
    }
    let version = record.meta.version;
    let mut described = record;
    described.platform = platform.clone();
    described.resources = resources;
    let command = Command::Update {
        record: Record::Node(described),
        expected_version: version,
    };
    batch::write(manager, cluster_state::Batch::new(0, vec![command])).await?;
    tracing::info!(%node, "node platform and resources recorded");
    Ok(())
}

/// The node's end of the routing mesh on the wire (`null` for none).
fn ingress_bytes(ingress: Option<&NodeIngress>) -> Vec<u8> {
    serde_json::to_vec(&ingress).expect("the routing mesh's types serialize")
}

/// The node's standalone containers on overlays on the wire (`[]` for none).
fn attached_bytes(attached: &NodeAttachments) -> Vec<u8> {
    serde_json::to_vec(attached).expect("the attachments' types serialize")
}

/// The first message of a session: the node's whole set, its end of the routing mesh and its
/// standalone containers on overlays.
fn complete(
    set: &NodeSet,
    ingress: Option<&NodeIngress>,
    attached: &NodeAttachments,
) -> proto::AssignmentsMessage {
    proto::AssignmentsMessage {
        kind: proto::MessageKind::Complete as i32,
        sequence: 1,
        applies_to: 0,
        updated: set.values().map(|a| a.to_proto()).collect(),
        removed: Vec::new(),
        ingress: Some(ingress_bytes(ingress)),
        attachments: Some(attached_bytes(attached)),
    }
}

/// The watches a session follows.
struct Watches {
    sets: watch::Receiver<Arc<AllSets>>,
    ingress: watch::Receiver<Arc<AllIngress>>,
    attached: watch::Receiver<Arc<AllAttached>>,
    stop: watch::Receiver<bool>,
    led: watch::Receiver<bool>,
}

/// What woke a session up.
enum Wake {
    Changed,
    Beat,
    End,
}

/// Resolves once `led` has stayed false for [`LEADERLESS_GRACE`].
async fn leaderless(led: &mut watch::Receiver<bool>) {
    loop {
        if led.wait_for(|l| !*l).await.is_err() {
            return;
        }
        let regained = tokio::time::timeout(LEADERLESS_GRACE, led.wait_for(|l| *l)).await;
        match regained {
            Err(_) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// Streams `node`'s set into `tx`: complete, then an increment per change (an empty one
/// every [`SESSION_BEAT`] when nothing changes), until the node goes away, the hub stops,
/// this manager stops or loses its leader.
async fn session(
    node: NodeId,
    mut watches: Watches,
    tx: mpsc::Sender<Result<proto::AssignmentsMessage, Status>>,
) {
    let mut sent: NodeSet = watches
        .sets
        .borrow_and_update()
        .get(&node)
        .cloned()
        .unwrap_or_default();
    let mut sent_ingress: Option<NodeIngress> =
        watches.ingress.borrow_and_update().get(&node).cloned();
    let mut sent_attached: NodeAttachments = watches
        .attached
        .borrow_and_update()
        .get(&node)
        .cloned()
        .unwrap_or_default();
    if tx
        .send(Ok(complete(&sent, sent_ingress.as_ref(), &sent_attached)))
        .await
        .is_err()
    {
        return;
    }
    let mut sequence = 1;
    loop {
        let wake = tokio::select! {
            changed = watches.sets.changed() => match changed {
                Ok(()) => Wake::Changed,
                Err(_) => Wake::End,
            },
            changed = watches.ingress.changed() => match changed {
                Ok(()) => Wake::Changed,
                Err(_) => Wake::End,
            },
            changed = watches.attached.changed() => match changed {
                Ok(()) => Wake::Changed,
                Err(_) => Wake::End,
            },
            () = tokio::time::sleep(SESSION_BEAT) => Wake::Beat,
            () = stopping(&mut watches.stop) => Wake::End,
            () = leaderless(&mut watches.led) => Wake::End,
            () = tx.closed() => Wake::End,
        };
        let (change, ingress, attachments) = match wake {
            Wake::End => {
                tracing::info!(%node, "assignment session closed");
                return;
            }
            Wake::Beat => (Increment::default(), None, None),
            Wake::Changed => {
                let next: NodeSet = watches
                    .sets
                    .borrow_and_update()
                    .get(&node)
                    .cloned()
                    .unwrap_or_default();
                let next_ingress = watches.ingress.borrow_and_update().get(&node).cloned();
                let next_attached = watches
                    .attached
                    .borrow_and_update()
                    .get(&node)
                    .cloned()
                    .unwrap_or_default();
                let change = increment(&sent, &next);
                let ingress = (next_ingress != sent_ingress).then(|| ingress_bytes(next_ingress.as_ref()));
                let attachments =
                    (next_attached != sent_attached).then(|| attached_bytes(&next_attached));
                if change.is_empty() && ingress.is_none() && attachments.is_none() {
                    continue;
                }
                sent = next;
                sent_ingress = next_ingress;
                sent_attached = next_attached;
                (change, ingress, attachments)
            }
        };
        let message = proto::AssignmentsMessage {
            kind: proto::MessageKind::Incremental as i32,
            sequence: sequence + 1,
            applies_to: sequence,
            updated: change.updated.iter().map(|a| a.to_proto()).collect(),
            removed: change.removed.iter().map(|t| t.to_string()).collect(),
            ingress,
            attachments,
        };
        if tx.send(Ok(message)).await.is_err() {
            return;
        }
        sequence += 1;
    }
}

async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[tonic::async_trait]
impl Dispatcher for DispatcherService {
    type AssignmentsStream = ReceiverStream<Result<proto::AssignmentsMessage, Status>>;

    async fn assignments(
        &self,
        request: Request<proto::SessionRequest>,
    ) -> Result<Response<Self::AssignmentsStream>, Status> {
        let identity = self.manager.authorize(&request, Need::Node).await?;
        let node = NodeId(identity.node_id);
        if !*self.led.borrow() {
            return Err(Status::unavailable(
                "this manager follows no leader with a quorum; keep the saved assignments",
            ));
        }
        let (platform, resources) = description(request.get_ref());
        tokio::spawn(describe_node(
            self.manager.clone(),
            node.clone(),
            platform,
            resources,
        ));
        tracing::info!(%node, "assignment session opened");
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let watches = Watches {
            sets: self.sets.clone(),
            ingress: self.ingress.clone(),
            attached: self.attached.clone(),
            stop: self.stop.clone(),
            led: self.led.clone(),
        };
        tokio::spawn(session(node, watches, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn report_status(
        &self,
        request: Request<proto::StatusBatch>,
    ) -> Result<Response<proto::StatusAck>, Status> {
        let identity = self.manager.authorize(&request, Need::Node).await?;
        let reports = request
            .into_inner()
            .updates
            .into_iter()
            .map(StatusReport::from_proto)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if reports.is_empty() {
            return Ok(Response::new(proto::StatusAck { applied: 0 }));
        }
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            node: NodeId(identity.node_id),
            reports,
            reply,
        };
        let gone = || Status::unavailable("the manager is stopping; retry on another");
        self.reports.send(pending).await.map_err(|_| gone())?;
        let applied = answer.await.map_err(|_| gone())??;
        Ok(Response::new(proto::StatusAck { applied }))
    }

    async fn attach_network(
        &self,
        request: Request<proto::AttachNetworkRequest>,
    ) -> Result<Response<proto::AttachNetworkResponse>, Status> {
        let identity = self.manager.authorize(&request, Need::Node).await?;
        let request = request.into_inner();
        let joined = crate::networks::attach::attach(
            &self.manager,
            &identity.node_id,
            crate::networks::attach::Asked {
                network: request.network,
                container: request.container,
                aliases: request.aliases,
            },
        )
        .await?;
        Ok(Response::new(proto::AttachNetworkResponse {
            attachment_id: joined.id,
            network_id: joined.network_id,
            network: joined.network,
            mac: crate::networks::alloc::mac_of(joined.ip),
            ip: joined.ip.to_string(),
        }))
    }

    async fn detach_network(
        &self,
        request: Request<proto::DetachNetworkRequest>,
    ) -> Result<Response<proto::DetachNetworkResponse>, Status> {
        let identity = self.manager.authorize(&request, Need::Node).await?;
        let id = request.into_inner().attachment_id;
        let removed = crate::networks::attach::detach(&self.manager, &identity.node_id, &id).await?;
        Ok(Response::new(proto::DetachNetworkResponse { removed }))
    }
}
