//! The node's session with the managers: it opens the assignment stream on one manager
//! (a manager node asks its own manager first, a worker the managers it knows), keeps the
//! set it receives — on disk too — and hands it to the [`Runner`]; reports go back in
//! batches (at most every [`REPORT_INTERVAL`]) to the same manager.
//!
//! The loop is a small state machine, [`Link`]: connecting to the manager at a position of
//! the address list, or streaming from one with the sequence of the last set applied. A gap
//! in the sequence, a broken stream or a manager silent for six seconds (managers beat every
//! two) sends it back to connecting (to the next manager), and the next stream starts with a
//! complete set. A manager that follows no leader with a quorum ends its sessions and refuses
//! new ones; while no manager serves, the node keeps running the set it has — except the
//! tasks of services with `--stop-on-disconnect`, which it stops once it has heard from no
//! manager (no session opened, no message or beat) for that long ([`disconnect`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

use crate::dispatcher::proto::dispatcher_client::DispatcherClient;
use crate::dispatcher::proto::{self, MessageKind};
use crate::dispatcher::sets::{self, Increment, NodeSet};
use crate::dispatcher::{Assignment, StatusReport};
use crate::dispatcher::networks::{NodeAttachments, NodeIngress};
use crate::tasks::attached::{self, Attached};
use crate::tasks::overlays::Mesh;
use crate::pki::NodeIdentity;
use crate::state::{LocalState, cluster_dir};
use crate::tasks::disconnect;
use crate::tasks::engine::TaskEngine;
use crate::tasks::runner::Runner;
use crate::tasks::{describe, store};
use crate::{ManagerError, tls};
use orchestrator::swarm::{NodeId, TaskId};

/// How often pending reports are sent.
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_millis(100);
/// Reports sent in one call at most.
pub(crate) const REPORT_MAX: usize = 100;
/// Wait before the next manager is tried.
const RECONNECT: Duration = Duration::from_millis(500);
/// How long opening a stream may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the set is applied again when the agent could not be reached.
const REAPPLY: Duration = Duration::from_secs(1);
/// A stream silent this long (a manager beats every two seconds) is given up.
const SILENCE: Duration = Duration::from_secs(6);
/// Time allowed for a batch of reports to be committed.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which manager the node talks to.
enum Link {
    /// Trying the manager at this position of the address list.
    Connecting(usize),
    /// Receiving assignments from the manager at this position.
    Streaming {
        at: usize,
        stream: Box<tonic::Streaming<proto::AssignmentsMessage>>,
        sequence: u64,
    },
}

/// The managers this node may ask, in order: its own manager first when it is one.
pub(crate) fn managers(data_root: &Path) -> Result<(Vec<String>, NodeIdentity), ManagerError> {
    let state = LocalState::load(data_root)?;
    let mut list = Vec::new();
    if state.raft_id.is_some() {
        list.push(state.advertise_addr.clone());
    }
    for addr in state.peers.values() {
        if !list.contains(addr) && *addr != state.advertise_addr {
            list.push(addr.clone());
        }
    }
    Ok((list, NodeIdentity::load(&cluster_dir(data_root))?))
}

pub(crate) fn client(addr: &str, identity: &NodeIdentity) -> Result<DispatcherClient<Channel>, ManagerError> {
    Ok(DispatcherClient::new(tls::channel(
        addr,
        tls::client_config(identity)?,
        true,
    )?))
}

/// A message decoded: the set it gives (complete) or changes (increment).
enum Received {
    Complete(NodeSet),
    Increment { applies_to: u64, change: Increment },
}

/// The node's standalone containers on overlays a message carries, if it carries them (a
/// complete set from a manager that sends none: none).
fn decode_attached(message: &proto::AssignmentsMessage) -> Result<Option<Attached>, String> {
    let Some(bytes) = &message.attachments else {
        let complete = message.kind == MessageKind::Complete as i32;
        return Ok(complete.then(|| Attached::Known(Vec::new())));
    };
    let list: NodeAttachments = serde_json::from_slice(bytes)
        .map_err(|e| format!("bad attachments in the assignments: {e}"))?;
    Ok(Some(Attached::Known(list)))
}

/// The node's end of the routing mesh a message carries, if it carries one.
fn decode_mesh(message: &proto::AssignmentsMessage) -> Result<Option<Mesh>, String> {
    let Some(bytes) = &message.ingress else {
        return Ok(None);
    };
    let ingress: Option<NodeIngress> = serde_json::from_slice(bytes)
        .map_err(|e| format!("bad routing mesh in the assignments: {e}"))?;
    Ok(Some(Mesh::Known(ingress.map(Box::new))))
}

