//! What the agent records about a container beyond the engine's state: its name, whether it
//! is removed when it exits, its image, labels, volumes and network plan. One JSON file per
//! container under `<data-root>/agent/containers`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::AgentError;

/// The agent's record of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The engine's container id (64 hex characters).
    pub id: String,
    /// The unique name.
    pub name: String,
    /// Remove the container once it has exited.
    #[serde(default)]
    pub auto_remove: bool,
    /// The image as the user named it (empty for a directory rootfs).
    #[serde(default)]
    pub image: String,
    /// The image id (`sha256:…`; empty for a directory rootfs).
    #[serde(default)]
    pub image_id: String,
    /// The overlay rootfs directory made from the image, removed with the container.
    #[serde(default)]
    pub rootfs_dir: Option<PathBuf>,
    /// Container labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Named volumes the container mounts.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Anonymous volumes created for the container (removed by `rm -v`).
    #[serde(default)]
    pub anonymous_volumes: Vec<String>,
    /// The network mode as given (`""`, `bridge`, `host`, `none`, `container:<x>`, a name).
    #[serde(default)]
    pub network_mode: String,
    /// The networks joined at every start, in order.
    #[serde(default)]
    pub networks: Vec<NetworkPlan>,
    /// Published ports, as asked for (resolved at each start).
    #[serde(default)]
    pub ports: Vec<engine::network::PortSpec>,
}

/// One network a container joins at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPlan {
    /// The network name or id.
    pub network: String,
    /// Extra DNS names.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A static IPv4 address.
    #[serde(default)]
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// A fixed MAC address.
    #[serde(default)]
    pub mac: Option<String>,
}

impl Meta {
    /// A record with only the id and the name set.
    pub fn new(id: String, name: String) -> Self {
        Meta {
            id,
            name,
            auto_remove: false,
            image: String::new(),
            image_id: String::new(),
            rootfs_dir: None,
            labels: BTreeMap::new(),
            volumes: Vec::new(),
            anonymous_volumes: Vec::new(),
            network_mode: String::new(),
            networks: Vec::new(),
            ports: Vec::new(),
        }
    }

    /// Whether the container mounts volume `name` (named or anonymous).
    pub fn uses_volume(&self, name: &str) -> bool {
        self.volumes
            .iter()
            .chain(&self.anonymous_volumes)
            .any(|v| v == name)
    }
}

/// The directory of metadata records.
#[derive(Debug, Clone)]
pub(crate) struct MetaStore {
    dir: PathBuf,
    data_root: PathBuf,
    run_root: PathBuf,
}

impl MetaStore {
    /// The store under `data_root`, whose containers' in-memory files go under `run_root`.
    pub(crate) fn new(data_root: &Path, run_root: &Path) -> Self {
        Self {
            dir: data_root.join("agent").join("containers"),
            data_root: data_root.to_path_buf(),
            run_root: run_root.to_path_buf(),
        }
    }

    /// The directories of the files written for container `id` (its secrets and configs
    /// given by value or kept in memory); they go with the record.
    pub(crate) fn files_dirs(&self, id: &str) -> crate::files::FileDirs {
        crate::files::dirs(&self.data_root, &self.run_root, id)
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes one record atomically.
    pub(crate) fn save(&self, meta: &Meta) -> Result<(), AgentError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| AgentError::Io {
            op: "create",
            path: self.dir.clone(),
            source,
        })?;
        let text = serde_json::to_vec_pretty(meta)
            .map_err(|e| AgentError::Internal(format!("encode metadata of {}: {e}", meta.id)))?;
        // Atomic, not durable: a power loss may lose a container created just before it,
        // never leave a torn record.
        engine::atomic::write_with(
            &self.path(&meta.id),
            &text,
            engine::atomic::Durability::Atomic,
        )?;
        Ok(())
    }

    /// Removes one record through the runtime's trash (unlinked in the background); a missing
    /// record is not an error.
    pub(crate) fn discard(&self, runtime: &engine::Runtime, id: &str) -> Result<(), AgentError> {
        crate::files::remove(&self.files_dirs(id))?;
        let path = self.path(id);
        runtime.discard(&path).map_err(|source| AgentError::Io {
            op: "remove",
            path,
            source,
        })
    }

    /// Deletes one record; a missing record is not an error.
    pub(crate) fn delete(&self, id: &str) -> Result<(), AgentError> {
        crate::files::remove(&self.files_dirs(id))?;
        let path = self.path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(AgentError::Io {
                op: "remove",
                path,
                source,
            }),
        }
    }

    /// Every readable record; unreadable ones are skipped with a warning.
    pub(crate) fn load_all(&self) -> Result<Vec<Meta>, AgentError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(AgentError::Io {
                    op: "list",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_slice::<Meta>(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(meta) => out.push(meta),
                Err(cause) => {
                    tracing::warn!(path = %path.display(), %cause, "skipping unreadable container metadata");
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_records_still_load() {
        let old = r#"{"id":"abc","name":"web","auto_remove":true}"#;
        let meta: Meta = serde_json::from_str(old).unwrap();
        assert!(meta.auto_remove && meta.image.is_empty() && meta.networks.is_empty());
    }

    #[test]
    fn save_load_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::new(dir.path(), &dir.path().join("run"));
        assert!(store.load_all().unwrap().is_empty());
        let mut meta = Meta::new("a".repeat(64), "web".into());
        meta.auto_remove = true;
        meta.volumes = vec!["data".into()];
        meta.anonymous_volumes = vec!["f".repeat(64)];
        store.save(&meta).unwrap();
        std::fs::write(store.dir.join("junk.json"), b"{").unwrap();
        assert_eq!(store.load_all().unwrap(), vec![meta.clone()]);
        assert!(meta.uses_volume("data") && meta.uses_volume(&"f".repeat(64)));
        assert!(!meta.uses_volume("other"));
        store.delete(&meta.id).unwrap();
        store.delete(&meta.id).unwrap();
        assert!(store.load_all().unwrap().is_empty());
    }
}
