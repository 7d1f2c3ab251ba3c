//! Named and anonymous volumes under `<data_root>/volumes/<name>/`: `_data/` holds the content
//! and `volume.json` the metadata (labels, options, creation time, whether it is anonymous).
//!
//! Nothing here deletes a volume except [`VolumeStore::remove`] and [`VolumeStore::prune`], and
//! both refuse volumes the caller's predicate reports in use. The first mount of an empty
//! volume copies the image's content at the mount point into it ([`VolumeStore::prepare_mount`],
//! Docker's copy-up), unless `nocopy` is asked.

mod copy;
mod options;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::events::{Action, Event, EventLog, Kind};
use crate::inroot::{Root, fd_path};

pub(crate) use copy::copy_tree;
pub(crate) use options::LocalMount;

/// Errors of the volume store.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// An I/O error on a named path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The name is not a valid volume name.
    #[error("invalid volume name {0:?}: use [a-zA-Z0-9][a-zA-Z0-9_.-]+")]
    InvalidName(String),
    /// No volume with this name.
    #[error("no such volume: {0}")]
    NotFound(String),
    /// The volume is used by a container.
    #[error("remove {0}: volume is in use")]
    InUse(String),
    /// A metadata record is unreadable.
    #[error("volume record {path}: {reason}")]
    BadRecord {
        /// The record file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// A driver option the local driver does not take.
    #[error("{0}")]
    BadOption(String),
    /// The copy-up into the volume failed.
    #[error("copy image content at {target} into volume {name}: {reason}")]
    CopyUp {
        /// The volume.
        name: String,
        /// The mount target in the container.
        target: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

type Result<T, E = VolumeError> = std::result::Result<T, E>;

fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> VolumeError {
    let path = path.into();
    move |source| VolumeError::Io { op, path, source }
}

/// One volume's metadata, as `volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// The name (64 hex characters for an anonymous volume).
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// The host directory holding the content.
    pub mountpoint: PathBuf,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options: `type`, `device` and `o`, as Docker's local driver (see [`LocalMount`]).
    pub options: BTreeMap<String, String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Whether it was created without a name.
    pub anonymous: bool,
}

/// What [`VolumeStore::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VolumePruneReport {
    /// The names of the removed volumes.
    pub deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// The volumes of one node.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    root: PathBuf,
    events: EventLog,
}

