//! /dev as a fresh tmpfs with the standard device nodes, pts, shm and mqueue.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, openat};
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, makedev, mkdirat, mknodat};
use nix::unistd::symlinkat;

use super::mount_at;
use super::mounts::target_dir;
use crate::inroot::Root;
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
pub(super) fn populate(root: &Root, shm_size: u64) -> Result<(), SetupError> {
    let dev_path = Path::new("/dev");
    let target = target_dir(root, dev_path)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mount_at(
        None,
        target.as_fd(),
        dev_path,
        Some("tmpfs"),
        flags,
        Some("mode=755,size=65536k"),
    )?;
    // Everything below is made relative to the fresh tmpfs.
    let dev = root.open_dir(dev_path)?;
    for (name, major, minor) in DEVICES {
        let shown = || dev_path.join(name).display().to_string();
        mknodat(
            &dev,
            name,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .ctx(|| format!("mknod {}", shown()))?;
        // mknod applies the umask; the nodes must be world-usable.
        nix::sys::stat::fchmodat(
            &dev,
            name,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .ctx(|| format!("chmod {}", shown()))?;
    }
    let links = [
        ("pts/ptmx", "ptmx"),
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    for (target, name) in links {
        symlinkat(target, &dev, name)
            .ctx(|| format!("symlink {}", dev_path.join(name).display()))?;
    }
    let pts = subdir(&dev, dev_path, "pts")?;
    let pts_flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount_at(
        None,
        pts.as_fd(),
        &dev_path.join("pts"),
        Some("devpts"),
        pts_flags,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    let shm = subdir(&dev, dev_path, "shm")?;
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_at(
        None,
        shm.as_fd(),
        &dev_path.join("shm"),
        Some("tmpfs"),
        safe,
        Some(&format!("mode=1777,size={shm_size}")),
    )?;
    let mqueue = subdir(&dev, dev_path, "mqueue")?;
    let shown = dev_path.join("mqueue");
    mount_at(None, mqueue.as_fd(), &shown, Some("mqueue"), safe, None)
}

/// Creates the directory `name` in `dev` (the descriptor of `shown`) and opens it.
fn subdir(dev: &OwnedFd, shown: &Path, name: &str) -> Result<OwnedFd, SetupError> {
    let what = || shown.join(name).display().to_string();
    mkdirat(dev, name, Mode::from_bits_truncate(0o777)).ctx(|| format!("create {}", what()))?;
    openat(
        dev,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", what()))
}
