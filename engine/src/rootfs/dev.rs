//! /dev as a fresh tmpfs with the standard device nodes, pts, shm and mqueue.

use std::os::unix::fs::symlink;
use std::path::Path;

use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use super::mount;
use super::mounts::target_dir;
use crate::sys::{Context, SetupError};

/// The character devices every container gets: name, major, minor.
pub(crate) const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Mounts /dev and fills it.
pub(super) fn populate(root: &Path, shm_size: u64) -> Result<(), SetupError> {
    let dev = target_dir(root, "/dev")?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mount(
        None,
        &dev,
        Some("tmpfs"),
        flags,
        Some("mode=755,size=65536k"),
    )?;
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .ctx(|| format!("mknod {}", path.display()))?;
        // mknod applies the umask; the nodes must be world-usable.
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &path,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .ctx(|| format!("chmod {}", path.display()))?;
    }
    let links = [
        ("pts/ptmx", "ptmx"),
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    for (target, name) in links {
        symlink(target, dev.join(name)).ctx(|| format!("symlink {}", dev.join(name).display()))?;
    }
    let pts = dev.join("pts");
    std::fs::create_dir(&pts).ctx(|| format!("create {}", pts.display()))?;
    let pts_flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(
        None,
        &pts,
        Some("devpts"),
        pts_flags,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    let shm = dev.join("shm");
    std::fs::create_dir(&shm).ctx(|| format!("create {}", shm.display()))?;
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        None,
        &shm,
        Some("tmpfs"),
        safe,
        Some(&format!("mode=1777,size={shm_size}")),
    )?;
    let mqueue = dev.join("mqueue");
    std::fs::create_dir(&mqueue).ctx(|| format!("create {}", mqueue.display()))?;
    mount(None, &mqueue, Some("mqueue"), safe, None)
}
