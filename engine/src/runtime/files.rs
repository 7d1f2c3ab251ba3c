//! A container's files and limits after its creation: copying in and out of its root
//! ([`crate::archive`] inside the container's rootfs as the host sees it), exporting the whole
//! root, the layers and upper directory a commit or diff reads, and updating its limits and
//! restart policy.
//!
//! A running container is frozen (its cgroup, not its recorded state) while its files are
//! packed: the walk reads what a `read_dir` listed, and a process of the container must not
//! swap an entry for a symlink under it meanwhile (docker's fix for the same race,
//! CVE-2018-15664, paused the container too). Unpacking needs no freeze: every entry is made
//! relative to a descriptor resolved inside the root.
//!
//! The rootfs is the container's own image root (its overlay, mounted again when it is not),
//! not its mount namespace: volumes and bind mounts do not show in these copies, and a path
//! inside one reaches what the image has under it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::Runtime;
use crate::archive::{self, ArchiveError, Owner, Packed};
use crate::atomic::{Durability, write_private};
use crate::cgroups::CgroupManager;
use crate::image::Digest;
use crate::restart::RestartPolicy;
use crate::spec::{ContainerSpec, Resources};

/// The image a container was made from, its layers and its upper directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLayers {
    /// The image (the digest of its config).
    pub image: Digest,
    /// The layers' ChainIDs, bottom first.
    pub layers: Vec<Digest>,
    /// The container's overlay upper directory (its changes).
    pub upper: PathBuf,
}

/// A change of a container's limits or restart policy (`container update`); `None` keeps
/// the current value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory plus swap in bytes (`-1`: unlimited swap).
    pub memory_swap: Option<i64>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// Number of CPUs (quota over the default period).
    pub cpus: Option<f64>,
    /// Cpuset of CPUs.
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
    /// The restart policy.
    pub restart: Option<RestartPolicy>,
}

impl Update {
    /// The limits with this update applied over `current`.
    fn applied(&self, current: &Resources) -> Resources {
        let mut next = current.clone();
        if let Some(cpus) = self.cpus {
            next = next.with_cpus(cpus);
        }
        next.memory = self.memory.or(next.memory);
        next.memory_swap = self.memory_swap.or(next.memory_swap);
        next.cpu_shares = self.cpu_shares.or(next.cpu_shares);
        next.pids_limit = self.pids_limit.or(next.pids_limit);
        if self.cpuset_cpus.is_some() {
            next.cpuset_cpus.clone_from(&self.cpuset_cpus);
        }
        next
    }
}

fn archive_err(id: &str, e: ArchiveError) -> crate::Error {
    match e {
        ArchiveError::NotFound(path) => super::RuntimeError::Exec {
            id: id.to_string(),
            message: format!("could not find the file {path} in the container"),
        }
        .into(),
        other => super::RuntimeError::Exec {
            id: id.to_string(),
            message: other.to_string(),
        }
        .into(),
    }
}

impl Runtime {
    /// The root of a container's files as the host sees it: its overlay (mounted again when
    /// it is not), or its rootfs directory.
    pub fn files_root(&self, id: &str) -> crate::Result<PathBuf> {
        let spec = self.spec(id)?;
        if spec.image.is_none() {
            return Ok(spec.rootfs);
        }
        Ok(self.images.mount_rootfs(&self.rootfs_dir(id))?)
    }

    /// Runs `f` with a running container's processes frozen, thawed again however `f` ends.
    fn frozen<T>(&self, id: &str, f: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
        if self.state(id)?.state != crate::ContainerState::Running {
            return f();
        }
        let cgroup = self.cgroup(id);
        cgroup.freeze()?;
        let result = f();
        cgroup.thaw()?;
        result
    }

    /// `path` in the container made absolute: a relative one is relative to its working
    /// directory, as `docker cp` has it.
    fn in_container(&self, id: &str, path: &Path) -> crate::Result<PathBuf> {
        if path.is_absolute() {
            return Ok(path.to_path_buf());
        }
        let mut joined = self.spec(id)?.cwd.join(path).into_os_string();
        // `dir/.` and `dir/` keep their meaning through the join.
        if path.as_os_str().is_empty() {
            joined.push("/");
        }
        Ok(PathBuf::from(joined))
    }

