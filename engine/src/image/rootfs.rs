//! Container root filesystems: an overlayfs of an image's unpacked layers plus a per-container
//! upper and work directory.
//!
//! A rootfs directory holds `upper/`, `work/`, `merged/` (the mount point) and `lower.json`
//! (the image and layers it was made from), so it can be mounted again after a reboot even if
//! the image was removed meanwhile. While it exists, `image/mounts/<owner>.json` keeps its
//! layers from being swept.
//!
//! The overlay mount options must fit in one page (4096 bytes). Lower directories are named
//! through the layers' 10-character short links, relative to an open directory descriptor
//! (`/proc/self/fd/<n>/<link>`), which keeps each at about 28 bytes: 128 layers (Docker's
//! limit) take about 3.6 KiB.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use super::ImageStore;
use super::digest::Digest;
use super::error::{ImageError, Result};

/// The largest mount option string the kernel accepts (one page, with its terminating NUL).
const MAX_MOUNT_DATA: usize = 4095;

/// The layers a rootfs is made of (also the content of its `lower.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MountRecord {
    /// The container (or other user) owning the rootfs.
    pub owner: String,
    /// The image it was made from.
    pub image: Digest,
    /// The layers' ChainIDs, bottom first.
    pub layers: Vec<Digest>,
}

/// Every rootfs record in `dir` (`image/mounts`).
pub(crate) fn mount_records(dir: &Path) -> Result<Vec<MountRecord>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(ImageError::io("read dir", dir))? {
        let path = entry.map_err(ImageError::io("read dir", dir))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let data = fs::read(&path).map_err(ImageError::io("read", &path))?;
        out.push(
            serde_json::from_slice(&data)
                .map_err(|e| ImageError::json(path.display().to_string(), e))?,
        );
    }
    Ok(out)
}