fn decode(message: proto::AssignmentsMessage, node: &NodeId) -> Result<(u64, Received), String> {
    let updated = message
        .updated
        .into_iter()
        .map(|a| Assignment::from_proto(a, node))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let received = match MessageKind::from_i32(message.kind) {
        Some(MessageKind::Complete) => Received::Complete(
            updated
                .into_iter()
                .map(|a| (a.task_id.clone(), a))
                .collect(),
        ),
        Some(MessageKind::Incremental) => Received::Increment {
            applies_to: message.applies_to,
            change: Increment {
                updated,
                removed: message.removed.into_iter().map(TaskId).collect(),
            },
        },
        _ => return Err(format!("unknown message kind {}", message.kind)),
    };
    Ok((message.sequence, received))
}

/// Runs the node's tasks on `engine` for the node at `data_root` until `stop` turns true.
pub(crate) async fn run<E: TaskEngine>(
    data_root: PathBuf,
    engine: Arc<E>,
    mut stop: watch::Receiver<bool>,
) {
    let node = loop {
        match LocalState::load(&data_root) {
            Ok(state) => break NodeId(state.node_id),
            Err(err) => {
                tracing::warn!(cause = %err, "tasks wait for the node's cluster state");
                tokio::select! {
                    () = stopping(&mut stop) => return,
                    () = tokio::time::sleep(RECONNECT) => {}
                }
            }
        }
    };
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let (target_tx, target) = watch::channel(None);
    let reporter = tokio::spawn(report(data_root.clone(), reports_rx, target));
    let mut runner = Runner::new(engine, node.clone(), reports_tx);
    let (withdraw_tx, withdraw_rx) = mpsc::unbounded_channel();
    runner.withdraw_into(withdraw_tx);
    let withdrawer = tokio::spawn(attached::withdraw(data_root.clone(), withdraw_rx));
    let mut set = match store::load(&data_root) {
        Ok(set) => set,
        Err(err) => {
            tracing::warn!(cause = %err, "saved assignments unreadable; waiting for a manager");
            None
        }
    };
    let mut applied = match &set {
        Some(set) => runner.apply(set).await,
        None => true,
    };
    let mut link = Link::Connecting(0);
    // The last word from a manager (the start counts as one: a node daemon started while
    // no manager answers gives its tasks their whole `--stop-on-disconnect`).
    let mut contact = tokio::time::Instant::now();
    loop {
        link = match link {
            Link::Connecting(at) => {
                let _ = target_tx.send(None);
                let opened = tokio::select! {
                    () = stopping(&mut stop) => break,
                    opened = open(&data_root, at) => opened,
                    () = sleep_until(wake(set.as_ref(), contact)) => {
                        cut_off(&runner, set.as_ref(), contact);
                        link = Link::Connecting(at);
                        continue;
                    }
                };
                match opened {
                    Ok((at, stream)) => {
                        contact = tokio::time::Instant::now();
                        let _ = target_tx.send(Some(at));
                        Link::Streaming {
                            at,
                            stream: Box::new(stream),
                            sequence: 0,
                        }
                    }
                    Err(err) => {
                        tracing::debug!(cause = %err, "no dispatcher session");
                        tokio::select! {
                            () = stopping(&mut stop) => break,
                            () = tokio::time::sleep(RECONNECT) => {}
                            () = sleep_until(wake(set.as_ref(), contact)) => {
                                cut_off(&runner, set.as_ref(), contact);
                            }
                        }
                        Link::Connecting(at + 1)
                    }
                }
            }
            Link::Streaming {
                at,
                mut stream,
                sequence,
            } => {
                let message = tokio::select! {
                    () = stopping(&mut stop) => None,
                    message = tokio::time::timeout(SILENCE, stream.message()) => Some(message),
                    () = tokio::time::sleep(REAPPLY), if !applied => {
                        if let Some(set) = &set {
                            applied = runner.apply(set).await;
                        }
                        link = Link::Streaming { at, stream, sequence };
                        continue;
                    }
                    () = sleep_until(wake(set.as_ref(), contact)) => {
                        cut_off(&runner, set.as_ref(), contact);
                        link = Link::Streaming { at, stream, sequence };
                        continue;
                    }
                };
                let Some(message) = message else { break };
                let message = match message {
                    Ok(Ok(Some(message))) => {
                        contact = tokio::time::Instant::now();
                        message
                    }
                    Err(_) => {
                        tracing::info!("assignment stream silent; reconnecting");
                        link = Link::Connecting(at + 1);
                        continue;
                    }
                    Ok(Ok(None) | Err(_)) => {
                        tracing::info!("assignment stream ended; reconnecting");
                        link = Link::Connecting(at + 1);
                        continue;
                    }
                };
                let decoded = decode_mesh(&message).and_then(|mesh| {
                    let standalone = decode_attached(&message)?;
                    Ok(((mesh, standalone), decode(message, &node)?))
                });
                let ((mesh, standalone), (next, change)) = match decoded {
                    Ok(decoded) => decoded,
                    Err(err) => {
                        tracing::warn!(cause = %err, "bad assignments message; reconnecting");
                        link = Link::Connecting(at + 1);
                        continue;
                    }
                };
                let new_set = match (change, &set) {
                    (Received::Complete(full), _) => full,
                    (Received::Increment { applies_to, change }, Some(current))
                        if applies_to == sequence && sequence != 0 =>
                    {
                        let mut updated = current.clone();
                        sets::apply(&mut updated, change);
                        updated
                    }
                    _ => {
                        tracing::info!(
                            sequence,
                            "assignments out of sequence; asking for the complete set"
                        );
                        link = Link::Connecting(at);
                        continue;
                    }
                };
                let mesh_changed = mesh.is_some_and(|m| runner.set_mesh(m));
                let attached_changed = standalone.is_some_and(|a| runner.set_attached(a));
                // A beat (an empty increment) changes nothing.
                if set.as_ref() == Some(&new_set) && !mesh_changed && !attached_changed {
                    link = Link::Streaming {
                        at,
                        stream,
                        sequence: next,
                    };
                    continue;
                }
                if let Err(err) = store::save(&data_root, &new_set) {
                    tracing::warn!(cause = %err, "cannot save the assignments");
                }
                applied = runner.apply(&new_set).await;
                set = Some(new_set);
                Link::Streaming {
                    at,
                    stream,
                    sequence: next,
                }
            }
        };
    }
    reporter.abort();
    let _ = reporter.await;
    withdrawer.abort();
    let _ = withdrawer.await;
}

