//! The layer stack of a build step: lookups through unpacked layers (overlay form: a
//! deletion is a 0/0 character device, an opaque directory carries `trusted.overlay.opaque`),
//! and storing a new layer tar as a blob and an unpacked layer.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use engine::image::{Compression, Digest, ImageStore, LayerRef};
use serde::{Deserialize, Serialize};

use crate::error::{BuildError, Result};

/// One layer of a build state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Layer {
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The ChainID (key of the unpacked layer).
    pub chain_id: Digest,
    /// The blob in the blob store.
    pub blob: Digest,
    /// The blob's media type.
    pub media_type: String,
}

impl From<&LayerRef> for Layer {
    fn from(l: &LayerRef) -> Self {
        Self {
            diff_id: l.diff_id.clone(),
            chain_id: l.chain_id.clone(),
            blob: l.blob.clone(),
            media_type: l.media_type.clone(),
        }
    }
}

/// Whether a metadata is an overlay whiteout (a 0/0 character device).
pub(crate) fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether a directory is marked opaque.
pub(crate) fn is_opaque(path: &Path) -> bool {
    matches!(xattr::get(path, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

/// The components of an absolute or relative path inside a rootfs (`..` cannot climb out).
fn components(path: &Path) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Finds `path` (inside the image, symlinks not followed) in a stack of diff directories
/// (bottom first). Returns the host path of the topmost version and its metadata, or
/// `None` when it does not exist (or was deleted).
pub(crate) fn lookup(diffs: &[PathBuf], path: &Path) -> Option<(PathBuf, Metadata)> {
    let parts = components(path);
    for diff in diffs.iter().rev() {
        let mut here = diff.clone();
        let mut hidden = false;
        for (n, part) in parts.iter().enumerate() {
            here.push(part);
            match std::fs::symlink_metadata(&here) {
                Ok(meta) if is_whiteout(&meta) => return None,
                Ok(meta) if n + 1 == parts.len() => return Some((here, meta)),
                Ok(meta) if meta.is_dir() => {
                    if is_opaque(&here) {
                        hidden = true;
                    }
                }
                Ok(_) => return None,
                Err(_) => {
                    if hidden {
                        return None;
                    }
                    break;
                }
            }
        }
        if parts.is_empty() {
            return std::fs::symlink_metadata(diff)
                .ok()
                .map(|m| (diff.clone(), m));
        }
        if hidden {
            return None;
        }
    }
    None
}

/// `path` with the symbolic links among its parent directories resolved inside the image
/// (as a container would see it); the last component is left as it is.
pub(crate) fn resolve_parents(diffs: &[PathBuf], path: &Path) -> PathBuf {
    let mut pending: Vec<std::ffi::OsString> = components(path);
    pending.reverse();
    let mut done = PathBuf::from("/");
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        if pending.is_empty() {
            done.push(part);
            break;
        }
        let candidate = done.join(&part);
        let link = match lookup(diffs, &candidate) {
            Some((host, meta)) if meta.file_type().is_symlink() && hops < 40 => {
                std::fs::read_link(&host).ok()
            }
            _ => None,
        };
        let Some(target) = link else {
            done = candidate;
            continue;
        };
        hops += 1;
        if target.is_absolute() {
            done = PathBuf::from("/");
        }
        for c in target.components().rev() {
            match c {
                Component::Normal(n) => pending.push(n.to_os_string()),
                Component::ParentDir => pending.push("..".into()),
                _ => {}
            }
        }
    }
    done
}

/// `path` with every symbolic link resolved inside the image, the last component included.
pub(crate) fn resolve_all(diffs: &[PathBuf], path: &Path) -> PathBuf {
    let mut out = resolve_parents(diffs, &path.join("x"));
    out.pop();
    out
}

/// Reads a file of the image through the stack (`None` when absent).
pub(crate) fn read_file(diffs: &[PathBuf], path: &Path) -> Option<String> {
    let (host, meta) = lookup(diffs, path)?;
    if !meta.is_file() {
        return None;
    }
    std::fs::read_to_string(host).ok()
}

/// The diff directories of `layers` in `store`, bottom first.
pub(crate) fn diff_dirs(store: &ImageStore, layers: &[Layer]) -> Vec<PathBuf> {
    layers
        .iter()
        .map(|l| store.layers().diff_dir(&l.chain_id))
        .collect()
}

/// Stores an uncompressed layer tar (written by `write`) as a blob, unpacks it on top of
/// `parent`, and returns the new layer; `None` when the tar is empty (no change).
pub(crate) fn commit_tar(
    store: &ImageStore,
    parent: Option<&Layer>,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<usize>,
) -> Result<Option<Layer>> {
    let mut writer = store.blobs().writer()?;
    let entries = write(&mut writer)?;
    if entries == 0 {
        return Ok(None);
    }
    let (diff_id, _) = writer.commit(None)?;
    let blob = diff_id.clone();
    let blobs = store.blobs().clone();
    let (info, _) = store.layers().ensure(
        parent.map(|p| &p.chain_id),
        &diff_id,
        move || -> engine::image::Result<Box<dyn Read>> { Ok(Box::new(blobs.open_blob(&blob)?)) },
    )?;
    Ok(Some(Layer {
        diff_id: diff_id.clone(),
        chain_id: info.chain_id,
        blob: diff_id,
        media_type: Compression::None.layer_media_type().to_string(),
    }))
}

/// Whether every layer is still in the store (blob and unpacked directory).
pub(crate) fn all_present(store: &ImageStore, layers: &[Layer]) -> Result<bool> {
    for l in layers {
        if !store.blobs().contains(&l.blob) || store.layers().get(&l.chain_id)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Opens a file for reading with the builder's error.
pub(crate) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(BuildError::io("open", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_honours_whiteouts_and_upper_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lower, upper) = (dir.path().join("l"), dir.path().join("u"));
        std::fs::create_dir_all(lower.join("etc")).expect("mkdir");
        std::fs::create_dir_all(upper.join("etc")).expect("mkdir");
        std::fs::write(lower.join("etc/a"), "old").expect("write");
        std::fs::write(upper.join("etc/a"), "new").expect("write");
        std::fs::write(lower.join("etc/b"), "b").expect("write");
        nix::sys::stat::mknod(
            &upper.join("etc/b"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .expect("mknod (needs root)");
        let diffs = vec![lower, upper];
        assert_eq!(
            read_file(&diffs, Path::new("/etc/a")).as_deref(),
            Some("new")
        );
        assert!(lookup(&diffs, Path::new("/etc/b")).is_none());
        assert!(lookup(&diffs, Path::new("etc/../etc")).is_some_and(|(_, m)| m.is_dir()));
        assert!(lookup(&diffs, Path::new("/nope")).is_none());
    }

    #[test]
    fn parents_resolve_through_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("l");
        std::fs::create_dir_all(root.join("usr/lib")).expect("mkdir");
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).expect("symlink");
        std::os::unix::fs::symlink("/usr", root.join("u")).expect("symlink");
        let diffs = vec![root];
        let r = |p: &str| resolve_parents(&diffs, Path::new(p));
        assert_eq!(r("/lib/x.so"), Path::new("/usr/lib/x.so"));
        assert_eq!(r("/u/lib/x"), Path::new("/usr/lib/x"));
        assert_eq!(r("/lib"), Path::new("/lib"), "the last component stays");
        assert_eq!(
            resolve_all(&diffs, Path::new("/lib")),
            Path::new("/usr/lib")
        );
        assert_eq!(r("/new/dir/f"), Path::new("/new/dir/f"));
        std::os::unix::fs::symlink("../usr/lib", diffs[0].join("usr/up")).expect("symlink");
        assert_eq!(r("/usr/up/f"), Path::new("/usr/lib/f"));
    }
}