/// Whether `name` is a valid volume name (Docker's rule).
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() >= 2
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl VolumeStore {
    /// Opens (creating if needed) the store under `<data_root>/volumes`.
    pub fn open(data_root: &Path) -> Result<Self> {
        let root = data_root.join("volumes");
        fs::create_dir_all(&root).map_err(io("create", &root))?;
        Ok(Self {
            root,
            events: EventLog::new(data_root),
        })
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.root.join(name).join("volume.json")
    }

    /// Creates a volume; an existing volume of that name is returned unchanged (as Docker).
    /// Without a name, an anonymous volume with a random 64-hex name is created.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume> {
        let (name, anonymous) = match name {
            Some(n) => (n.to_string(), false),
            None => (random_name()?, true),
        };
        if !valid_name(&name) {
            return Err(VolumeError::InvalidName(name));
        }
        if let Ok(existing) = self.inspect(&name) {
            return Ok(existing);
        }
        if let LocalMount::Bind { device, .. } = LocalMount::parse(&options)?
            && !device.is_dir()
        {
            return Err(VolumeError::BadOption(format!(
                "device {}: no such directory on the host to bind",
                device.display()
            )));
        }
        let data = self.mountpoint(&name);
        fs::create_dir_all(&data).map_err(io("create", &data))?;
        let volume = Volume {
            name: name.clone(),
            driver: "local".into(),
            mountpoint: data,
            labels,
            options,
            created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            anonymous,
        };
        let text = serde_json::to_vec_pretty(&volume).map_err(|e| VolumeError::BadRecord {
            path: self.record_path(&name),
            reason: e.to_string(),
        })?;
        let path = self.record_path(&name);
        crate::atomic::write_atomic(&path, &text).map_err(|e| VolumeError::Io {
            op: "write",
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        self.event(&volume.name, Action::Create);
        Ok(volume)
    }

    /// Records what happened to volume `name` in the node's event log.
    fn event(&self, name: &str, action: Action) {
        self.events
            .emit_or_warn(&Event::of(Kind::Volume, name, action).with("driver", "local"));
    }

    /// Where volume `name`'s content is (or would be) on the host: its `_data` directory.
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    /// A volume's metadata.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        if !valid_name(name) {
            return Err(VolumeError::InvalidName(name.to_string()));
        }
        let path = self.record_path(name);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()));
            }
            Err(e) => return Err(io("read", path)(e)),
        };
        serde_json::from_slice(&data).map_err(|e| VolumeError::BadRecord {
            path,
            reason: e.to_string(),
        })
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io("read dir", &self.root))? {
            let name = entry.map_err(io("read dir", &self.root))?.file_name();
            match self.inspect(&name.to_string_lossy()) {
                Ok(v) => out.push(v),
                Err(VolumeError::NotFound(_) | VolumeError::InvalidName(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes a volume and its content; refused while `in_use` says a container uses it.
    pub fn remove(&self, name: &str, in_use: &dyn Fn(&str) -> bool) -> Result<()> {
        self.inspect(name)?;
        if in_use(name) {
            return Err(VolumeError::InUse(name.to_string()));
        }
        let dir = self.root.join(name);
        // The record goes first: a half-removed volume is no longer listed.
        let record = self.record_path(name);
        fs::remove_file(&record).map_err(io("remove", &record))?;
        fs::remove_dir_all(&dir).map_err(io("remove", dir))?;
        self.event(name, Action::Destroy);
        Ok(())
    }

    /// Removes unused anonymous volumes, or with `all` every unused volume. `keep` protects
    /// more volumes (e.g. a label filter or external volumes).
    pub fn prune(
        &self,
        all: bool,
        in_use: &dyn Fn(&str) -> bool,
        keep: &dyn Fn(&Volume) -> bool,
    ) -> Result<VolumePruneReport> {
        let mut report = VolumePruneReport::default();
        for volume in self.list()? {
            if (!all && !volume.anonymous) || in_use(&volume.name) || keep(&volume) {
                continue;
            }
            let size = dir_size(&volume.mountpoint);
            self.remove(&volume.name, in_use)?;
            report.deleted.push(volume.name);
            report.space_reclaimed += size;
        }
        Ok(report)
    }

    /// Returns the host directory to bind-mount for `name` at `target` in a container whose
    /// rootfs is `rootfs`. If the volume is empty and `nocopy` is false, the content the rootfs
    /// has at `target` (symlinks resolved inside the rootfs) is copied in first, with owners
    /// and modes.
    #[cfg(feature = "testing")]
    pub fn prepare_mount(
        &self,
        name: &str,
        rootfs: &Path,
        target: &Path,
        nocopy: bool,
    ) -> Result<PathBuf> {
        self.prepare_volume_mount(&self.inspect(name)?, rootfs, target, nocopy)
    }

    /// [`VolumeStore::prepare_mount`] of a volume already inspected (the container start path
    /// reads each volume's record once).
    pub(crate) fn prepare_volume_mount(
        &self,
        volume: &Volume,
        rootfs: &Path,
        target: &Path,
        nocopy: bool,
    ) -> Result<PathBuf> {
        let name = volume.name.as_str();
        let data = volume.mountpoint.clone();
        if nocopy {
            return Ok(data);
        }
        let copy_err = |reason: String| VolumeError::CopyUp {
            name: name.to_string(),
            target: target.to_path_buf(),
            reason,
        };
        let empty = fs::read_dir(&data)
            .map_err(io("read dir", &data))?
            .next()
            .is_none();
        if !empty {
            return Ok(data);
        }
        let root = Root::open(rootfs).map_err(|e| copy_err(e.to_string()))?;
        match root.open_dir(target) {
            // Copied from the directory the descriptor holds, not from a path walked again.
            Ok(source) => {
                copy_tree(&fd_path(source.as_fd()), &data).map_err(|e| copy_err(e.to_string()))?
            }
            Err(e) if matches!(e.errno(), Errno::ENOENT | Errno::ENOTDIR) => {}
            Err(e) => return Err(copy_err(e.to_string())),
        }
        Ok(data)
    }
}

fn random_name() -> Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io("read", "/dev/urandom"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => pending.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table() {
        for (name, ok) in [
            ("db", true),
            ("my_vol-1.x", true),
            ("a", false),
            ("-x", false),
            ("a/b", false),
            ("..", false),
        ] {
            assert_eq!(valid_name(name), ok, "{name}");
        }
    }

    #[test]
    fn create_is_idempotent_and_rm_respects_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(tmp.path()).unwrap();
        let labels: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
        let v = store
            .create(Some("data"), labels.clone(), BTreeMap::new())
            .unwrap();
        fs::write(v.mountpoint.join("f"), b"x").unwrap();
        let again = store
            .create(Some("data"), BTreeMap::new(), BTreeMap::new())
            .unwrap();
        assert_eq!(again.labels, labels);
        assert_eq!(fs::read(again.mountpoint.join("f")).unwrap(), b"x");
        let anon = store
            .create(None, BTreeMap::new(), BTreeMap::new())
            .unwrap();
        assert!(anon.anonymous && anon.name.len() == 64);
        let err = store.remove("data", &|n| n == "data").unwrap_err();
        assert_eq!(err.to_string(), "remove data: volume is in use");
        let report = store.prune(false, &|_| false, &|_| false).unwrap();
        assert_eq!(report.deleted, vec![anon.name.clone()]);
        assert_eq!(
            store.list().unwrap().len(),
            1,
            "prune without all keeps named volumes"
        );
        store.remove("data", &|_| false).unwrap();
        assert!(matches!(
            store.inspect("data"),
            Err(VolumeError::NotFound(_))
        ));
    }
}
