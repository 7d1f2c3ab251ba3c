//! A container's storage: the overlay rootfs made from its image, and its volume mounts turned
//! into bind mounts of the volumes' directories (with the copy-up of the image content).

use std::path::{Component, Path, PathBuf};

use super::Runtime;
use crate::spec::{ContainerSpec, MountKind};

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

    /// Unmounts and deletes the overlay rootfs of a container (no-op for a directory rootfs).
    pub(super) fn release_rootfs(&self, id: &str) -> crate::Result<()> {
        let dir = self.rootfs_dir(id);
        if dir.join("lower.json").exists() || dir.exists() {
            self.images.remove_rootfs(id, &dir)?;
        }
        Ok(())
    }

    /// Replaces every volume mount of `spec` by a bind mount of the volume's directory (or
    /// of a subpath inside it), copying the image's content at the target into an empty
    /// volume first unless the mount says `no_copy`.
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
            let data = self
                .volumes
                .prepare_mount(name, &rootfs, &m.target, *no_copy)?;
            let source = match subpath {
                None => data,
                Some(sub) => volume_subpath(name, &data, sub)?,
            };
            m.kind = MountKind::Bind { source };
        }
        Ok(())
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
