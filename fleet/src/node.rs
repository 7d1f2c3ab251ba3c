//! One simulated node: it joins the cluster with the worker token like `bosun cluster join`
//! (its own key, a certificate signed by the managers, its state under its own data root),
//! then runs the node daemon's worker role (heartbeats) and task session (assignment
//! stream, status reports) from `cluster-manager`, its tasks on a [`SimEngine`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cluster_manager::node_daemon::{NodeExit, run_worker};
use cluster_manager::{LocalState, ManagerClient, ManagerError, cluster_dir};
use cluster_state::NodeRole;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::FleetError;
use crate::engine::SimEngine;

/// The daemons of a node that is up.
#[derive(Debug)]
struct Running {
    stop: watch::Sender<bool>,
    worker: JoinHandle<Result<NodeExit, ManagerError>>,
    tasks: JoinHandle<()>,
}

/// A simulated node.
#[derive(Debug)]
pub struct SimNode {
    node_id: String,
    hostname: String,
    data_root: PathBuf,
    engine: Arc<SimEngine>,
    running: Option<Running>,
}

impl SimNode {
    /// Joins the cluster through the first of `managers` that takes the join, with the
    /// worker `token`, as `hostname` advertising `advertise_addr`; the node's identity and
    /// state go under `data_root`. The node is not started.
    pub async fn join(
        managers: &[String],
        token: &str,
        hostname: &str,
        advertise_addr: &str,
        data_root: &Path,
        start_delay: Duration,
    ) -> Result<SimNode, FleetError> {
        let mut failures = Vec::new();
        for addr in managers {
            match ManagerClient::join(addr, token, hostname, advertise_addr).await {
                Ok(joined) => {
                    let role = cluster_manager::pki::parse_role(&joined.role);
                    if role != Some(NodeRole::Worker) {
                        return Err(FleetError::NotWorker(joined.role));
                    }
                    joined
                        .identity
                        .save(&cluster_dir(data_root))
                        .map_err(ManagerError::from)?;
                    let state = LocalState {
                        node_id: joined.node_id.clone(),
                        role: NodeRole::Worker,
                        raft_id: None,
                        listen_addr: advertise_addr.to_owned(),
                        advertise_addr: advertise_addr.to_owned(),
                        peers: joined.managers,
                    };
                    state.save(data_root)?;
                    return Ok(SimNode {
                        node_id: joined.node_id,
                        hostname: hostname.to_owned(),
                        data_root: data_root.to_path_buf(),
                        engine: Arc::new(SimEngine::new(start_delay)),
                        running: None,
                    });
                }
                Err(err) => failures.push(format!("{addr}: {err}")),
            }
        }
        if failures.is_empty() {
            return Err(FleetError::NoManagers);
        }
        Err(FleetError::Join(failures.join("; ")))
    }

    /// The node's id in the cluster.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The hostname it joined with.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Its task runtime.
    pub fn engine(&self) -> &SimEngine {
        &self.engine
    }

    /// Whether its daemons run.
    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    /// Starts the node's worker role and task session (nothing when they run already).
    pub fn start(&mut self) {
        if self.running.is_some() {
            return;
        }
        let (stop, stopped) = watch::channel(false);
        let root = self.data_root.clone();
        let worker_stop = stopped.clone();
        let worker = tokio::spawn(async move { run_worker(&root, worker_stop).await });
        let tasks = tokio::spawn(cluster_manager::tasks::run_on(
            self.data_root.clone(),
            self.engine.clone(),
            stopped,
        ));
        self.running = Some(Running {
            stop,
            worker,
            tasks,
        });
    }

    /// Stops the node as a machine that died: its daemons end and its containers are gone.
    /// The managers hear nothing more from it.
    pub async fn kill(&mut self) {
        // Stopped, not aborted: the session's reporter ends with it, so nothing of the dead
        // node reaches a manager afterwards.
        self.stop().await;
        self.engine.wipe();
    }

    /// Tells the node's daemons to stop without waiting for them (so that many nodes stop
    /// together); [`SimNode::stop`] or [`SimNode::kill`] then waits.
    pub fn signal_stop(&self) {
        if let Some(running) = &self.running {
            let _ = running.stop.send(true);
        }
    }

    /// Stops the node's daemons and waits for them; its containers stay.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(true);
            if let Ok(Err(err)) = running.worker.await {
                tracing::warn!(node = %self.node_id, cause = %err, "worker role ended with an error");
            }
            let _ = running.tasks.await;
        }
    }

    /// Whether the worker role ended by itself (the node was removed, or an error).
    pub fn worker_ended(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.worker.is_finished())
    }
}
