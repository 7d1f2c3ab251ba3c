//! The dispatcher's gRPC service on a manager: a node's assignment stream and its status
//! reports. The node is always the one its certificate names.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::admin::read_record;
use crate::dispatcher::assignment::StatusReport;
use crate::dispatcher::batch::{self, Pending};
use crate::dispatcher::proto::{self, dispatcher_server::Dispatcher};
use crate::dispatcher::sets::{AllSets, NodeSet, increment};
use crate::service::{ManagerService, Need};
use cluster_state::{Command, Kind, Record, RecordKey};
use orchestrator::swarm::{NodeId, Platform, Resources};

/// Messages a session buffers before it waits for its node to read.
const STREAM_BUFFER: usize = 16;

/// The dispatcher of one manager.
pub struct DispatcherService {
    manager: Arc<ManagerService>,
    sets: watch::Receiver<Arc<AllSets>>,
    reports: mpsc::Sender<Pending>,
    stop: watch::Receiver<bool>,
}

impl DispatcherService {
    /// A dispatcher over `manager`, serving the sets the hub publishes in `sets`, sending
    /// reports to the batcher on `reports`; its streams end when `stop` turns true.
    pub(crate) fn new(
        manager: Arc<ManagerService>,
        sets: watch::Receiver<Arc<AllSets>>,
        reports: mpsc::Sender<Pending>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        DispatcherService {
            manager,
            sets,
            reports,
            stop,
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
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
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

/// The first message of a session: the node's whole set.
fn complete(set: &NodeSet) -> proto::AssignmentsMessage {
    proto::AssignmentsMessage {
        kind: proto::MessageKind::Complete as i32,
        sequence: 1,
        applies_to: 0,
        updated: set.values().map(|a| a.to_proto()).collect(),
        removed: Vec::new(),
    }
}

/// Streams `node`'s set into `tx`: complete, then an increment per change, until the node
/// goes away, the hub stops, or the manager stops.
async fn session(
    node: NodeId,
    mut sets: watch::Receiver<Arc<AllSets>>,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::Sender<Result<proto::AssignmentsMessage, Status>>,
) {
    let mut sent: NodeSet = sets
        .borrow_and_update()
        .get(&node)
        .cloned()
        .unwrap_or_default();
    if tx.send(Ok(complete(&sent))).await.is_err() {
        return;
    }
    let mut sequence = 1;
    loop {
        tokio::select! {
            changed = sets.changed() => if changed.is_err() { return },
            _ = stop.wait_for(|s| *s) => return,
            () = tx.closed() => return,
        }
        let next: NodeSet = sets
            .borrow_and_update()
            .get(&node)
            .cloned()
            .unwrap_or_default();
        let change = increment(&sent, &next);
        if change.is_empty() {
            continue;
        }
        let message = proto::AssignmentsMessage {
            kind: proto::MessageKind::Incremental as i32,
            sequence: sequence + 1,
            applies_to: sequence,
            updated: change.updated.iter().map(|a| a.to_proto()).collect(),
            removed: change.removed.iter().map(|t| t.to_string()).collect(),
        };
        if tx.send(Ok(message)).await.is_err() {
            return;
        }
        sequence += 1;
        sent = next;
    }
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
        let (platform, resources) = description(request.get_ref());
        tokio::spawn(describe_node(
            self.manager.clone(),
            node.clone(),
            platform,
            resources,
        ));
        tracing::info!(%node, "assignment session opened");
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        tokio::spawn(session(node, self.sets.clone(), self.stop.clone(), tx));
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
}
