//! The per-project lock: the compose commands that change a project (`up`, `create`, `down`,
//! `run`, `scale`) take it while they plan and apply, so two of them on the same project run one
//! after the other instead of racing (both creating `web-1`, one failing with "name already in
//! use"). The second waits, saying so, then plans against what the first left.
//!
//! The lock is an `flock` on `<dir of the agent socket>/compose-locks/<project>.lock` (the run
//! root for the default socket), so every CLI that talks to the same agent shares it; the kernel
//! drops it when the command ends, however it ends.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The directory of the lock files, beside the agent's socket (the agent creates it writable
/// by its socket group).
const LOCK_DIR: &str = agent::daemon::COMPOSE_LOCKS;

/// A held project lock; dropping it releases the lock.
pub(super) struct ProjectLock {
    _lock: Flock<File>,
}

/// The lock file of `project` for the agent listening on `socket`.
pub(super) fn lock_path(socket: &Path, project: &str) -> PathBuf {
    socket
        .parent()
        .unwrap_or(Path::new("/"))
        .join(LOCK_DIR)
        .join(format!("{project}.lock"))
}

/// Takes the lock at `path` for `project`, waiting (after a `waiting for another bosun command
/// on project …` line on stderr) while another command holds it.
pub(super) fn lock(path: &Path, project: &str) -> anyhow::Result<ProjectLock> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the lock directory {}", dir.display()))?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        // A member of the socket group may not write a lock file root made; a lock needs no
        // write access.
        .or_else(|err| match err.kind() {
            std::io::ErrorKind::PermissionDenied => File::open(path),
            _ => Err(err),
        })
        .with_context(|| format!("cannot open the project lock {}", path.display()))?;
    let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => return Ok(ProjectLock { _lock: lock }),
        Err((file, Errno::EWOULDBLOCK)) => file,
        Err((_, errno)) => {
            return Err(errno).with_context(|| format!("cannot lock {}", path.display()));
        }
    };
    eprintln!("waiting for another bosun command on project {project}");
    let lock = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(ProjectLock { _lock: lock })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir.path().join("bosun.sock"), "demo");
        assert_eq!(path, dir.path().join("compose-locks/demo.lock"));
        let first = lock(&path, "demo").unwrap();
        let (taken, got) = mpsc::channel();
        let second = std::thread::spawn({
            let path = path.clone();
            move || {
                let held = lock(&path, "demo").unwrap();
                taken.send(()).unwrap();
                drop(held);
            }
        });
        assert!(got.recv_timeout(Duration::from_millis(300)).is_err());
        drop(first);
        got.recv_timeout(Duration::from_secs(5)).unwrap();
        second.join().unwrap();
        // Another project is not held up.
        let _demo = lock(&path, "demo").unwrap();
        let _other = lock(&lock_path(&dir.path().join("bosun.sock"), "other"), "other").unwrap();
    }
}
