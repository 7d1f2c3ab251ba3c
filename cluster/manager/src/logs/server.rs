//! The `Logs` gRPC service of a manager (`api/proto/logs.proto`): subscriptions from the CLI,
//! relayed to the other managers, announced to the listening nodes, and the nodes' publish
//! calls merged back into the CLI's stream.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::broker::{Active, Broker, Published, Route};
use super::proto::{self, logs_client::LogsClient, logs_server::Logs};
use super::select::{SelectError, node_names, node_serves, select};
use super::tracker::Tracker;
use crate::driver::Query;
use crate::service::{ManagerService, Need, status_of};
use crate::tls::PeerInfo;
use cluster_state::{Kind, Node, Record, Service, Task};

/// How long a node that held the tasks has to answer a subscription before it is given up.
pub const NODE_PATIENCE: Duration = Duration::from_secs(10);
/// A listening node with nothing announced hears an empty event this often, so that it can
/// tell a quiet manager from a lost one.
pub const LISTEN_BEAT: Duration = Duration::from_secs(2);
/// Wait before a relay to another manager is tried again.
const RELAY_RETRY: Duration = Duration::from_secs(1);
/// Messages a stream buffers before it waits for its reader.
const BUFFER: usize = 256;

/// The logs service of one manager.
pub struct LogsService {
    manager: Arc<ManagerService>,
    broker: Arc<Broker>,
    stop: watch::Receiver<bool>,
}

impl LogsService {
    /// The service over `manager`; its streams end when `stop` turns true.
    pub(crate) fn new(manager: Arc<ManagerService>, stop: watch::Receiver<bool>) -> Self {
        LogsService {
            manager,
            broker: Broker::new(),
            stop,
        }
    }
}

async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The services, tasks and nodes as this manager applied them (no quorum needed: logs are
/// read while the managers cannot write).
async fn contents(
    manager: &ManagerService,
) -> Result<(Vec<Service>, Vec<Task>, Vec<Node>), Status> {
    let (data, _) = manager
        .raft
        .local_read(Query::Kinds(vec![Kind::Node, Kind::Service, Kind::Task]))
        .await
        .map_err(status_of)?;
    let records: Vec<Record> = serde_json::from_slice(&data)
        .map_err(|e| Status::internal(format!("cannot decode records: {e}")))?;
    let (mut services, mut tasks, mut nodes) = (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        match record {
            Record::Service(s) => services.push(*s),
            Record::Task(t) => tasks.push(*t),
            Record::Node(n) => nodes.push(n),
            _ => {}
        }
    }
    Ok((services, tasks, nodes))
}

fn select_status(err: SelectError) -> Status {
    match err {
        SelectError::Empty => Status::invalid_argument(err.to_string()),
        SelectError::NotFound(_) => Status::not_found(err.to_string()),
        SelectError::Ambiguous { .. } => Status::failed_precondition(err.to_string()),
    }
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    crate::pki::secure_random(&mut bytes);
    hex::encode(bytes)
}

/// This manager's advertised address and the other managers'.
async fn addresses(manager: &ManagerService) -> Result<(String, Vec<String>), Status> {
    let view = manager.raft.status().await.map_err(status_of)?;
    let own = view
        .members
        .get(&view.status.id)
        .and_then(|n| n.as_ref())
        .map(|n| n.addr.clone())
        .ok_or_else(|| Status::unavailable("this manager does not know its own address yet"))?;
    let others = view
        .members
        .iter()
        .filter(|(id, _)| **id != view.status.id)
        .filter_map(|(_, n)| n.as_ref().map(|n| n.addr.clone()))
        .filter(|a| *a != own)
        .collect();
    Ok((own, others))
}

/// Hands `subscription` to the manager at `addr` for as long as this task lives, calling
/// again when the call breaks (the manager restarted).
async fn relay(manager: Arc<ManagerService>, addr: String, subscription: proto::Subscription) {
    loop {
        if let Ok(channel) = manager.channel(&addr) {
            let mut client = LogsClient::new(channel);
            match client.relay_subscription(subscription.clone()).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    while let Ok(Some(_)) = stream.message().await {}
                }
                Err(status) => {
                    tracing::debug!(%addr, cause = %status.message(), "cannot relay a log subscription");
                }
            }
        }
        tokio::time::sleep(RELAY_RETRY).await;
    }
}

