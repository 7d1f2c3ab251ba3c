//! The standard kernel filesystems of a container and its extra mounts.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::{mount, resolve_in_root};
use crate::cgroups::Layout;
use crate::spec::{Mount, MountKind};
use crate::sys::{Context, SetupError};

/// Flags for pseudo filesystems nobody should execute from.
const SAFE: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// Resolves `path` inside `root` and creates it as a directory.
pub(super) fn target_dir(root: &Path, path: &str) -> Result<PathBuf, SetupError> {
    let target = resolve_in_root(root, Path::new(path))?;
    std::fs::create_dir_all(&target).ctx(|| format!("create {}", target.display()))?;
    Ok(target)
}

/// A fresh procfs of the container's pid namespace.
pub(super) fn proc(root: &Path) -> Result<(), SetupError> {
    mount(None, &target_dir(root, "/proc")?, Some("proc"), SAFE, None)
}

/// sysfs read-only, and the container's cgroups read-only under it.
pub(super) fn sys(root: &Path, layout: &Layout) -> Result<(), SetupError> {
    let sys = target_dir(root, "/sys")?;
    mount(None, &sys, Some("sysfs"), SAFE | MsFlags::MS_RDONLY, None)?;
    let cg = sys.join("fs/cgroup");
    let ro = SAFE | MsFlags::MS_RDONLY;
    match layout {
        Layout::V2 { .. } => mount(None, &cg, Some("cgroup2"), ro, None),
        Layout::V1 { controllers } | Layout::Hybrid { controllers, .. } => {
            mount(None, &cg, Some("tmpfs"), SAFE, Some("mode=755"))?;
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
                std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
                mount(None, &dir, Some("cgroup"), ro, Some(&opts.join(",")))?;
            }
            if matches!(layout, Layout::Hybrid { .. }) {
                let dir = cg.join("unified");
                std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
                mount(None, &dir, Some("cgroup2"), ro, None)?;
            }
            mount(
                None,
                &cg,
                None,
                MsFlags::MS_REMOUNT | SAFE | MsFlags::MS_RDONLY,
                Some("mode=755"),
            )
        }
    }
}

/// One extra mount from the spec, with the bind propagation mode asked for.
pub(super) fn user_mount(
    root: &Path,
    m: &Mount,
    propagation: Option<&String>,
) -> Result<(), SetupError> {
    let target = resolve_in_root(root, &m.target)?;
    match &m.kind {
        MountKind::Bind { source } => {
            let meta =
                std::fs::metadata(source).ctx(|| format!("bind source {}", source.display()))?;
            if meta.is_dir() {
                std::fs::create_dir_all(&target).ctx(|| format!("create {}", target.display()))?;
            } else {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .ctx(|| format!("create {}", parent.display()))?;
                }
                if !target.exists() {
                    std::fs::File::create(&target)
                        .ctx(|| format!("create {}", target.display()))?;
                }
            }
            mount(
                Some(source),
                &target,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            if m.read_only {
                let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
                mount(None, &target, None, flags, None)?;
            }
            if let Some(mode) = propagation {
                let flags = crate::spec::propagation_flags(mode).ok_or_else(|| {
                    SetupError::Invalid(format!("invalid mount propagation {mode:?}"))
                })?;
                mount(None, &target, None, flags, None)?;
            }
            Ok(())
        }
        MountKind::Volume { name, .. } => Err(SetupError::Invalid(format!(
            "volume {name} at {} was not resolved to a directory",
            m.target.display()
        ))),
        MountKind::Tmpfs {
            size,
            mode,
            options,
        } => {
            std::fs::create_dir_all(&target).ctx(|| format!("create {}", target.display()))?;
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
            mount(
                Some(Path::new("tmpfs")),
                &target,
                Some("tmpfs"),
                flags,
                Some(&data),
            )
        }
    }
}
