//! The build cache: the state after each step (image config and layers) under a key that
//! chains the parent's key with the step's definition, one file per key in
//! `<data_root>/build/cache/<key>.json`. An entry whose layers were pruned from the image
//! store since is a miss.

use std::path::{Path, PathBuf};

use engine::image::{Digest, ImageStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::ImageConfig;
use crate::error::{BuildError, Result};
use crate::layers::{Layer, all_present};

/// The state of a stage after a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// The image config.
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
}

/// The cache index.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
}

/// The key of a step: the parent's key and the step's definition.
pub(crate) fn key(parent: &Digest, definition: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(parent.to_string().as_bytes());
    h.update([0]);
    h.update(definition.as_bytes());
    Digest::from_hex(&hex::encode(h.finalize())).expect("a sha256 is a valid digest")
}

/// The key of a stage's start: its base.
pub(crate) fn root_key(base: &str) -> Digest {
    let mut h = Sha256::new();
    h.update(b"base\0");
    h.update(base.as_bytes());
    Digest::from_hex(&hex::encode(h.finalize())).expect("a sha256 is a valid digest")
}

impl Cache {
    /// The cache under `<data_root>/build/cache`; creates it.
    pub(crate) fn open(data_root: &Path) -> Result<Self> {
        let dir = data_root.join("build").join("cache");
        std::fs::create_dir_all(&dir).map_err(BuildError::io("create", &dir))?;
        Ok(Self { dir })
    }

    fn path(&self, key: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    /// The snapshot stored under `key`, if it is there and its layers still are.
    pub(crate) fn get(&self, store: &ImageStore, key: &Digest) -> Result<Option<Snapshot>> {
        let path = self.path(key);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BuildError::io("read", path)(e)),
        };
        let Ok(snapshot) = serde_json::from_slice::<Snapshot>(&data) else {
            tracing::warn!(path = %path.display(), "ignoring an unreadable cache entry");
            return Ok(None);
        };
        if !all_present(store, &snapshot.layers)? {
            return Ok(None);
        }
        Ok(Some(snapshot))
    }

    /// Stores a snapshot under `key` (written whole or not at all; not flushed to disk: the
    /// cache may lose recent entries on a crash, never hold torn ones).
    pub(crate) fn put(&self, key: &Digest, snapshot: &Snapshot) -> Result<()> {
        let data = serde_json::to_vec(snapshot)
            .map_err(|e| BuildError::Invalid(format!("encode cache entry: {e}")))?;
        let path = self.path(key);
        let tmp = self
            .dir
            .join(format!(".{}.{}", key.hex(), std::process::id()));
        std::fs::write(&tmp, data).map_err(BuildError::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(BuildError::io("rename", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_entries_round_trip() {
        let a = root_key("sha256:abc");
        assert_ne!(key(&a, "RUN x"), key(&a, "RUN y"));
        assert_ne!(key(&a, "RUN x"), key(&root_key("other"), "RUN x"));
        assert_eq!(key(&a, "RUN x"), key(&a, "RUN x"));
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(dir.path()).expect("store");
        let cache = Cache::open(dir.path()).expect("cache");
        let snapshot = Snapshot {
            config: ImageConfig::scratch(),
            layers: Vec::new(),
        };
        let k = key(&a, "ENV A=1");
        assert!(cache.get(&store, &k).expect("get").is_none());
        cache.put(&k, &snapshot).expect("put");
        assert_eq!(cache.get(&store, &k).expect("get"), Some(snapshot.clone()));
        let missing = Snapshot {
            layers: vec![Layer {
                diff_id: Digest::of(b"x"),
                chain_id: Digest::of(b"x"),
                blob: Digest::of(b"x"),
                media_type: "m".into(),
            }],
            ..snapshot
        };
        cache.put(&k, &missing).expect("put");
        assert!(
            cache.get(&store, &k).expect("get").is_none(),
            "pruned layers: a miss"
        );
    }
}
