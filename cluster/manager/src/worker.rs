//! The worker role of a node's daemon: it keeps a mutual-TLS connection to the managers with
//! the node's worker certificate (renewed at 50–80 % of its lifetime, as a manager's), reports
//! the node alive every [`HEARTBEAT_INTERVAL`] and reads its own node record in the answer. When an operator marks the node for promotion it
//! takes the manager role: a manager certificate, a raft id and the seal key from the leader,
//! stored before the daemon starts the manager in place.
//!
//! The loop is a small state machine: [`Link`] says which manager the node talks to and
//! whether the last heartbeat reached it; each step sends one heartbeat and moves on.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use tokio::sync::watch;

use super::renewal::renewal_time;
use super::state::{LocalState, cluster_dir};
use super::workers::HEARTBEAT_INTERVAL;
use super::{ManagerClient, ManagerError};
use crate::pki::NodeIdentity;
use cluster_raft::DB_FILE;
use cluster_state::{NodeRole, SealKey};

/// How the worker role ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerExit {
    /// The node is now a manager: its local state names its raft id.
    Promoted,
    /// The node was removed from the cluster.
    Removed,
    /// The daemon was asked to stop.
    Shutdown,
}

/// Which manager the worker talks to.
enum Link {
    /// Trying the manager at this position of the address list.
    Trying(usize),
    /// The last heartbeat through this client succeeded.
    Up(usize, Box<ManagerClient>),
}

impl Link {
    fn position(&self) -> usize {
        match self {
            Link::Trying(at) | Link::Up(at, _) => *at,
        }
    }
}

/// The managers' addresses as the node last learned them, this node's own excluded.
fn addresses(peers: &BTreeMap<u64, String>, own: &str) -> Vec<String> {
    let mut list: Vec<String> = peers.values().filter(|a| *a != own).cloned().collect();
    list.dedup();
    list
}

/// Removes raft storage left from an earlier time as a manager: a new raft id starts empty
/// and fills from the leader's snapshot.
pub(super) fn drop_raft_storage(dir: &Path) -> Result<(), ManagerError> {
    let path = dir.join(DB_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ManagerError::Io { path, source }),
    }
}

/// Runs the worker role of the node at `data_root` until it is promoted, removed, or
/// `shutdown` turns true.
pub(crate) async fn run(
    data_root: &Path,
    mut shutdown: watch::Receiver<bool>,
) -> Result<WorkerExit, ManagerError> {
    let dir = cluster_dir(data_root);
    let mut state = LocalState::load(data_root)?;
    let mut identity = NodeIdentity::load(&dir)?;
    let mut renew_at = renewal_time(&identity);
    let mut managers = addresses(&state.peers, &state.advertise_addr);
    if managers.is_empty() {
        return Err(ManagerError::State(format!(
            "node {} knows no manager address; join the cluster again",
            state.node_id
        )));
    }
    tracing::info!(node = %state.node_id, managers = ?managers, "worker daemon started");
    let mut link = Link::Trying(0);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return Ok(WorkerExit::Shutdown),
            () = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
        }
        let at = link.position() % managers.len();
        let client = match link {
            Link::Up(_, client) => client,
            Link::Trying(_) => Box::new(ManagerClient::new(&managers[at], &identity)?),
        };
        let beat = match client.heartbeat(&state.node_id).await {
            Ok(beat) => beat,
            Err(ManagerError::Removed(message)) => {
                tracing::warn!(%message, "this node was removed; the daemon stops");
                return Ok(WorkerExit::Removed);
            }
            Err(err) => {
                tracing::warn!(manager = %managers[at], cause = %err, "heartbeat failed");
                link = Link::Trying(at + 1);
                continue;
            }
        };
        if beat.promote {
            match take_manager_role(data_root, &mut state, &client, &identity).await {
                Ok(()) => return Ok(WorkerExit::Promoted),
                Err(ManagerError::Removed(_)) => return Ok(WorkerExit::Removed),
                Err(err) => {
                    tracing::warn!(cause = %err, "promotion failed; retrying");
                    link = Link::Trying(at + 1);
                    continue;
                }
            }
        }
        if SystemTime::now() >= renew_at {
            match client.renew(&identity).await {
                Ok(renewed) => {
                    renewed.save(&dir)?;
                    identity = renewed;
                    renew_at = renewal_time(&identity);
                    tracing::info!("worker certificate renewed");
                    // The next heartbeat connects with the new certificate.
                    link = Link::Trying(at);
                    continue;
                }
                Err(ManagerError::Removed(_)) => return Ok(WorkerExit::Removed),
                Err(err) => tracing::warn!(cause = %err, "certificate renewal failed; retrying"),
            }
        }
        let learned: BTreeMap<u64, String> = beat.managers.into_iter().collect();
        if !learned.is_empty() && learned != state.peers {
            state.peers = learned;
            state.save(data_root)?;
            managers = addresses(&state.peers, &state.advertise_addr);
            let at = managers
                .iter()
                .position(|a| a == client.addr())
                .unwrap_or(0);
            link = Link::Up(at, client);
        } else {
            link = Link::Up(at, client);
        }
    }
}

/// Asks the leader (through `client`) for the manager role and stores what it grants: the
/// manager identity, the seal key, then the local state naming the raft id (last, so a crash
/// in between leaves a worker that asks again and gets the same raft id).
async fn take_manager_role(
    data_root: &Path,
    state: &mut LocalState,
    client: &ManagerClient,
    identity: &NodeIdentity,
) -> Result<(), ManagerError> {
    let promoted = client.promote(&state.node_id, identity).await?;
    let dir = cluster_dir(data_root);
    promoted.identity.save(&dir)?;
    if let Some(key) = promoted.seal_key.as_deref().and_then(SealKey::from_bytes) {
        key.save(&dir)
            .map_err(|err| ManagerError::State(err.to_string()))?;
    }
    drop_raft_storage(&dir)?;
    state.role = NodeRole::Manager;
    state.raft_id = Some(promoted.raft_id);
    state.peers = promoted.managers;
    state.save(data_root)?;
    tracing::info!(
        raft_id = promoted.raft_id,
        "promoted: starting the manager role"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_leave_out_this_node_and_keep_raft_id_order() {
        let peers: BTreeMap<u64, String> = [
            (1, "10.0.0.1:4242".to_owned()),
            (2, "10.0.0.9:4242".to_owned()),
            (4, "10.0.0.3:4242".to_owned()),
        ]
        .into();
        assert_eq!(
            addresses(&peers, "10.0.0.9:4242"),
            vec!["10.0.0.1:4242", "10.0.0.3:4242"]
        );
        assert!(addresses(&BTreeMap::new(), "x").is_empty());
    }
}
