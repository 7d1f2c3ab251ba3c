//! A sealed in-memory copy of the engine's own binary (CVE-2019-5736).
//!
//! The shim, the container setup, the init and `exec` all run the engine's binary, some of them
//! inside a container's pid namespace where a process of the container can reach them through
//! `/proc/<pid>/exe`. Were that the binary on the host's disk, a container could open it and
//! overwrite it, and the next container operation would run the attacker's code as root on the
//! host. Every helper therefore runs from a memfd copy sealed against writes, growth and
//! shrinking: `/proc/<pid>/exe` leads to that copy, which nobody can change.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};

/// The name the copy carries in `/proc/<pid>/exe` (`/memfd:bosun-sealed (deleted)`).
pub(crate) const MEMFD_NAME: &str = "bosun-sealed";

/// A sealed copy of an executable, shared by clones of the runtime.
#[derive(Debug, Clone)]
pub(crate) struct SealedExe {
    fd: Arc<OwnedFd>,
}

impl SealedExe {
    /// Copies the executable at `source` into a sealed memfd.
    pub(crate) fn copy_of(source: &Path) -> std::io::Result<Self> {
        let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
        // MFD_EXEC keeps the copy executable where vm.memfd_noexec would default to noexec;
        // kernels before 6.3 do not know the flag and refuse it.
        let fd = memfd_create(
            MEMFD_NAME,
            flags | MFdFlags::from_bits_retain(libc::MFD_EXEC),
        )
        .or_else(|_| memfd_create(MEMFD_NAME, flags))
        .map_err(std::io::Error::from)?;
        let mut copy = File::from(fd);
        let mut original = File::open(source)?;
        std::io::copy(&mut original, &mut copy)?;
        let fd = OwnedFd::from(copy);
        let seals = SealFlag::F_SEAL_SEAL
            | SealFlag::F_SEAL_SHRINK
            | SealFlag::F_SEAL_GROW
            | SealFlag::F_SEAL_WRITE;
        fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(std::io::Error::from)?;
        Ok(Self { fd: Arc::new(fd) })
    }

    /// A path that executes the copy, valid in this process and in a child it spawns (the
    /// kernel resolves it at `execve`, before close-on-exec descriptors are closed).
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn the_copy_is_identical_and_cannot_be_written() {
        let exe = std::env::current_exe().unwrap();
        let sealed = SealedExe::copy_of(&exe).unwrap();
        assert_eq!(
            std::fs::read(sealed.path()).unwrap(),
            std::fs::read(&exe).unwrap()
        );
        // Reopening through /proc, as a container would through /proc/<pid>/exe.
        let reopened = std::fs::OpenOptions::new().write(true).open(sealed.path());
        let written = reopened.and_then(|mut f| f.write_all(b"\x7fELF-overwritten"));
        assert!(written.is_err(), "a sealed copy accepted a write");
        let target = std::fs::read_link(sealed.path()).unwrap();
        assert!(
            target.to_string_lossy().starts_with("/memfd:bosun-sealed"),
            "{target:?}"
        );
    }
}
