//! Directories whose files live in memory only: a small private tmpfs mounted on a
//! directory of the host (a container's secrets and configs go there, so they never reach
//! the node's disk), and its removal.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::error::Error;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (mode 0700) and mounts a tmpfs of at most `max_bytes` on it, owned by root,
/// mode 0700, without devices, set-uid or executables. A tmpfs already mounted there (a
/// create retried after a crash) is mounted over: the old one goes with [`remove`].
pub fn mount_tmpfs(dir: &Path, max_bytes: u64) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create", dir))?;
    // At least one page, so that the mount never fails for a tiny size.
    let size = max_bytes.max(4096);
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let options = format!("mode=0700,size={size}");
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        flags,
        Some(options.as_str()),
    )
    .map_err(|errno| Error::Io {
        op: "mount tmpfs on",
        path: dir.to_path_buf(),
        source: errno.into(),
    })
}

/// Unmounts every tmpfs [`mount_tmpfs`] put on `dir` (lazily, so a container still holding
/// a file does not block it) and removes the directory; a missing directory is not an error.
pub fn remove(dir: &Path) -> Result<(), Error> {
    if !dir.exists() {
        return Ok(());
    }
    loop {
        match umount2(dir, MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            // Not (or no longer) a mount point.
            Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => break,
            Err(errno) => {
                return Err(Error::Io {
                    op: "unmount",
                    path: dir.to_path_buf(),
                    source: errno.into(),
                });
            }
        }
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io("remove", dir)(source)),
    }
}

/// Whether `path` is on a tmpfs (its file system's magic number is tmpfs's).
pub fn on_tmpfs(path: &Path) -> Result<bool, Error> {
    let stat = nix::sys::statfs::statfs(path).map_err(|errno| Error::Io {
        op: "statfs",
        path: path.to_path_buf(),
        source: errno.into(),
    })?;
    Ok(stat.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_a_memory_directory_are_on_tmpfs_and_go_with_it() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: mounting needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("files");
        mount_tmpfs(&dir, 1024).unwrap();
        std::fs::write(dir.join("secret"), b"hunter2").unwrap();
        assert!(on_tmpfs(&dir.join("secret")).unwrap());
        // Mounted twice (a retried create): both go.
        mount_tmpfs(&dir, 1024).unwrap();
        remove(&dir).unwrap();
        assert!(!dir.exists());
        remove(&dir).unwrap();
    }
}
