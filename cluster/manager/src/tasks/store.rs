//! The node's last assignment set on disk (`<data-root>/cluster/assignments.json`), so that
//! a node daemon started while no manager answers keeps running the tasks it had.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ManagerError;
use crate::dispatcher::Assignment;
use crate::dispatcher::sets::NodeSet;
use crate::state::cluster_dir;

/// The file's name in the cluster directory.
const FILE: &str = "assignments.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    tasks: Vec<Assignment>,
}

fn path(data_root: &Path) -> PathBuf {
    cluster_dir(data_root).join(FILE)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ManagerError + '_ {
    move |source| ManagerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The saved set; `None` when none was ever saved.
pub(super) fn load(data_root: &Path) -> Result<Option<NodeSet>, ManagerError> {
    let path = path(data_root);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io(&path)(source)),
    };
    let saved: Saved = serde_json::from_slice(&data).map_err(|e| ManagerError::Decode {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Some(
        saved
            .tasks
            .into_iter()
            .map(|a| (a.task_id.clone(), a))
            .collect(),
    ))
}

/// Saves `set` atomically: a temporary file, flushed, renamed over the old one, and the
/// directory flushed.
pub(super) fn save(data_root: &Path, set: &NodeSet) -> Result<(), ManagerError> {
    let path = path(data_root);
    let dir = cluster_dir(data_root);
    let temp = dir.join(format!("{FILE}.tmp"));
    let saved = Saved {
        tasks: set.values().cloned().collect(),
    };
    let data = serde_json::to_vec(&saved).map_err(|e| ManagerError::Decode {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut file = std::fs::File::create(&temp).map_err(io(&temp))?;
    file.write_all(&data).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    std::fs::rename(&temp, &path).map_err(io(&path))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{DesiredState, TaskSlot};

    #[test]
    fn a_saved_set_loads_back_and_none_is_none() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(cluster_dir(root.path())).unwrap();
        assert_eq!(load(root.path()).unwrap(), None);
        let a = Assignment {
            task_id: "t1".into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot: TaskSlot::Slot(1),
            desired_state: DesiredState::Running,
            finished: false,
            spec_version: 1,
            registry_auth: None,
            files: Vec::new(),
            spec: Default::default(),
            networks: Vec::new(),
        };
        let set: NodeSet = [(a.task_id.clone(), a)].into();
        save(root.path(), &set).unwrap();
        assert_eq!(load(root.path()).unwrap(), Some(set));
        std::fs::write(path(root.path()), b"{").unwrap();
        assert!(load(root.path()).is_err());
    }
}
