//! Network records on disk: `<data_root>/networks/<id>.json`, written atomically, with an
//! exclusive lock around every read-modify-write so concurrent callers do not lose updates.

// Public only with the `testing` feature (see the parent module); crate-internal otherwise.
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::record::NetworkRecord;
use super::{NetworkError, Result, io_err};

/// The directory of network records.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Held while a caller reads and rewrites records; released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _lock: Flock<File>,
}

impl Store {
    /// The store under `<data_root>/networks`, created when missing.
    pub fn open(data_root: &Path) -> Result<Self> {
        let dir = data_root.join("networks");
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(Self { dir })
    }

    /// Takes the store's exclusive lock.
    pub fn lock(&self) -> Result<StoreLock> {
        let path = self.dir.join(".lock");
        let file = File::create(&path).map_err(io_err("create", &path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| NetworkError::Io {
                op: "lock",
                path,
                source: errno.into(),
            })?;
        Ok(StoreLock { _lock: lock })
    }

    /// Every record, oldest first.
    pub fn list(&self) -> Result<Vec<NetworkRecord>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err("read", &self.dir))? {
            let path = entry.map_err(io_err("read", &self.dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(self.read(&path)?);
            }
        }
        out.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
        Ok(out)
    }

    fn read(&self, path: &Path) -> Result<NetworkRecord> {
        let text = fs::read(path).map_err(io_err("read", path))?;
        serde_json::from_slice(&text).map_err(|e| NetworkError::Record {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The record whose name, full id or unique id prefix is `key`.
    pub fn find(&self, key: &str) -> Result<NetworkRecord> {
        let all = self.list()?;
        if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
            return Ok(r.clone());
        }
        let mut prefixed = all
            .into_iter()
            .filter(|r| !key.is_empty() && r.id.starts_with(key));
        match (prefixed.next(), prefixed.next()) {
            (Some(r), None) => Ok(r),
            _ => Err(NetworkError::NotFound(key.to_string())),
        }
    }

    /// Writes a record atomically.
    pub fn save(&self, record: &NetworkRecord) -> Result<()> {
        let path = self.dir.join(format!("{}.json", record.id));
        let text = serde_json::to_vec_pretty(record).map_err(|e| NetworkError::Record {
            path: path.clone(),
            message: e.to_string(),
        })?;
        crate::atomic::write_atomic(&path, &text).map_err(|e| NetworkError::Record {
            path: path.clone(),
            message: e.to_string(),
        })
    }

    /// Removes a record.
    pub fn delete(&self, id: &str) -> Result<()> {
        let path = self.dir.join(format!("{id}.json"));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
            _ => Ok(()),
        }
    }
}
