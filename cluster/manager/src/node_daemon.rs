//! The daemon of a cluster node (`bosun manager`, started in the background by `cluster init`
//! and `cluster join`): it runs the role the node's local state names — the manager (raft and
//! the API) or the worker (heartbeats) — and switches roles in place: a promoted worker starts
//! the manager; a demoted manager takes a worker certificate and carries on as a worker.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::daemon::serve;
use super::driver::Exit;
use super::state::{LocalState, cluster_dir};
use super::worker::{self, WorkerExit, drop_raft_storage};
use super::{ManagerClient, ManagerError};
use crate::pki::NodeIdentity;
use cluster_raft::DB_FILE;
use cluster_raft::RaftStorage;
use cluster_state::{Kind, NodeRole, Record};

/// Withdraws the routing mesh's ports from the agent at `agent_socket` (the node left the
/// cluster, its daemon stopped): its nftables rules go, so no published port answers on the
/// node any more. Returns how many overlays published some.
pub async fn withdraw_mesh(agent_socket: &Path) -> Result<usize, ManagerError> {
    let engine = crate::tasks::engine::AgentEngine::new(agent_socket.to_path_buf());
    crate::tasks::overlays::withdraw_mesh(&engine)
        .await
        .map_err(|e| ManagerError::Remote(format!("cannot withdraw the routing mesh: {e}")))
}

/// How long a demoted manager waits for its record to say worker before it gives up.
const DEMOTION_WAIT: Duration = Duration::from_secs(30);

/// How the daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeExit {
    /// Asked to stop.
    Stopped,
    /// The node was removed from the cluster.
    Removed,
}

/// Runs the node at `data_root` until `shutdown` resolves or the node is removed, switching
/// between the worker and manager roles as the cluster decides. Whatever its role, the node
/// runs the tasks assigned to it on the agent listening on `agent_socket` (see
/// [`crate::tasks`]); they keep running when the daemon stops. It also serves the managers'
/// log subscriptions from that agent ([`crate::logs`]).
pub async fn run_node(
    data_root: &Path,
    agent_socket: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<NodeExit, ManagerError> {
    let (stop_tx, stop) = watch::channel(false);
    let signal_stop = stop_tx.clone();
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = signal_stop.send(true);
    });
    let tasks = tokio::spawn(crate::tasks::run(
        data_root.to_path_buf(),
        agent_socket.clone(),
        stop.clone(),
    ));
    let logs = tokio::spawn(crate::logs::node::run(
        data_root.to_path_buf(),
        agent_socket.clone(),
        stop.clone(),
    ));
    let result = roles(data_root, &agent_socket, stop).await;
    let _ = stop_tx.send(true);
    let _ = tasks.await;
    let _ = logs.await;
    signal.abort();
    result
}

/// Runs only the worker role of the node at `data_root` — heartbeats and certificate
/// renewal, no tasks and no logs — until `stop` turns true or the node is removed. A node
/// marked for promotion ends it with an error: there is no manager here to start. The fleet
/// simulator runs its nodes' worker role this way, their tasks on
/// its own runtime.
pub async fn run_worker(
    data_root: &Path,
    stop: watch::Receiver<bool>,
) -> Result<NodeExit, ManagerError> {
    match worker::run(data_root, stop).await? {
        WorkerExit::Removed => Ok(NodeExit::Removed),
        WorkerExit::Shutdown => Ok(NodeExit::Stopped),
        WorkerExit::Promoted => Err(ManagerError::State(
            "the node was promoted, but this daemon runs only the worker role".into(),
        )),
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn roles(
    data_root: &Path,
    agent_socket: &Path,
    stop: watch::Receiver<bool>,
) -> Result<NodeExit, ManagerError> {
    loop {
        let state = LocalState::load(data_root)?;
        if state.raft_id.is_none() {
            match worker::run(data_root, stop.clone()).await? {
                WorkerExit::Promoted => continue,
                WorkerExit::Removed => return Ok(NodeExit::Removed),
                WorkerExit::Shutdown => return Ok(NodeExit::Stopped),
            }
        }
        let listener = bind(&state.listen_addr).await?;
        match serve(data_root, listener, agent_socket, stopped(stop.clone())).await? {
            Exit::Removed if !*stop.borrow() => {
                if !become_worker(data_root, &stop).await? {
                    return Ok(NodeExit::Removed);
                }
            }
            Exit::Removed => return Ok(NodeExit::Removed),
            _ => return Ok(NodeExit::Stopped),
        }
    }
}

/// Binds the manager API, retrying briefly: a role switch may race the old socket's close.
async fn bind(addr: &str) -> Result<TcpListener, ManagerError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(%addr, cause = %err, "cannot listen yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => {
                return Err(ManagerError::State(format!(
                    "cannot listen on {addr}: {err}"
                )));
            }
        }
    }
}

/// The managers' addresses by raft id as this node's raft store last knew them (over the
/// ones it learned at join or promotion), its own excluded.
fn manager_addrs(data_root: &Path, state: &LocalState) -> BTreeMap<u64, String> {
    let mut addrs = state.peers.clone();
    let db = cluster_dir(data_root).join(DB_FILE);
    if let Ok(store) = RaftStorage::open(&db).and_then(|s| s.load_store()) {
        addrs.extend(store.iter_kind(Kind::Node).filter_map(|r| match r {
            Record::Node(node) => node.raft_id.map(|id| (id, node.addr.clone())),
            _ => None,
        }));
    }
    addrs.retain(|_, a| *a != state.advertise_addr);
    addrs
}

/// After this manager was removed from raft: if its node record stays (a demotion), renews
/// its certificate — the managers sign the role the record gives, a worker's once the
/// demotion committed — and turns the local state into a worker's. False when the node was
/// removed from the cluster (or no manager signed a worker certificate in time).
async fn become_worker(
    data_root: &Path,
    stop: &watch::Receiver<bool>,
) -> Result<bool, ManagerError> {
    let dir = cluster_dir(data_root);
    let mut state = LocalState::load(data_root)?;
    let addrs = manager_addrs(data_root, &state);
    let identity = NodeIdentity::load(&dir)?;
    let deadline = Instant::now() + DEMOTION_WAIT;
    while Instant::now() < deadline && !*stop.borrow() {
        for addr in addrs.values() {
            let renewed = async {
                let client = ManagerClient::new(addr, &identity)?;
                client.renew(&identity).await
            };
            match renewed.await {
                Ok(renewed) if renewed.identity()?.role == NodeRole::Worker => {
                    renewed.save(&dir)?;
                    drop_raft_storage(&dir)?;
                    state.role = NodeRole::Worker;
                    state.raft_id = None;
                    state.peers = addrs.clone();
                    state.save(data_root)?;
                    tracing::info!("demoted: carrying on as a worker");
                    return Ok(true);
                }
                // The demotion has not committed yet: the record still says manager.
                Ok(_) => break,
                Err(ManagerError::Removed(message)) => {
                    tracing::info!(%message, "removed from the cluster");
                    return Ok(false);
                }
                Err(err) => tracing::debug!(%addr, cause = %err, "cannot renew as a worker"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tracing::warn!("removed from the managers but no worker certificate was granted; stopping");
    Ok(false)
}
