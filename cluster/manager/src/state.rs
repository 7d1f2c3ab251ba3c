//! The node's local cluster state on disk: `<data-root>/cluster/node.json` (who this node is
//! and where it listens), next to its certificates and the raft database.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ManagerError;
use cluster_state::NodeRole;

/// Name of the state file inside the cluster directory.
const STATE_FILE: &str = "node.json";

/// What this node knows about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// Node id (certificate CN).
    pub node_id: String,
    /// Role at join time.
    pub role: NodeRole,
    /// Raft id when a manager.
    pub raft_id: Option<u64>,
    /// Address the manager API listens on.
    pub listen_addr: String,
    /// Address other nodes reach this node at.
    pub advertise_addr: String,
    /// Addresses of the managers by raft id when this node joined; the store's node records
    /// take over once this node holds the cluster state.
    #[serde(default)]
    pub peers: std::collections::BTreeMap<u64, String>,
}

/// `<data-root>/cluster`.
pub fn cluster_dir(data_root: &Path) -> PathBuf {
    data_root.join("cluster")
}

impl LocalState {
    /// Loads the state of the node at `data_root`.
    pub fn load(data_root: &Path) -> Result<Self, ManagerError> {
        let path = cluster_dir(data_root).join(STATE_FILE);
        let data = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ManagerError::State(format!(
                "this node is not part of a cluster ({} has no cluster state)",
                data_root.display()
            )),
            _ => ManagerError::Io {
                path: path.clone(),
                source,
            },
        })?;
        serde_json::from_slice(&data).map_err(|e| ManagerError::Decode {
            what: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Whether `data_root` holds cluster state.
    pub fn exists(data_root: &Path) -> bool {
        cluster_dir(data_root).join(STATE_FILE).exists()
    }

    /// Stores the state atomically.
    pub fn save(&self, data_root: &Path) -> Result<(), ManagerError> {
        use std::io::Write as _;
        let dir = cluster_dir(data_root);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ManagerError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(STATE_FILE);
        let tmp = dir.join("node.json.tmp");
        // Plain data: serializing it cannot fail.
        let data = serde_json::to_vec_pretty(self).expect("state serializes to json");
        let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&data).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_absence_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalState::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with("this node is not part of a cluster"),
            "{err}"
        );
        let state = LocalState {
            node_id: "abc".into(),
            role: NodeRole::Manager,
            raft_id: Some(3),
            listen_addr: "0.0.0.0:4242".into(),
            advertise_addr: "10.0.0.1:4242".into(),
            peers: [(1, "10.0.0.2:4242".to_owned())].into(),
        };
        state.save(dir.path()).unwrap();
        assert!(LocalState::exists(dir.path()));
        assert_eq!(LocalState::load(dir.path()).unwrap(), state);
    }
}
