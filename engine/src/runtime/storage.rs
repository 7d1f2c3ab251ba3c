//! A container's storage: the overlay rootfs made from its image, its volume mounts turned
//! into bind mounts of the volumes' directories (with the copy-up of the image content), and
//! the trash its files go to when it is removed.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Runtime;
use crate::spec::{ContainerSpec, MountKind, SpecError};
use crate::volume::LocalMount;

impl Runtime {
    /// The directory of a container's image rootfs (`upper/`, `work/`, `merged/`).
    pub fn rootfs_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("rootfs")
    }

    /// The rootfs path a container made from an image runs in.
    pub fn image_rootfs_path(&self, id: &str) -> PathBuf {
        self.rootfs_dir(id).join("merged")
    }

    /// Makes (first time) or mounts again (after a reboot) the overlay rootfs of a container
    /// whose spec names an image; nothing for a directory rootfs.
    pub(super) fn prepare_rootfs(&self, id: &str, spec: &ContainerSpec) -> crate::Result<()> {
        let Some(image) = &spec.image else {
            return Ok(());
        };
        let dir = self.rootfs_dir(id);
        if dir.join("lower.json").exists() {
            self.images.mount_rootfs(&dir)?;
        } else {
            self.images.create_rootfs(id, image, &dir)?;
        }
        Ok(())
    }

    /// Unmounts and deletes the overlay rootfs of a container (no-op for a directory rootfs)
    /// and those of its image mounts.
    pub(super) fn release_rootfs(&self, id: &str) -> crate::Result<()> {
        let dir = self.rootfs_dir(id);
        if dir.join("lower.json").exists() || dir.exists() {
            self.images.remove_rootfs(id, &dir)?;
        }
        let mounts = self.container_dir(id).join(IMAGE_MOUNTS);
        let entries = match std::fs::read_dir(&mounts) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(crate::Error::Io {
                    op: "read",
                    path: mounts,
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(n) = name.to_str() else { continue };
            self.images
                .remove_rootfs(&image_mount_owner(id, n), &entry.path())?;
        }
        Ok(())
    }

    /// Replaces every image mount of `spec` by a read-only bind mount of the image's layers,
    /// mounted on the host under the container's directory (made the first time, mounted
    /// again after a reboot); the image's layers stay in use until the container is removed.
    pub(super) fn resolve_image_mounts(
        &self,
        id: &str,
        spec: &mut ContainerSpec,
    ) -> crate::Result<()> {
        let mut n = 0usize;
        for m in &mut spec.mounts {
            let MountKind::Image { image, subpath } = &m.kind else {
                continue;
            };
            let dir = self
                .container_dir(id)
                .join(IMAGE_MOUNTS)
                .join(n.to_string());
            let merged = if dir.join("lower.json").exists() {
                self.images.mount_rootfs(&dir)?
            } else {
                if let Some(parent) = dir.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| crate::Error::Io {
                        op: "create",
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                self.images
                    .create_rootfs(&image_mount_owner(id, &n.to_string()), image, &dir)?
            };
            let source = match subpath {
                None => merged,
                Some(sub) => volume_subpath(image, &merged, sub)?,
            };
            m.kind = MountKind::Bind { source };
            m.read_only = true;
            n += 1;
        }
        Ok(())
    }

    /// Replaces every volume mount of `spec` by a bind mount of the volume's directory (or
    /// of a subpath inside it), copying the image's content at the target into an empty
    /// volume first unless the mount says `no_copy`. A volume with driver options becomes
    /// what they ask for (see [`LocalMount`]): a bind of the host device, or a tmpfs of the
    /// container's own.
    pub(super) fn resolve_volumes(&self, spec: &mut ContainerSpec) -> crate::Result<()> {
        let rootfs = spec.rootfs.clone();
        for m in &mut spec.mounts {
            let MountKind::Volume {
                name,
                subpath,
                no_copy,
            } = &m.kind
            else {
                continue;
            };
            let volume = self.volumes.inspect(name)?;
            let data = match LocalMount::parse(&volume.options)? {
                LocalMount::Directory => self
                    .volumes
                    .prepare_volume_mount(&volume, &rootfs, &m.target, *no_copy)?,
                LocalMount::Bind { device, read_only } => {
                    m.read_only |= read_only;
                    device
                }
                LocalMount::Tmpfs { data, read_only } => {
                    if subpath.is_some() {
                        return Err(SpecError::BadSubpath {
                            volume: name.clone(),
                            subpath: subpath.clone().unwrap_or_default(),
                            reason: "a tmpfs volume has no subpaths".into(),
                        }
                        .into());
                    }
                    m.read_only |= read_only;
                    m.kind = MountKind::Tmpfs {
                        size: 0,
                        mode: 0o1777,
                        options: data,
                    };
                    continue;
                }
            };
            let source = match subpath {
                None => data,
                Some(sub) => volume_subpath(name, &data, sub)?,
            };
            m.kind = MountKind::Bind { source };
        }
        Ok(())
    }
}

/// The directory under a container's own that holds its image mounts (`0/`, `1/`, …).
const IMAGE_MOUNTS: &str = "image-mounts";

/// The owner of a container's image mount in the image store's rootfs records.
fn image_mount_owner(id: &str, n: &str) -> String {
    format!("{id}.image-{n}")
}

/// The container an image mount's owner belongs to, and the mount's number.
pub(super) fn image_mount_of(owner: &str) -> Option<(&str, &str)> {
    owner.split_once(".image-")
}

/// Tells apart the trash entries of one process.
static TRASHED: AtomicU64 = AtomicU64::new(0);

impl Runtime {
    fn trash_dir(&self) -> PathBuf {
        self.config.data_root.join("trash")
    }

    /// Takes `path` (a file or a directory tree) out of sight at once with one rename into the
    /// data root's trash, and deletes it on a background thread: unlinking files the disk has
    /// flushed costs milliseconds each here (the device discards their blocks), which no
    /// caller should wait for. What is in the trash is nobody's any more; what a process left
    /// there when it ended is deleted by the next runtime. A missing `path` is not an error;
    /// where no rename is possible, `path` is deleted in place.
    pub fn discard(&self, path: &Path) -> std::io::Result<()> {
        let trash = self.trash_dir();
        std::fs::create_dir_all(&trash)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let target = trash.join(format!(
            "{}-{}-{}",
            name.unwrap_or_default(),
            std::process::id(),
            TRASHED.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::rename(path, &target) {
            Ok(()) => {
                delete_in_background(vec![target]);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => remove_any(path),
            Err(e) => Err(e),
        }
    }

    /// Deletes, in the background, whatever an earlier process left in the trash.
    pub(super) fn sweep_trash(&self) {
        let Ok(entries) = std::fs::read_dir(self.trash_dir()) else {
            return;
        };
        let left: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        if !left.is_empty() {
            delete_in_background(left);
        }
    }
}

/// Deletes `paths` on a thread of their own (in place when no thread can be started).
fn delete_in_background(paths: Vec<PathBuf>) {
    let delete = |paths: &[PathBuf]| {
        for path in paths {
            if let Err(err) = remove_any(path) {
                tracing::warn!(path = %path.display(), cause = %err, "cannot empty the trash");
            }
        }
    };
    let spawned = std::thread::Builder::new()
        .name("bosun-trash".into())
        .spawn({
            let paths = paths.clone();
            move || delete(&paths)
        });
    if spawned.is_err() {
        delete(&paths);
    }
}

/// Deletes a file or a directory tree; a tree is tried again when a file appeared in it
/// meanwhile (a late log line). Missing is not an error.
pub(super) fn remove_any(path: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        let removed = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
            Err(e) => Err(e),
        };
        match removed {
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            other => return other,
        }
    }
}

/// `data/sub` for a relative `sub` without `..` that exists in the volume.
fn volume_subpath(name: &str, data: &Path, sub: &Path) -> crate::Result<PathBuf> {
    let invalid = |why: &str| {
        crate::Error::Spec(crate::spec::SpecError::BadSubpath {
            volume: name.to_string(),
            subpath: sub.to_path_buf(),
            reason: why.to_string(),
        })
    };
    if !sub
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(invalid("must be a relative path inside the volume"));
    }
    let path = data.join(sub);
    let meta = std::fs::symlink_metadata(&path).map_err(|_| invalid("does not exist"))?;
    if meta.file_type().is_symlink() {
        return Err(invalid("is a symbolic link"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_any_takes_files_trees_and_missing_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("record.json");
        std::fs::write(&file, "{}").unwrap();
        let tree = tmp.path().join("container");
        std::fs::create_dir_all(tree.join("rootfs/upper")).unwrap();
        std::fs::write(tree.join("rootfs/upper/f"), "x").unwrap();
        for path in [&file, &tree, &tmp.path().join("missing")] {
            remove_any(path).unwrap();
            assert!(!path.exists(), "{}", path.display());
        }
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn subpaths_stay_inside_the_volume() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("link")).unwrap();
        assert_eq!(
            volume_subpath("v", tmp.path(), Path::new("sub")).unwrap(),
            tmp.path().join("sub")
        );
        for (bad, why) in [
            ("../x", "must be a relative path"),
            ("/etc", "must be a relative path"),
            ("missing", "does not exist"),
            ("link", "symbolic link"),
        ] {
            let err = volume_subpath("v", tmp.path(), Path::new(bad)).unwrap_err();
            assert!(err.to_string().contains(why), "{bad}: {err}");
            assert!(err.to_string().contains("volume v"), "{err}");
        }
    }
}