    /// Writes a tar of `path` in the container to `out` (`cp CONTAINER:PATH …`).
    pub fn copy_from(
        &self,
        id: &str,
        path: &Path,
        follow_link: bool,
        out: &mut dyn Write,
    ) -> crate::Result<Packed> {
        let root = self.files_root(id)?;
        let path = self.in_container(id, path)?;
        self.frozen(id, || {
            archive::pack(&root, &path, follow_link, out).map_err(|e| archive_err(id, e))
        })
    }

    /// What [`Runtime::copy_from`] of `path` would pack, before packing it.
    pub fn describe_path(&self, id: &str, path: &Path, follow_link: bool) -> crate::Result<Packed> {
        let root = self.files_root(id)?;
        let path = self.in_container(id, path)?;
        archive::describe(&root, &path, follow_link).map_err(|e| archive_err(id, e))
    }

    /// Unpacks a tar of `source` at `dest` in the container (`cp … CONTAINER:PATH`).
    pub fn copy_to(
        &self,
        id: &str,
        dest: &Path,
        source: &Packed,
        reader: impl Read,
        owner: Owner,
    ) -> crate::Result<()> {
        let root = self.files_root(id)?;
        let dest = self.in_container(id, dest)?;
        archive::unpack(&root, &dest, source, reader, owner).map_err(|e| archive_err(id, e))
    }

    /// Writes a tar of the container's whole root to `out` (`export`).
    pub fn export(&self, id: &str, out: &mut dyn Write) -> crate::Result<()> {
        let root = self.files_root(id)?;
        self.frozen(id, || {
            archive::pack(&root, Path::new("/"), false, out).map_err(|e| archive_err(id, e))
        })?;
        Ok(())
    }

    /// The image, layers and upper directory of a container made from an image; `None` for
    /// one running in a plain directory.
    pub fn container_layers(&self, id: &str) -> crate::Result<Option<ContainerLayers>> {
        let spec = self.spec(id)?;
        if spec.image.is_none() {
            return Ok(None);
        }
        let dir = self.rootfs_dir(id);
        let record = self.images.rootfs_record(&dir)?;
        Ok(Some(ContainerLayers {
            image: record.image,
            layers: record.layers,
            upper: dir.join("upper"),
        }))
    }

    /// Changes a container's limits (applied to its cgroup at once when it is alive) and its
    /// restart policy; both are recorded for its next starts.
    pub fn update(&self, id: &str, update: &Update) -> crate::Result<()> {
        let mut spec = self.spec(id)?;
        let resources = update.applied(&spec.resources);
        resources.validate().map_err(crate::spec::SpecError::from)?;
        if self.state(id)?.state.is_alive() {
            self.cgroup(id).apply(&resources)?;
        }
        spec.resources = resources;
        if let Some(policy) = update.restart {
            spec.restart = policy;
        }
        self.save_spec(id, &spec)
    }

    /// Replaces the attributes the container's events carry from now on (its name changed);
    /// its shim reads them again when the container exits.
    pub fn set_event_attributes(
        &self,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> crate::Result<()> {
        let mut spec = self.spec(id)?;
        spec.event_attributes = attributes;
        self.save_spec(id, &spec)
    }

    /// Records `spec` as the container's spec (`config.json`).
    fn save_spec(&self, id: &str, spec: &ContainerSpec) -> crate::Result<()> {
        let path = self.container_dir(id).join("config.json");
        let text = serde_json::to_vec(spec).map_err(|e| super::RuntimeError::Create {
            id: id.to_string(),
            message: format!("encode {}: {e}", path.display()),
        })?;
        write_private(&path, &text, Durability::Atomic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_changes_only_what_it_names() {
        let current = Resources {
            memory: Some(64 << 20),
            pids_limit: Some(100),
            ..Resources::default()
        };
        let next = Update {
            cpus: Some(0.5),
            memory: Some(32 << 20),
            ..Update::default()
        }
        .applied(&current);
        assert_eq!(next.memory, Some(32 << 20));
        assert_eq!(next.pids_limit, Some(100));
        assert_eq!(
            (next.cpu_quota, next.cpu_period),
            (Some(50_000), Some(100_000))
        );
    }
}
