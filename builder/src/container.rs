//! A container's changes to its image, read from its overlay upper directory with the same
//! code a RUN step's layer is made with: the list `container diff` prints, and `container
//! commit`, which stores them as a new layer on top of the image's and registers the image.

use std::path::{Path, PathBuf};

use engine::image::{BuiltLayer, Digest, ImageRecord, ImageRef, ImageStore};
use engine::runtime::ContainerLayers;

use crate::config::{History, ImageConfig};
use crate::diff::write_upper;
use crate::error::{BuildError, Result};
use crate::layers::{Layer, commit_tar, is_opaque, is_whiteout, lookup};

/// What happened to a path (Docker's `C`, `A`, `D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Changed: it exists in the image too.
    Changed,
    /// Added.
    Added,
    /// Deleted.
    Deleted,
}

impl ChangeKind {
    /// Docker's letter for it.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path of a container (absolute, as the container sees it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// The path.
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// The image's layers' diff directories, bottom first.
fn lowers(store: &ImageStore, layers: &ContainerLayers) -> Vec<PathBuf> {
    layers
        .layers
        .iter()
        .map(|chain| store.layers().diff_dir(chain))
        .collect()
}

/// The paths a container changed, in path order.
pub fn changes(store: &ImageStore, layers: &ContainerLayers) -> Result<Vec<Change>> {
    let lowers = lowers(store, layers);
    let mut out = Vec::new();
    walk(&layers.upper, Path::new("/"), &lowers, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(host: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> Result<()> {
    let entries = std::fs::read_dir(host).map_err(BuildError::io("read dir", host))?;
    for entry in entries {
        let entry = entry.map_err(BuildError::io("read dir", host))?;
        let path = entry.path();
        let rel = rel.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&path).map_err(BuildError::io("stat", &path))?;
        let below = lookup(lowers, &rel).is_some();
        if is_whiteout(&meta) {
            if below {
                out.push(Change {
                    path: rel,
                    kind: ChangeKind::Deleted,
                });
            }
            continue;
        }
        let kind = if below {
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        out.push(Change {
            path: rel.clone(),
            kind,
        });
        // Below an added or opaque directory everything is new; below a changed one, look.
        if meta.is_dir() {
            if kind == ChangeKind::Added || is_opaque(&path) {
                added_below(&path, &rel, out)?;
            } else {
                walk(&path, &rel, lowers, out)?;
            }
        }
    }
    Ok(())
}

fn added_below(host: &Path, rel: &Path, out: &mut Vec<Change>) -> Result<()> {
    let entries = std::fs::read_dir(host).map_err(BuildError::io("read dir", host))?;
    for entry in entries {
        let entry = entry.map_err(BuildError::io("read dir", host))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(BuildError::io("stat", &path))?;
        if is_whiteout(&meta) {
            continue;
        }
        let rel = rel.join(entry.file_name());
        out.push(Change {
            path: rel.clone(),
            kind: ChangeKind::Added,
        });
        if meta.is_dir() {
            added_below(&path, &rel, out)?;
        }
    }
    Ok(())
}

/// What `commit` records beside the layer.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The name to give the image (none: only its id).
    pub reference: Option<ImageRef>,
    /// The commit message (the history entry's comment).
    pub message: Option<String>,
    /// The author.
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config (`CMD`, `ENV`, `LABEL`, …).
    pub changes: Vec<String>,
    /// What the history says made the layer.
    pub created_by: String,
    /// The time to record (RFC 3339).
    pub created: String,
}

/// Stores a container's changes as a new layer over its image's and registers the image
/// (config: the image's, with the changes applied, the author, a history entry).
pub fn commit(
    store: &ImageStore,
    layers: &ContainerLayers,
    options: &CommitOptions,
) -> Result<ImageRecord> {
    let image = image_of(store, &layers.image)?;
    let base: Vec<Layer> = image.layers.iter().map(Layer::from).collect();
    let lowers = lowers(store, layers);
    let new = commit_tar(store, base.last(), |out| {
        write_upper(&layers.upper, &lowers, out)
    })?;
    let config_bytes = store.blobs().read(&image.id)?;
    let mut config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| BuildError::Invalid(format!("read the config of image {}: {e}", image.id)))?;
    if !options.changes.is_empty() {
        let mut run = serde_json::to_value(&config.config)
            .map_err(|e| BuildError::Invalid(format!("encode the run config: {e}")))?;
        engine::image::apply_change_lines(&mut run, &options.changes)?;
        config.config = serde_json::from_value(run)
            .map_err(|e| BuildError::Invalid(format!("decode the run config: {e}")))?;
    }
    if options.author.is_some() {
        config.author.clone_from(&options.author);
    }
    config.created = Some(options.created.clone());
    config.history.push(History {
        created: Some(options.created.clone()),
        created_by: Some(options.created_by.clone()),
        comment: options.message.clone(),
        empty_layer: new.is_none(),
    });
    let mut all = base;
    all.extend(new);
    config.rootfs.diff_ids = all.iter().map(|l| l.diff_id.to_string()).collect();
    let bytes = serde_json::to_vec(&config)
        .map_err(|e| BuildError::Invalid(format!("encode the image config: {e}")))?;
    let built: Vec<BuiltLayer> = all
        .iter()
        .map(|l| BuiltLayer {
            blob: l.blob.clone(),
            media_type: l.media_type.clone(),
        })
        .collect();
    let names: Vec<ImageRef> = options.reference.iter().cloned().collect();
    Ok(store.add_built(&bytes, &built, &names)?)
}

fn image_of(store: &ImageStore, id: &Digest) -> Result<ImageRecord> {
    store.resolve(&id.to_string()).map_err(|_| {
        BuildError::Invalid(format!(
            "the container's image {id} is no longer in the image store"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_tell_added_changed_and_deleted_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lower, upper) = (dir.path().join("l"), dir.path().join("u"));
        std::fs::create_dir_all(lower.join("etc")).expect("mkdir");
        std::fs::write(lower.join("etc/a"), "a").expect("write");
        std::fs::write(lower.join("etc/gone"), "g").expect("write");
        std::fs::create_dir_all(upper.join("etc")).expect("mkdir");
        std::fs::write(upper.join("etc/a"), "changed").expect("write");
        std::fs::create_dir_all(upper.join("new/dir")).expect("mkdir");
        std::fs::write(upper.join("new/dir/f"), "f").expect("write");
        nix::sys::stat::mknod(
            &upper.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .expect("whiteout (needs root)");
        let mut out = Vec::new();
        walk(&upper, Path::new("/"), &[lower], &mut out).expect("walk");
        out.sort();
        let shown: Vec<String> = out
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path.display()))
            .collect();
        assert_eq!(
            shown,
            [
                "C /etc",
                "C /etc/a",
                "D /etc/gone",
                "A /new",
                "A /new/dir",
                "A /new/dir/f"
            ]
        );
    }
}
