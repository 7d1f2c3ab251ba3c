//! Recovery after the process driving the runtime died half-way (an agent killed during
//! `create` or `start`): every container ends up either whole and recorded, or gone with
//! everything it had (processes, mounts, network endpoints, directories).
//!
//! What each step leaves when the caller dies right after it, and what recovery makes of it:
//! - container directory made, rootfs mounted, shim not yet spawned or not yet reported: no
//!   spec record (`config.json`) → removed (processes killed, rootfs unmounted, dirs deleted);
//! - shim reported, spec record written: a `created` container → kept;
//! - `start` connected the networks, entrypoint not released: `created`, endpoints attached →
//!   kept; the next `start` attaches again (stale endpoints replaced);
//! - entrypoint released, `running` not recorded: the setup no longer holds the exec fifo →
//!   recorded as running here (or by the next `start`).

use std::path::Path;
use std::time::Duration;

use super::Runtime;
use super::create::released;
use crate::cgroups::CgroupManager;
use crate::process::pidfd::PidFd;
use crate::state::{ContainerState, StateStore};

/// The files a container's run directory holds; a run directory with nothing else in it and no
/// container is a leftover.
const RUN_DIR_FILES: [&str; 2] = ["exec.fifo", "attach.sock"];

/// What [`Runtime::recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Containers whose creation never finished, removed with everything they had.
    pub removed: Vec<String>,
    /// Created containers whose entrypoint had been released, now recorded as running.
    pub started: Vec<String>,
}

impl Runtime {
    /// Finishes or removes what a process that drove this runtime left half-done when it died.
    /// Call once before serving, while no other process drives the runtime over the same roots.
    pub fn recover(&self) -> crate::Result<Recovered> {
        let mut out = Recovered::default();
        let containers = self.config.data_root.join("containers");
        let entries = match std::fs::read_dir(&containers) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(source) => {
                return Err(crate::Error::Io {
                    op: "list",
                    path: containers,
                    source,
                });
            }
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let Ok(id) = entry.file_name().into_string() else {
                continue;
            };
            if super::check_id(&id).is_err() || !entry.path().is_dir() {
                continue;
            }
            let dir = entry.path();
            if !dir.join("config.json").exists() || !dir.join("state.json").exists() {
                tracing::warn!(
                    container = %id,
                    "removing a container whose creation did not finish"
                );
                self.remove_unfinished(&id)?;
                out.removed.push(id);
                continue;
            }
            // Installs from before the records were closed to other users.
            close_record(&dir.join("config.json"));
            if self.finish_start(&id)? {
                out.started.push(id);
            }
        }
        self.remove_stray_run_dirs();
        self.remove_stray_rootfs_records();
        Ok(out)
    }

    /// Records as running a `created` container whose entrypoint was released by a `start`
    /// that died before recording it. Returns whether it did.
    fn finish_start(&self, id: &str) -> crate::Result<bool> {
        let store = StateStore::new(self.container_dir(id));
        let record = store.load()?;
        if record.state != ContainerState::Created || record.pid.is_none() {
            return Ok(false);
        }
        if !released(&self.run_dir(id).join("exec.fifo"))? {
            return Ok(false);
        }
        tracing::warn!(
            container = %id,
            "the entrypoint was released by a start that did not finish: recording it"
        );
        self.record_started(id, &store)?;
        Ok(true)
    }

    /// Takes down a container whose creation never finished: whatever runs in its cgroup,
    /// its shim, endpoints, rootfs, run and container directories.
    fn remove_unfinished(&self, id: &str) -> crate::Result<()> {
        let dir = self.container_dir(id);
        let shim = StateStore::new(&dir).load().ok().and_then(|r| r.shim_pid);
        // Removing the cgroup kills every process in it (the setup, the entrypoint).
        self.cgroup(id).remove()?;
        if let Some(pidfd) = shim.and_then(|pid| PidFd::open(pid).ok()) {
            pidfd.wait_exit(Duration::from_secs(2));
        }
        self.release_network(id)?;
        self.release_rootfs(id)?;
        let run_dir = self.run_dir(id);
        super::storage::remove_any(&run_dir).map_err(|source| crate::Error::Io {
            op: "remove",
            path: run_dir,
            source,
        })?;
        self.discard(&dir).map_err(|source| crate::Error::Io {
            op: "remove",
            path: dir,
            source,
        })
    }

    /// Deletes run directories of containers that no longer exist, when they hold nothing but
    /// what a container's run directory holds.
    fn remove_stray_run_dirs(&self) {
        let Ok(entries) = std::fs::read_dir(&self.config.run_root) else {
            return;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let Ok(id) = entry.file_name().into_string() else {
                continue;
            };
            let path = entry.path();
            if super::check_id(&id).is_err()
                || !path.is_dir()
                || self.container_dir(&id).exists()
                || !holds_only_run_files(&path)
            {
                continue;
            }
            if let Err(err) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), cause = %err, "cannot remove a stray run directory");
            }
        }
    }

    /// Drops the image store's rootfs records of containers that no longer exist, so that
    /// their images are not held in use for ever.
    fn remove_stray_rootfs_records(&self) {
        let owners = match self.images.rootfs_owners() {
            Ok(owners) => owners,
            Err(err) => {
                tracing::warn!(cause = %err, "cannot list the rootfs records");
                return;
            }
        };
        for owner in owners {
            // An image mount's record: `<id>.image-<n>`, its directory under the container's.
            let (container, dir) = match super::storage::image_mount_of(&owner) {
                Some((container, n)) => (
                    container,
                    self.container_dir(container).join("image-mounts").join(n),
                ),
                None => (owner.as_str(), self.rootfs_dir(&owner)),
            };
            if super::check_id(container).is_err() || self.container_dir(container).exists() {
                continue;
            }
            if let Err(err) = self.images.remove_rootfs(&owner, &dir) {
                tracing::warn!(owner = %owner, cause = %err, "cannot remove a stray rootfs record");
            }
        }
    }
}

fn holds_only_run_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(|e| e.ok()).all(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| RUN_DIR_FILES.contains(&n))
        })
    })
}

/// Makes a record readable by root only; failures are logged, not fatal.
fn close_record(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.permissions().mode() & 0o077 != 0
        && let Err(err) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    {
        tracing::warn!(path = %path.display(), cause = %err, "cannot close the record to other users");
    }
}