/// When the next task of `set` is due to stop for want of a manager, the last word from one
/// having come at `contact`.
fn wake(set: Option<&NodeSet>, contact: tokio::time::Instant) -> Option<tokio::time::Instant> {
    let after = disconnect::next_due(set?, contact.elapsed())?;
    Some(contact + after)
}

/// Sleeps until `at`; forever when there is none.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Stops the tasks of `set` that are due to, the last word from a manager having come at
/// `contact`.
fn cut_off<E: TaskEngine>(
    runner: &Runner<E>,
    set: Option<&NodeSet>,
    contact: tokio::time::Instant,
) {
    if let Some(set) = set {
        runner.cut_off(&disconnect::due(set, contact.elapsed()));
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Opens the assignment stream on the manager at position `at` of the list (wrapping).
async fn open(
    data_root: &Path,
    at: usize,
) -> Result<(usize, tonic::Streaming<proto::AssignmentsMessage>), ManagerError> {
    let (list, identity) = managers(data_root)?;
    if list.is_empty() {
        return Err(ManagerError::State("no manager address known".into()));
    }
    let at = at % list.len();
    let mut client = client(&list[at], &identity)?;
    let mut request = tonic::Request::new(describe::this_node());
    request.set_timeout(OPEN_TIMEOUT);
    let opened = tokio::time::timeout(OPEN_TIMEOUT, client.assignments(request)).await;
    match opened {
        Ok(Ok(response)) => {
            tracing::info!(manager = %list[at], "assignment session opened");
            Ok((at, response.into_inner()))
        }
        Ok(Err(status)) => Err(ManagerError::Remote(status.message().to_owned())),
        Err(_) => Err(ManagerError::Unreachable {
            addr: list[at].clone(),
            message: "no answer".into(),
        }),
    }
}

/// Sends reports to the manager the session streams from, coalescing the reports of one
/// task (only its latest counts) and keeping them until a manager took them.
async fn report(
    data_root: PathBuf,
    mut rx: mpsc::UnboundedReceiver<StatusReport>,
    target: watch::Receiver<Option<usize>>,
) {
    let mut pending: BTreeMap<TaskId, StatusReport> = BTreeMap::new();
    let mut clients: BTreeMap<String, DispatcherClient<Channel>> = BTreeMap::new();
    loop {
        tokio::time::sleep(REPORT_INTERVAL).await;
        loop {
            match rx.try_recv() {
                Ok(r) => {
                    pending.insert(r.task_id.clone(), r);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) if pending.is_empty() => return,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        let Some(at) = *target.borrow() else { continue };
        if pending.is_empty() {
            continue;
        }
        let Ok((list, identity)) = managers(&data_root) else {
            continue;
        };
        let Some(addr) = list.get(at % list.len().max(1)).cloned() else {
            continue;
        };
        let mut client = match clients.get(&addr) {
            Some(c) => c.clone(),
            None => match client(&addr, &identity) {
                Ok(c) => {
                    clients.insert(addr.clone(), c.clone());
                    c
                }
                Err(_) => continue,
            },
        };
        let sent: Vec<StatusReport> = pending.values().take(REPORT_MAX).cloned().collect();
        let batch = proto::StatusBatch {
            updates: sent.iter().filter_map(StatusReport::to_proto).collect(),
        };
        let mut request = tonic::Request::new(batch);
        request.set_timeout(REPORT_TIMEOUT);
        match client.report_status(request).await {
            Ok(_) => {
                for r in sent {
                    if pending.get(&r.task_id) == Some(&r) {
                        pending.remove(&r.task_id);
                    }
                }
            }
            Err(status) => {
                tracing::debug!(manager = %addr, cause = %status.message(), "reports not taken; keeping them");
                clients.remove(&addr);
            }
        }
    }
}