/// What keeps a subscription alive while its CLI stream lasts; dropping it ends it
/// everywhere.
struct Held {
    _route: Route,
    _active: Active,
    relays: Vec<JoinHandle<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        for relay in &self.relays {
            relay.abort();
        }
    }
}

type CliSender = mpsc::Sender<Result<proto::SubscribeLogsMessage, Status>>;

fn named(mut lines: Vec<proto::LogLine>, names: &BTreeMap<String, String>) -> Vec<proto::LogLine> {
    for line in &mut lines {
        line.node_name = names
            .get(&line.node_id)
            .cloned()
            .unwrap_or_else(|| line.node_id.clone());
    }
    lines
}

fn node_error(node: &str, names: &BTreeMap<String, String>, message: String) -> proto::NodeError {
    proto::NodeError {
        node_id: node.to_owned(),
        node_name: names.get(node).cloned().unwrap_or_else(|| node.to_owned()),
        message,
    }
}

/// Forwards what the nodes publish to the CLI until the subscription is complete, the CLI
/// goes away or the manager stops.
async fn pump(
    mut tracker: Tracker,
    names: BTreeMap<String, String>,
    mut published: mpsc::Receiver<Published>,
    tx: CliSender,
    held: Held,
    mut stop: watch::Receiver<bool>,
) {
    while !tracker.complete() {
        let deadline = tracker.deadline();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let message = tokio::select! {
            got = published.recv() => match got {
                Some(got) => got,
                None => break,
            },
            () = sleep => {
                let errors: Vec<proto::NodeError> = tracker
                    .expire(Instant::now())
                    .into_iter()
                    .map(|node| node_error(&node, &names, format!("no answer within {}s", NODE_PATIENCE.as_secs())))
                    .collect();
                let message = proto::SubscribeLogsMessage { lines: Vec::new(), errors };
                if tx.send(Ok(message)).await.is_err() {
                    break;
                }
                continue;
            }
            () = tx.closed() => break,
            () = stopping(&mut stop) => break,
        };
        let message = match message {
            Published::Answered(node, lines) => {
                tracker.answered(&node);
                proto::SubscribeLogsMessage {
                    lines: named(lines, &names),
                    errors: Vec::new(),
                }
            }
            Published::Lines(lines) => proto::SubscribeLogsMessage {
                lines: named(lines, &names),
                errors: Vec::new(),
            },
            Published::Ended(node) => {
                tracker.ended(&node);
                continue;
            }
            Published::Failed(node, cause) => {
                tracker.ended(&node);
                proto::SubscribeLogsMessage {
                    lines: Vec::new(),
                    errors: vec![node_error(&node, &names, cause)],
                }
            }
        };
        if (!message.lines.is_empty() || !message.errors.is_empty())
            && tx.send(Ok(message)).await.is_err()
        {
            break;
        }
    }
    drop(held);
}

/// The node's lines stamped with the node the certificate names.
fn stamped(mut lines: Vec<proto::LogLine>, node: &str) -> Vec<proto::LogLine> {
    for line in &mut lines {
        node.clone_into(&mut line.node_id);
        line.node_name.clear();
    }
    lines
}

#[tonic::async_trait]
impl Logs for LogsService {
    type SubscribeLogsStream = ReceiverStream<Result<proto::SubscribeLogsMessage, Status>>;

