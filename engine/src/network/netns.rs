//! Network namespace handles, and running code inside one on a dedicated thread (a thread may
//! switch its network namespace alone; the rest of the process is untouched).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::{CloneFlags, setns};

use super::{NetworkError, Result, io_err};

/// An open network namespace (kept alive while the handle lives).
#[derive(Debug)]
pub struct Netns {
    file: File,
    path: PathBuf,
}

impl Netns {
    /// The network namespace of process `pid`.
    pub fn of_pid(pid: i32) -> Result<Self> {
        Self::open(Path::new(&format!("/proc/{pid}/ns/net")))
    }

    /// The namespace at `path` (`/proc/<pid>/ns/net`, a bind mount under `/run/netns`, ...).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(io_err("open network namespace", path))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The namespace of the calling thread.
    pub fn current() -> Result<Self> {
        Self::open(Path::new("/proc/thread-self/ns/net"))
    }

    /// The namespace's inode number (what tells two namespaces apart).
    pub fn inode(&self) -> Result<u64> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = self
            .file
            .metadata()
            .map_err(io_err("stat network namespace", &self.path))?;
        Ok(meta.ino())
    }

    /// The path this handle was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    testing_pub! {
        /// The raw descriptor (for `IFLA_NET_NS_FD`).
        fn raw_fd(&self) -> RawFd {
            self.file.as_raw_fd()
        }
    }

    /// Runs `f` on a new thread that has entered this namespace, and returns its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let fd = self.file.as_fd();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    enter(fd).map_err(|errno| NetworkError::Io {
                        op: "enter network namespace",
                        path: self.path.clone(),
                        source: errno.into(),
                    })?;
                    f()
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(NetworkError::Io {
                        op: "run in network namespace",
                        path: self.path.clone(),
                        source: std::io::Error::other("the worker thread panicked"),
                    })
                })
        })
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Moves the calling thread into the namespace `fd`.
pub(super) fn enter(fd: BorrowedFd<'_>) -> nix::Result<()> {
    setns(fd, CloneFlags::CLONE_NEWNET)
}
