//! The standard kernel filesystems of a container and its extra mounts. Every target is
//! resolved inside the rootfs (see [`crate::inroot`]) and mounted through its descriptor.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::mount_at;
use crate::cgroups::Layout;
use crate::inroot::Root;
use crate::spec::{Mount, MountKind};
use crate::sys::{Context, SetupError};

/// Flags for pseudo filesystems nobody should execute from.
const SAFE: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// Creates `path` as a directory inside the root; returns its descriptor.
pub(super) fn target_dir(root: &Root, path: &Path) -> Result<OwnedFd, SetupError> {
    Ok(root.mkdir_all(path)?)
}

/// A fresh procfs of the container's pid namespace.
pub(super) fn proc(root: &Root) -> Result<(), SetupError> {
    let path = Path::new("/proc");
    let target = target_dir(root, path)?;
    mount_at(None, target.as_fd(), path, Some("proc"), SAFE, None)
}

/// sysfs read-only, and the container's cgroups read-only under it.
pub(super) fn sys(root: &Root, layout: &Layout) -> Result<(), SetupError> {
    let sys = Path::new("/sys");
    let target = target_dir(root, sys)?;
    mount_at(
        None,
        target.as_fd(),
        sys,
        Some("sysfs"),
        SAFE | MsFlags::MS_RDONLY,
        None,
    )?;
    // Looked up again: below the sysfs just mounted.
    let cg = Path::new("/sys/fs/cgroup");
    let ro = SAFE | MsFlags::MS_RDONLY;
    match layout {
        Layout::V2 { .. } => {
            let target = root.open_dir(cg)?;
            mount_at(None, target.as_fd(), cg, Some("cgroup2"), ro, None)
        }
        Layout::V1 { controllers } | Layout::Hybrid { controllers, .. } => {
            let target = root.open_dir(cg)?;
            let mode = Some("mode=755");
            mount_at(None, target.as_fd(), cg, Some("tmpfs"), SAFE, mode)?;
            let mut hierarchies: Vec<&PathBuf> = controllers.values().collect();
            hierarchies.sort();
            hierarchies.dedup();
            for host_dir in hierarchies {
                let opts: Vec<&str> = controllers
                    .iter()
                    .filter(|(_, dir)| *dir == host_dir)
                    .map(|(name, _)| name.as_str())
                    .collect();
                let name = host_dir
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(opts.join(",")));
                let dir = cg.join(name);
                let target = target_dir(root, &dir)?;
                let opts = opts.join(",");
                mount_at(None, target.as_fd(), &dir, Some("cgroup"), ro, Some(&opts))?;
            }
            if matches!(layout, Layout::Hybrid { .. }) {
                let dir = cg.join("unified");
                let target = target_dir(root, &dir)?;
                mount_at(None, target.as_fd(), &dir, Some("cgroup2"), ro, None)?;
            }
            // The tmpfs itself, looked up again now that it is mounted.
            let target = root.open_dir(cg)?;
            let flags = MsFlags::MS_REMOUNT | SAFE | MsFlags::MS_RDONLY;
            mount_at(None, target.as_fd(), cg, None, flags, mode)
        }
    }
}

/// One extra mount from the spec, with the bind propagation mode asked for.
pub(super) fn user_mount(
    root: &Root,
    m: &Mount,
    propagation: Option<&String>,
) -> Result<(), SetupError> {
    let path = m.target.as_path();
    match &m.kind {
        MountKind::Bind { source } => {
            let meta =
                std::fs::metadata(source).ctx(|| format!("bind source {}", source.display()))?;
            let target = if meta.is_dir() {
                root.mkdir_all(path)?
            } else {
                root.create_file(path)?
            };
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount_at(Some(source), target.as_fd(), path, None, flags, None)?;
            // Remounts act on the bind just made: the target is looked up again to reach it.
            if m.read_only {
                let target = root.open_path(path)?;
                let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
                mount_at(None, target.as_fd(), path, None, flags, None)?;
            }
            if let Some(mode) = propagation {
                let flags = crate::spec::propagation_flags(mode).ok_or_else(|| {
                    SetupError::Invalid(format!("invalid mount propagation {mode:?}"))
                })?;
                let target = root.open_path(path)?;
                mount_at(None, target.as_fd(), path, None, flags, None)?;
            }
            Ok(())
        }
        MountKind::Image { image, .. } => Err(SetupError::Invalid(format!(
            "image {image} at {} was not resolved to a directory",
            m.target.display()
        ))),
        MountKind::Volume { name, .. } => Err(SetupError::Invalid(format!(
            "volume {name} at {} was not resolved to a directory",
            m.target.display()
        ))),
        MountKind::Tmpfs {
            size,
            mode,
            options,
        } => {
            let target = root.mkdir_all(path)?;
            let mut data = format!("mode={mode:o}");
            if *size > 0 {
                data.push_str(&format!(",size={size}"));
            }
            for option in options {
                data.push(',');
                data.push_str(option);
            }
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if m.read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            mount_at(
                Some(Path::new("tmpfs")),
                target.as_fd(),
                path,
                Some("tmpfs"),
                flags,
                Some(&data),
            )
        }
    }
}
