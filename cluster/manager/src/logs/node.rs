//! The node's side of service logs: it listens for subscriptions on a manager (its own
//! manager first, as for its assignments), and for each one reads its agent's logs of the
//! matching task containers and publishes them to the manager the subscription names. With
//! follow it looks for new task containers every [`POLL`] (a scale up, a replacement), each
//! container's part ending when the container exits; the whole ends when the subscription is
//! closed or its manager stops taking the lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use api::AgentClient;
use api::agent::LogsRequest;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_stream::wrappers::ReceiverStream;

use super::proto::{self, logs_client::LogsClient};
use super::select::{TaskContainer, containers_to_read};
use crate::pki::NodeIdentity;
use crate::state::LocalState;
use crate::tasks::session::managers;
use crate::tasks::translate::{SERVICE_ID, SERVICE_NAME, TASK_ID, TASK_NAME};
use crate::{ManagerError, tls};

/// How often a followed subscription looks for new task containers.
pub const POLL: Duration = Duration::from_secs(1);
/// Wait before the next manager is tried.
const RECONNECT: Duration = Duration::from_millis(500);
/// How long opening the listen stream may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// A listen stream silent this long (managers beat every two seconds) is given up.
const SILENCE: Duration = Duration::from_secs(6);
/// Subscriptions remembered (served or being served) before the finished ones are forgotten.
const REMEMBERED: usize = 256;
/// Lines buffered toward the manager before the readers wait.
const BUFFER: usize = 256;

/// Serves the log subscriptions of the node at `data_root`, reading the agent listening on
/// `agent_socket`, until `stop` turns true.
pub async fn run(data_root: PathBuf, agent_socket: PathBuf, mut stop: watch::Receiver<bool>) {
    let mut serving: BTreeMap<String, (JoinHandle<()>, watch::Sender<bool>)> = BTreeMap::new();
    let mut at = 0usize;
    loop {
        let listened = tokio::select! {
            () = stopping(&mut stop) => break,
            listened = listen(&data_root, at) => listened,
        };
        let (mut stream, node, identity) = match listened {
            Ok(opened) => opened,
            Err(err) => {
                tracing::debug!(cause = %err, "no log subscription stream");
                at += 1;
                tokio::select! {
                    () = stopping(&mut stop) => break,
                    () = tokio::time::sleep(RECONNECT) => {}
                }
                continue;
            }
        };
        loop {
            let message = tokio::select! {
                () = stopping(&mut stop) => None,
                message = tokio::time::timeout(SILENCE, stream.message()) => Some(message),
            };
            let Some(message) = message else { break };
            let Ok(Ok(Some(event))) = message else {
                tracing::debug!("log subscription stream ended; listening again");
                at += 1;
                break;
            };
            // A finished subscription is remembered until it is closed, so that hearing of
            // it again (from another manager) does not publish its lines twice; the memory is
            // bounded for closings missed while no stream was open.
            if serving.len() > REMEMBERED {
                serving.retain(|_, (task, _)| !task.is_finished());
            }
            let Some(subscription) = event.subscription else {
                continue;
            };
            if event.closed {
                if let Some((_, cancel)) = serving.remove(&subscription.id) {
                    let _ = cancel.send(true);
                }
                continue;
            }
            if serving.contains_key(&subscription.id) {
                continue;
            }
            let (cancel, cancelled) = watch::channel(false);
            let id = subscription.id.clone();
            let task = tokio::spawn(serve(
                subscription,
                identity.clone(),
                node.clone(),
                agent_socket.clone(),
                cancelled,
            ));
            serving.insert(id, (task, cancel));
        }
        if *stop.borrow() {
            break;
        }
    }
    for (_, (task, cancel)) in serving {
        let _ = cancel.send(true);
        task.abort();
    }
}

async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Opens the listen stream on the manager at position `at` of the node's list (wrapping).
async fn listen(
    data_root: &Path,
    at: usize,
) -> Result<
    (
        tonic::Streaming<proto::SubscriptionEvent>,
        String,
        NodeIdentity,
    ),
    ManagerError,
> {
    let node = LocalState::load(data_root)?.node_id;
    let (list, identity) = managers(data_root)?;
    if list.is_empty() {
        return Err(ManagerError::State("no manager address known".into()));
    }
    let addr = &list[at % list.len()];
    let channel = tls::channel(addr, tls::client_config(&identity)?, true)?;
    let mut client = LogsClient::new(channel);
    let opened = tokio::time::timeout(
        OPEN_TIMEOUT,
        client.listen_subscriptions(proto::ListenRequest {}),
    )
    .await;
    match opened {
        Ok(Ok(response)) => Ok((response.into_inner(), node, identity)),
        Ok(Err(status)) => Err(ManagerError::Remote(status.message().to_owned())),
        Err(_) => Err(ManagerError::Unreachable {
            addr: addr.clone(),
            message: "no answer".into(),
        }),
    }
}

