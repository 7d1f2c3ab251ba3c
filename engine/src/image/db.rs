//! The image database: one record per image (`db/images/<id>.json`) and the reference table
//! (`db/repositories.json`: `name:tag` and `name@digest` → image id). Every write is atomic;
//! changes are serialized by an exclusive lock on `db/lock`, across processes.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::error::{ImageError, Result, write_record};

/// One layer of an image, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    /// The digest of the uncompressed tar stream.
    pub diff_id: Digest,
    /// The ChainID (key of the unpacked layer).
    pub chain_id: Digest,
    /// The digest of the layer blob as stored (possibly compressed).
    pub blob: Digest,
    /// The blob's media type.
    pub media_type: String,
    /// The blob's size in bytes.
    pub blob_size: u64,
}

/// One image: its config, manifest and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image id: the digest of its config blob.
    pub id: Digest,
    /// The digest of its manifest blob.
    pub manifest: Digest,
    /// The manifest's media type.
    pub manifest_media_type: String,
    /// The size of the config blob.
    pub config_size: u64,
    /// Layers, bottom first.
    pub layers: Vec<LayerRef>,
    /// When the image was added to this store (RFC 3339).
    pub added: String,
}

/// The database directory.
#[derive(Debug, Clone)]
pub(super) struct Db {
    root: PathBuf,
}

/// Held while the database is being changed.
pub(crate) struct DbLock {
    _lock: Flock<File>,
}

impl Db {
    /// The database under `root` (`<data_root>/image/db`); creates its directories.
    pub(super) fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let images = root.join("images");
        fs::create_dir_all(&images).map_err(ImageError::io("create", &images))?;
        Ok(Self { root })
    }

    /// Takes the exclusive database lock.
    pub(super) fn lock(&self) -> Result<DbLock> {
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(ImageError::io("open", &path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| ImageError::io("lock", &path)(errno.into()))?;
        Ok(DbLock { _lock: lock })
    }

    fn image_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    /// An image record, `None` when there is no such image.
    pub(super) fn get(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        let path = self.image_path(id);
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| ImageError::json(path.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::io("read", path)(e)),
        }
    }

    /// Writes an image record.
    pub(super) fn put(&self, _lock: &DbLock, record: &ImageRecord) -> Result<()> {
        let data =
            serde_json::to_vec_pretty(record).map_err(|e| ImageError::json("image record", e))?;
        write_record(&self.image_path(&record.id), &data)
    }

    /// Deletes an image record.
    pub(super) fn delete(&self, _lock: &DbLock, id: &Digest) -> Result<()> {
        let path = self.image_path(id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io("remove", path)(e)),
        }
    }

    /// Every image record.
    pub(super) fn all(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(ImageError::io("read dir", &dir))? {
            let entry = entry.map_err(ImageError::io("read dir", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(hex) = name.strip_suffix(".json") else {
                continue;
            };
            let Ok(id) = Digest::from_hex(hex) else {
                continue;
            };
            if let Some(record) = self.get(&id)? {
                out.push(record);
            }
        }
        out.sort_by(|a, b| b.added.cmp(&a.added).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The reference table: normalized reference → image id.
    pub(super) fn refs(&self) -> Result<BTreeMap<String, Digest>> {
        let path = self.root.join("repositories.json");
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| ImageError::json(path.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(ImageError::io("read", path)(e)),
        }
    }

    /// Replaces the reference table.
    pub(super) fn set_refs(&self, _lock: &DbLock, refs: &BTreeMap<String, Digest>) -> Result<()> {
        let data =
            serde_json::to_vec_pretty(refs).map_err(|e| ImageError::json("reference table", e))?;
        write_record(&self.root.join("repositories.json"), &data)
    }
}
