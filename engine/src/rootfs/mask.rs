//! Masked and read-only paths. Every target is opened without following symlinks and mounted
//! through its file descriptor, and the /dev/null used for masking is checked to be the real
//! character device 1:3, so a crafted rootfs cannot redirect a mask (CVE-2025-31133).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, fstat, major, minor};

use super::mount;
use crate::sys::{Context, SetupError};

fn open_path(path: &Path) -> Result<Option<OwnedFd>, SetupError> {
    match open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e).ctx(|| format!("open {}", path.display())),
    }
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The file type bits of an open file.
fn kind(fd: &OwnedFd, path: &Path) -> Result<(SFlag, u64), SetupError> {
    let st = fstat(fd).ctx(|| format!("stat {}", path.display()))?;
    Ok((
        SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()),
        st.st_rdev,
    ))
}

/// Hides `path`: directories get an empty read-only tmpfs, files the verified /dev/null.
pub(super) fn mask(path: &Path) -> Result<(), SetupError> {
    let Some(target) = open_path(path)? else {
        return Ok(());
    };
    let (target_kind, _) = kind(&target, path)?;
    if target_kind == SFlag::S_IFLNK {
        return Err(SetupError::Invalid(format!(
            "masked path {} is a symlink",
            path.display()
        )));
    }
    if target_kind == SFlag::S_IFDIR {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        return mount(
            None,
            &fd_path(&target),
            Some("tmpfs"),
            flags,
            Some("size=0,mode=555"),
        );
    }
    let null_path = Path::new("/dev/null");
    let null = open_path(null_path)?
        .ok_or_else(|| SetupError::Invalid("/dev/null is missing in the container".to_string()))?;
    let (null_kind, rdev) = kind(&null, null_path)?;
    if null_kind != SFlag::S_IFCHR || major(rdev) != 1 || minor(rdev) != 3 {
        return Err(SetupError::Invalid(
            "/dev/null is not the null device: refusing to mask with it".to_string(),
        ));
    }
    mount(
        Some(&fd_path(&null)),
        &fd_path(&target),
        None,
        MsFlags::MS_BIND,
        None,
    )
}

/// Makes `path` read-only (recursively bound onto itself, then remounted read-only).
pub(super) fn read_only(path: &Path) -> Result<(), SetupError> {
    let Some(target) = open_path(path)? else {
        return Ok(());
    };
    if kind(&target, path)?.0 == SFlag::S_IFLNK {
        return Err(SetupError::Invalid(format!(
            "read-only path {} is a symlink",
            path.display()
        )));
    }
    let at = fd_path(&target);
    mount(
        Some(&at),
        &at,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let flags = MsFlags::MS_REMOUNT
        | MsFlags::MS_BIND
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mount(None, path, None, flags, None)
}