/// The task containers of a service on the agent.
async fn task_containers(
    agent: &mut AgentClient,
    service_id: &str,
) -> Result<Vec<TaskContainer>, api::ClientError> {
    let listed = agent
        .list(true, vec![format!("label={SERVICE_ID}={service_id}")])
        .await?;
    Ok(listed
        .into_iter()
        .filter_map(|s| {
            let label = |key: &str| s.labels.get(key).cloned();
            Some(TaskContainer {
                service_id: label(SERVICE_ID)?,
                service_name: label(SERVICE_NAME).unwrap_or_default(),
                task_id: label(TASK_ID)?,
                task_name: label(TASK_NAME).unwrap_or_default(),
                id: s.id,
            })
        })
        .collect())
}

/// Serves one subscription: publishes the lines of its task containers on this node to the
/// manager it names, until they are all read (follow: until cancelled or the manager stops
/// taking them).
async fn serve(
    subscription: proto::Subscription,
    identity: NodeIdentity,
    node: String,
    agent_socket: PathBuf,
    mut cancelled: watch::Receiver<bool>,
) {
    let channel = match tls::client_config(&identity)
        .and_then(|config| tls::channel(&subscription.manager_addr, config, true))
    {
        Ok(channel) => channel,
        Err(err) => {
            tracing::warn!(cause = %err, "cannot publish logs");
            return;
        }
    };
    let (tx, rx) = mpsc::channel(BUFFER);
    let first = proto::PublishLogsMessage {
        subscription_id: subscription.id.clone(),
        lines: Vec::new(),
    };
    if tx.send(first).await.is_err() {
        return;
    }
    let mut call = tokio::spawn(async move {
        LogsClient::new(channel)
            .publish_logs(ReceiverStream::new(rx))
            .await
    });
    let mut readers = JoinSet::new();
    match AgentClient::connect(&agent_socket).await {
        Ok(mut agent) => {
            let mut seen = BTreeSet::new();
            let mut tail = subscription.tail;
            loop {
                match task_containers(&mut agent, &subscription.service_id).await {
                    Ok(containers) => {
                        for c in containers_to_read(
                            &subscription.service_id,
                            &subscription.task_ids,
                            &containers,
                            &seen,
                        ) {
                            seen.insert(c.id.clone());
                            let request = LogsRequest {
                                container: c.id.clone(),
                                follow: subscription.follow,
                                tail,
                                stdout: true,
                                stderr: true,
                                since: subscription.since,
                                until: None,
                            };
                            readers.spawn(read(
                                agent.clone(),
                                request,
                                c.clone(),
                                node.clone(),
                                tx.clone(),
                            ));
                        }
                        // Containers that start later are read from their beginning.
                        tail = -1;
                    }
                    Err(err) => tracing::warn!(cause = %err, "cannot list task containers"),
                }
                if !subscription.follow {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = stopping(&mut cancelled) => break,
                    _ = &mut call => break,
                }
            }
        }
        Err(err) => tracing::warn!(cause = %err, "cannot read logs: the agent is not reachable"),
    }
    if subscription.follow {
        readers.abort_all();
        call.abort();
        return;
    }
    drop(tx);
    loop {
        tokio::select! {
            done = readers.join_next() => if done.is_none() { break },
            () = stopping(&mut cancelled) => {
                readers.abort_all();
                call.abort();
                return;
            }
        }
    }
    if let Ok(Err(status)) = call.await {
        tracing::debug!(cause = %status.message(), "logs not taken");
    }
}

/// Publishes the lines of one container as `request` reads them.
async fn read(
    mut agent: AgentClient,
    request: LogsRequest,
    container: TaskContainer,
    node: String,
    tx: mpsc::Sender<proto::PublishLogsMessage>,
) {
    let slot = container.slot();
    let mut stream = match agent.logs(request).await {
        Ok(stream) => stream,
        Err(err) => {
            tracing::debug!(container = %container.id, cause = %err, "cannot read the logs");
            return;
        }
    };
    while let Ok(Some(entry)) = stream.next().await {
        let line = proto::LogLine {
            task_id: container.task_id.clone(),
            service_id: container.service_id.clone(),
            service_name: container.service_name.clone(),
            slot,
            node_id: node.clone(),
            node_name: String::new(),
            stream: entry.stream,
            time: entry.time,
            line: entry.line,
        };
        let message = proto::PublishLogsMessage {
            subscription_id: String::new(),
            lines: vec![line],
        };
        if tx.send(message).await.is_err() {
            return;
        }
    }
}