    async fn subscribe_logs(
        &self,
        request: Request<proto::SubscribeLogsRequest>,
    ) -> Result<Response<Self::SubscribeLogsStream>, Status> {
        self.manager.authorize(&request, Need::Manager).await?;
        let request = request.into_inner();
        let (services, tasks, nodes) = contents(&self.manager).await?;
        let selection = select(&request.target, &services, &tasks).map_err(select_status)?;
        let (own, others) = addresses(&self.manager).await?;
        let subscription = proto::Subscription {
            id: new_id(),
            manager_addr: own,
            service_id: selection.service_id.clone(),
            task_ids: selection.task_ids.clone(),
            // With follow, any node may come to hold a task.
            node_ids: if request.follow {
                Vec::new()
            } else {
                selection.nodes.iter().cloned().collect()
            },
            follow: request.follow,
            tail: request.tail,
            since: request.since,
        };
        tracing::info!(subscription = %subscription.id, service = %selection.service_id, follow = request.follow, "log subscription opened");
        let (published_tx, published) = mpsc::channel(BUFFER);
        let route = self.broker.route(&subscription.id, published_tx);
        let active = self.broker.open(subscription.clone());
        let relays = others
            .into_iter()
            .map(|addr| tokio::spawn(relay(self.manager.clone(), addr, subscription.clone())))
            .collect();
        let held = Held {
            _route: route,
            _active: active,
            relays,
        };
        let tracker = Tracker::new(
            selection.nodes,
            request.follow,
            Instant::now(),
            NODE_PATIENCE,
        );
        let (tx, rx) = mpsc::channel(BUFFER);
        tokio::spawn(pump(
            tracker,
            node_names(&nodes),
            published,
            tx,
            held,
            self.stop.clone(),
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type RelaySubscriptionStream = ReceiverStream<Result<proto::RelayAck, Status>>;

    async fn relay_subscription(
        &self,
        request: Request<proto::Subscription>,
    ) -> Result<Response<Self::RelaySubscriptionStream>, Status> {
        self.manager.authorize(&request, Need::Manager).await?;
        let active = self.broker.open(request.into_inner());
        let (tx, rx) = mpsc::channel(1);
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tx.closed() => {}
                () = stopping(&mut stop) => {}
            }
            drop(active);
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type ListenSubscriptionsStream = ReceiverStream<Result<proto::SubscriptionEvent, Status>>;

    async fn listen_subscriptions(
        &self,
        request: Request<proto::ListenRequest>,
    ) -> Result<Response<Self::ListenSubscriptionsStream>, Status> {
        let node = self.manager.authorize(&request, Need::Node).await?.node_id;
        let (active, mut events) = self.broker.listen();
        let (tx, rx) = mpsc::channel(BUFFER);
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            let serves = |s: &proto::Subscription| node_serves(&s.node_ids, &node);
            for subscription in active.into_iter().filter(|s| serves(s)) {
                let event = proto::SubscriptionEvent {
                    subscription: Some(subscription),
                    closed: false,
                };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            loop {
                let event = tokio::select! {
                    got = events.recv() => match got {
                        Ok(event) => event,
                        // Fallen behind or closed: the node listens again and gets the
                        // active set afresh.
                        Err(_) => return,
                    },
                    () = tokio::time::sleep(LISTEN_BEAT) => proto::SubscriptionEvent::default(),
                    () = tx.closed() => return,
                    () = stopping(&mut stop) => return,
                };
                if event.subscription.as_ref().is_some_and(|s| !serves(s)) {
                    continue;
                }
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn publish_logs(
        &self,
        request: Request<tonic::Streaming<proto::PublishLogsMessage>>,
    ) -> Result<Response<proto::PublishLogsAck>, Status> {
        // The caller's certificate, checked on a request of its own: the inbound stream
        // cannot be held across the check's awaits (it is not `Sync`).
        let mut probe = Request::new(());
        if let Some(peer) = request.extensions().get::<PeerInfo>() {
            probe.extensions_mut().insert(peer.clone());
        }
        let mut inbound = request.into_inner();
        let node = self.manager.authorize(&probe, Need::Node).await?.node_id;
        let Some(first) = inbound.message().await? else {
            return Ok(Response::new(proto::PublishLogsAck {}));
        };
        let id = first.subscription_id;
        let Some(destination) = self.broker.destination(&id) else {
            return Err(Status::not_found(format!(
                "no log subscription {id} on this manager"
            )));
        };
        let answered = Published::Answered(node.clone(), stamped(first.lines, &node));
        if destination.send(answered).await.is_err() {
            return Ok(Response::new(proto::PublishLogsAck {}));
        }
        let mut stop = self.stop.clone();
        loop {
            let next = tokio::select! {
                next = inbound.message() => next,
                () = destination.closed() => break,
                () = stopping(&mut stop) => break,
            };
            let published = match next {
                Ok(Some(message)) => Published::Lines(stamped(message.lines, &node)),
                Ok(None) => Published::Ended(node.clone()),
                Err(status) => Published::Failed(
                    node.clone(),
                    format!("log stream broken: {}", status.message()),
                ),
            };
            let last = !matches!(published, Published::Lines(_));
            if destination.send(published).await.is_err() || last {
                break;
            }
        }
        Ok(Response::new(proto::PublishLogsAck {}))
    }
}
