//! What the agent records about a container beyond the engine's state: its name and whether it
//! is removed when it exits. One JSON file per container under `<data-root>/agent/containers`.

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
}

/// The directory of metadata records.
#[derive(Debug, Clone)]
pub struct MetaStore {
    dir: PathBuf,
}

impl MetaStore {
    /// The store under `data_root`.
    pub fn new(data_root: &Path) -> Self {
        Self {
            dir: data_root.join("agent").join("containers"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes one record atomically.
    pub fn save(&self, meta: &Meta) -> Result<(), AgentError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| AgentError::Io {
            op: "create",
            path: self.dir.clone(),
            source,
        })?;
        let text = serde_json::to_vec_pretty(meta)
            .map_err(|e| AgentError::Internal(format!("encode metadata of {}: {e}", meta.id)))?;
        engine::atomic::write_atomic(&self.path(&meta.id), &text)?;
        Ok(())
    }

    /// Deletes one record; a missing record is not an error.
    pub fn delete(&self, id: &str) -> Result<(), AgentError> {
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
    pub fn load_all(&self) -> Result<Vec<Meta>, AgentError> {
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
    fn save_load_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::new(dir.path());
        assert!(store.load_all().unwrap().is_empty());
        let meta = Meta {
            id: "a".repeat(64),
            name: "web".into(),
            auto_remove: true,
        };
        store.save(&meta).unwrap();
        std::fs::write(store.dir.join("junk.json"), b"{").unwrap();
        assert_eq!(store.load_all().unwrap(), vec![meta.clone()]);
        store.delete(&meta.id).unwrap();
        store.delete(&meta.id).unwrap();
        assert!(store.load_all().unwrap().is_empty());
    }
}
