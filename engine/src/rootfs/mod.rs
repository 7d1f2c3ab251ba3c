//! The container's filesystem view, set up from inside its new mount namespace: propagation,
//! the rootfs bind, extra mounts, /proc /dev /sys, pivot_root, masked and read-only paths.

mod dev;
mod mask;
mod mounts;
mod shared_shm;

use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, umount2};
use nix::unistd::{chdir, pivot_root};

use crate::cgroups::Layout;
use crate::inroot::{Root, fd_path};
use crate::spec::ContainerSpec;
use crate::sys::{Context, SetupError};

/// Mounts `source` on `target` (a thin wrapper naming the target in errors).
pub(crate) fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), SetupError> {
    nix::mount::mount(source, target, fstype, flags, data).ctx(|| {
        format!(
            "mount {} on {}",
            fstype.map_or_else(
                || source.map_or_else(String::new, |s| s.display().to_string()),
                str::to_string
            ),
            target.display()
        )
    })
}

/// Mounts `source` on what `target` refers to, through its `/proc/self/fd` path (never a path
/// walked again by name); `shown`, the path in the container, names it in errors.
pub(crate) fn mount_at(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    shown: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), SetupError> {
    nix::mount::mount(source, &fd_path(target), fstype, flags, data).ctx(|| {
        format!(
            "mount {} on {}",
            fstype.map_or_else(
                || source.map_or_else(String::new, |s| s.display().to_string()),
                str::to_string
            ),
            shown.display()
        )
    })
}

/// Prepares the rootfs and pivots into it. Runs in the container's mount namespace, as root,
/// before the entrypoint; afterwards `/` is the container's root. With `shm_of` (the mount
/// namespace file of the container whose IPC namespace this one joins), that container's
/// /dev/shm is mounted over this one's.
pub(crate) fn prepare(
    spec: &ContainerSpec,
    layout: &Layout,
    shm_of: Option<&Path>,
) -> Result<(), SetupError> {
    // First, while nothing of ours is mounted yet: the clone moves through the other
    // namespace and back, which resets the root and working directory.
    let shared_shm = shm_of.map(shared_shm::clone_from).transpose()?;
    let root = spec.rootfs.as_path();
    // No mount event of ours may reach the host, but host events may still reach us.
    mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    mount(
        Some(root),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    mount(None, root, None, MsFlags::MS_PRIVATE, None)?;
    // Opened after the bind, so that what is mounted below lands on the new root's mount.
    let in_root = Root::open(root)?;
    // Mounts under /dev go on the fresh /dev (a shared /dev/shm over the container's own).
    let (under_dev, others): (Vec<_>, Vec<_>) = spec
        .mounts
        .iter()
        .partition(|m| m.target.starts_with("/dev"));
    for m in others {
        mounts::user_mount(&in_root, m, spec.bind_propagation.get(&m.target))?;
    }
    mounts::proc(&in_root)?;
    dev::populate(&in_root, spec.shm_size)?;
    if let Some(tree) = shared_shm {
        shared_shm::attach(&in_root, tree)?;
    }
    for m in under_dev {
        mounts::user_mount(&in_root, m, spec.bind_propagation.get(&m.target))?;
    }
    mounts::sys(&in_root, layout)?;
    drop(in_root);
    pivot(root)?;
    for (key, value) in &spec.sysctls {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).ctx(|| format!("set sysctl {key}"))?;
    }
    if let Some(domain) = &spec.domainname {
        std::fs::write("/proc/sys/kernel/domainname", domain)
            .ctx(|| "set domain name".to_string())?;
    }
    for path in &spec.masked_paths {
        mask::mask(path)?;
    }
    for path in &spec.readonly_paths {
        mask::read_only(path)?;
    }
    if spec.read_only_root {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        mount(None, Path::new("/"), None, flags, None)?;
    }
    Ok(())
}

/// pivot_root into `root` and detach the old root, without a put-old directory: the old root
/// is stacked under the new one and unmounted lazily.
fn pivot(root: &Path) -> Result<(), SetupError> {
    chdir(root).ctx(|| format!("chdir {}", root.display()))?;
    pivot_root(".", ".").ctx(|| format!("pivot_root into {}", root.display()))?;
    // The old root must not propagate the unmount to the host.
    mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach the old root".to_string())?;
    chdir("/").ctx(|| "chdir /".to_string())
}
