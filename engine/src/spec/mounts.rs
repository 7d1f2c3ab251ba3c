//! Extra mounts of a container: host bind mounts, volumes, tmpfs and images.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a [`Mount`] mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MountKind {
    /// A recursive bind mount of a host path.
    Bind {
        /// The host path (absolute).
        source: PathBuf,
    },
    /// A volume of the node's volume store; the runtime turns it into a bind mount of the
    /// volume's directory (after the copy-up of the image content at the target).
    Volume {
        /// The volume name.
        name: String,
        /// A path inside the volume to mount instead of its root.
        #[serde(default)]
        subpath: Option<PathBuf>,
        /// Skip the copy-up.
        #[serde(default)]
        no_copy: bool,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Size limit in bytes (0 = kernel default).
        size: u64,
        /// Permission bits of the root directory (e.g. 0o1777).
        mode: u32,
        /// More tmpfs mount data (`uid=1000`, `nr_inodes=…`), from a tmpfs volume's options;
        /// later entries win over `mode` and `size`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<String>,
    },
    /// An image's content, read-only (compose `type: image`): the runtime mounts the image's
    /// layers on the host (holding them in use like a rootfs) and binds that read-only.
    Image {
        /// The image id (resolved when the container is created).
        image: String,
        /// A path inside the image to mount instead of its root.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subpath: Option<PathBuf>,
    },
}

/// One extra mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// What to mount.
    #[serde(flatten)]
    pub kind: MountKind,
    /// Where, inside the container (absolute; symlinks resolved inside the rootfs).
    pub target: PathBuf,
    /// Mount read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// Whether `target` names the container's root once `.` and `..` are applied lexically (`/`,
/// `//`, `/a/..`): a mount there would replace the whole rootfs and, for a bind, write the
/// container's `dev`, `proc` and `sys` into the host directory. Docker refuses it too.
pub fn is_root_target(target: &Path) -> bool {
    let mut depth = 0usize;
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth = depth.saturating_sub(1),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    target.has_root() && depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_targets_are_recognised_after_lexical_cleaning() {
        for root in ["/", "//", "/.", "/..", "/a/..", "/./"] {
            assert!(is_root_target(Path::new(root)), "{root}");
        }
        for other in ["/a", "/a/../b", "/..a", "a/.."] {
            assert!(!is_root_target(Path::new(other)), "{other}");
        }
    }
}