fn rootfs_err(path: &Path, reason: impl ToString) -> ImageError {
    ImageError::Rootfs {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn check_owner(owner: &str) -> Result<()> {
    let ok = !owner.is_empty()
        && owner.len() <= 128
        && !owner.starts_with('.')
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(rootfs_err(
            Path::new(owner),
            "invalid owner name: use [A-Za-z0-9_.-]",
        ))
    }
}

impl ImageStore {
    testing_pub! {
        /// Prepares a rootfs for `owner` (a container id) from `image` in `dir` (created, must not
        /// exist yet) and mounts it. Returns the mount point: use it as the container's rootfs.
        fn create_rootfs(&self, owner: &str, image: &str, dir: &Path) -> Result<PathBuf> {
            check_owner(owner)?;
            if dir.exists() {
                return Err(rootfs_err(dir, "already exists"));
            }
            // The record is written and flushed before the lock is taken (for the image as it
            // resolves now), so that creations in parallel queue only for its rename. Should the
            // image change meanwhile, the record is staged again under the lock.
            let record_path = self.root.join("mounts").join(format!("{owner}.json"));
            let early = self
                .resolve(image)
                .ok()
                .and_then(|image| mount_record(owner, &image).ok())
                .map(|data| atomic_err(crate::atomic::stage(&record_path, data)))
                .transpose()?;
            let data = {
                let _lock = self.db.lock()?;
                let image = self.resolve(image)?;
                if image.layers.is_empty() {
                    return Err(rootfs_err(
                        dir,
                        format!("image {} has no layers", image.id.short()),
                    ));
                }
                let data = mount_record(owner, &image)?;
                let staged = match early {
                    Some(staged) if staged.data() == data.as_slice() => staged,
                    _ => atomic_err(crate::atomic::stage(&record_path, data.clone()))?,
                };
                atomic_err(staged.commit())?;
                data
            };
            // The container's own copy needs no lock: only the record above tells the image's
            // removal that the layers are in use.
            for sub in ["upper", "work", "merged"] {
                let d = dir.join(sub);
                fs::create_dir_all(&d).map_err(ImageError::io("create", &d))?;
            }
            write_rootfs_record(&dir.join("lower.json"), &data)?;
            self.mount_rootfs(dir)
        }
    }

    /// Prepares a rootfs for `owner` from a stack of unpacked layers (ChainIDs, bottom first)
    /// that need not belong to any image yet, as an image build does between its steps, in
    /// `dir` (created, must not exist yet), and mounts it. The record keeps the layers from
    /// being swept until [`ImageStore::remove_rootfs`]. Returns the mount point.
    pub fn create_rootfs_from_layers(
        &self,
        owner: &str,
        layers: &[Digest],
        dir: &Path,
    ) -> Result<PathBuf> {
        check_owner(owner)?;
        if dir.exists() {
            return Err(rootfs_err(dir, "already exists"));
        }
        let Some(top) = layers.last() else {
            return Err(rootfs_err(dir, "no layers to mount"));
        };
        for chain in layers {
            if self.layers.get(chain)?.is_none() {
                return Err(rootfs_err(dir, format!("layer {chain} is not unpacked")));
            }
        }
        let record = MountRecord {
            owner: owner.to_string(),
            image: top.clone(),
            layers: layers.to_vec(),
        };
        let data =
            serde_json::to_vec_pretty(&record).map_err(|e| ImageError::json("rootfs record", e))?;
        let record_path = self.root.join("mounts").join(format!("{owner}.json"));
        {
            let _lock = self.db.lock()?;
            let staged = atomic_err(crate::atomic::stage(&record_path, data.clone()))?;
            atomic_err(staged.commit())?;
        }
        for sub in ["upper", "work", "merged"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(ImageError::io("create", &d))?;
        }
        write_rootfs_record(&dir.join("lower.json"), &data)?;
        self.mount_rootfs(dir)
    }

    /// The layers a prepared rootfs was made of (its `lower.json`).
    pub(crate) fn rootfs_record(&self, dir: &Path) -> Result<MountRecord> {
        let lower_path = dir.join("lower.json");
        let data = fs::read(&lower_path).map_err(ImageError::io("read", &lower_path))?;
        serde_json::from_slice(&data)
            .map_err(|e| ImageError::json(lower_path.display().to_string(), e))
    }

    /// Mounts a prepared rootfs if it is not mounted (after a reboot, say); returns the mount
    /// point.
    pub(crate) fn mount_rootfs(&self, dir: &Path) -> Result<PathBuf> {
        let merged = dir.join("merged");
        if is_mounted(dir)? {
            return Ok(merged);
        }
        let lower_path = dir.join("lower.json");
        let data = fs::read(&lower_path).map_err(ImageError::io("read", &lower_path))?;
        let record: MountRecord = serde_json::from_slice(&data)
            .map_err(|e| ImageError::json(lower_path.display().to_string(), e))?;
        let dir_fd = open_path(dir)?;
        let links_fd = open_path(&self.layers.links_dir())?;
        let mut lower = Vec::with_capacity(record.layers.len());
        for chain in record.layers.iter().rev() {
            let info = self.layers.get(chain)?.ok_or_else(|| {
                rootfs_err(dir, format!("layer {chain} is missing from the store"))
            })?;
            lower.push(format!(
                "/proc/self/fd/{}/{}",
                links_fd.as_raw_fd(),
                info.link
            ));
        }
        let options = format!(
            "lowerdir={},upperdir=/proc/self/fd/{d}/upper,workdir=/proc/self/fd/{d}/work",
            lower.join(":"),
            d = dir_fd.as_raw_fd()
        );
        if options.len() > MAX_MOUNT_DATA {
            return Err(rootfs_err(
                dir,
                format!(
                    "{} layers do not fit in one overlay mount",
                    record.layers.len()
                ),
            ));
        }
        mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|e| rootfs_err(dir, format!("mount overlay: {e}")))?;
        Ok(merged)
    }

    /// The owners of every rootfs record (the containers whose rootfs hold image layers).
    pub fn rootfs_owners(&self) -> Result<Vec<String>> {
        Ok(mount_records(&self.root.join("mounts"))?
            .into_iter()
            .map(|r| r.owner)
            .collect())
    }

    /// Unmounts a rootfs (the upper directory is kept). Not mounted is not an error.
    pub fn unmount_rootfs(&self, dir: &Path) -> Result<()> {
        let merged = dir.join("merged");
        while is_mounted(dir)? {
            match umount2(&merged, MntFlags::empty()) {
                Ok(()) => {}
                Err(Errno::EBUSY) => umount2(&merged, MntFlags::MNT_DETACH)
                    .map_err(|e| rootfs_err(dir, format!("unmount: {e}")))?,
                Err(Errno::EINVAL) => break,
                Err(e) => return Err(rootfs_err(dir, format!("unmount: {e}"))),
            }
        }
        Ok(())
    }

    /// Unmounts and deletes a rootfs with its upper directory, and releases its layers.
    pub fn remove_rootfs(&self, owner: &str, dir: &Path) -> Result<()> {
        check_owner(owner)?;
        if dir.exists() {
            self.unmount_rootfs(dir)?;
            if is_mounted(dir)? {
                return Err(rootfs_err(dir, "still mounted"));
            }
            fs::remove_dir_all(dir).map_err(ImageError::io("remove", dir))?;
        }
        let record = self.root.join("mounts").join(format!("{owner}.json"));
        match fs::remove_file(&record) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io("remove", record)(e)),
        }
    }
}

/// The mount record of `owner`'s rootfs made from `image`, encoded.
fn mount_record(owner: &str, image: &super::ImageRecord) -> Result<Vec<u8>> {
    let record = MountRecord {
        owner: owner.to_string(),
        image: image.id.clone(),
        layers: image.layers.iter().map(|l| l.chain_id.clone()).collect(),
    };
    serde_json::to_vec_pretty(&record).map_err(|e| ImageError::json("rootfs record", e))
}

/// Writes a rootfs record with [`crate::atomic::Durability::Atomic`]: a power loss may lose the
/// records of a container created just before it, never tear them.
fn write_rootfs_record(path: &Path, data: &[u8]) -> Result<()> {
    atomic_err(crate::atomic::write_with(
        path,
        data,
        crate::atomic::Durability::Atomic,
    ))
}

/// The engine's error of an atomic write as the store's error.
fn atomic_err<T>(result: crate::Result<T>) -> Result<T> {
    result.map_err(|e| match e {
        crate::Error::Io { op, path, source } => ImageError::Io { op, path, source },
        other => ImageError::Io {
            op: "write",
            path: PathBuf::new(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// Whether `dir/merged` is a mount point (its device differs from `dir`'s).
fn is_mounted(dir: &Path) -> Result<bool> {
    let merged = dir.join("merged");
    let outer = fs::metadata(dir).map_err(ImageError::io("stat", dir))?;
    match fs::symlink_metadata(&merged) {
        Ok(inner) => Ok(inner.dev() != outer.dev()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ImageError::io("stat", merged)(e)),
    }
}

fn open_path(dir: &Path) -> Result<OwnedFd> {
    open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ImageError::io("open", dir)(e.into()))
}
