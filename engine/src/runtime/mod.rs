//! The lifecycle API: create, start, kill, stop, wait, pause, unpause, remove, stats, logs.
//!
//! Each container has a directory under `<data_root>/containers/<id>` (spec, state record,
//! logs) and one under `<run_root>/<id>` (the exec fifo). A detached shim parents the container,
//! so a new [`Runtime`] over the same roots re-adopts running containers from their records.

mod create;
mod etc_files;
mod exec;
mod files;
mod health;
mod logs;
mod net;
mod net_io;
mod recover;
mod restart;
mod storage;
mod top;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cgroups::{AnyManager, CgroupManager, Layout, Stats};
use crate::events::{Action, EventLog};
use crate::image::ImageStore;
use crate::network::Networks;
use crate::process::pidfd::PidFd;
use crate::sealed::SealedExe;
use crate::state::{ContainerState, StateRecord, StateStore, Transition};
use crate::volume::VolumeStore;

#[cfg(feature = "testing")]
pub use etc_files::{hosts, resolv_conf};
pub(crate) use exec::ExecConfig;
pub use exec::{ExecKiller, ExecOutput, ExecProcess, ExecSpec};
pub use files::{ContainerLayers, Update};
pub use net::DEFAULT_NETWORK;
pub use recover::Recovered;
pub use top::{ProcessInfo, TOP_TITLES};

/// The longest one sleep of [`Runtime::wait`] lasts before it checks its deadline again.
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// How often [`Runtime::wait`] reads the record of a container whose shim is gone.
const ORPHAN_POLL: Duration = Duration::from_millis(20);

/// Errors of lifecycle operations.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The id is not usable as a directory and cgroup name.
    #[error("invalid container id {0:?}: use 1-64 characters of [A-Za-z0-9_.-]")]
    InvalidId(String),
    /// A container with this id exists.
    #[error("container {0} already exists")]
    AlreadyExists(String),
    /// No container with this id.
    #[error("no such container: {0}")]
    NotFound(String),
    /// The spec asks for something this runtime does not do.
    #[error("container {id}: {what} is not supported")]
    Unsupported {
        /// The container id.
        id: String,
        /// The feature.
        what: &'static str,
    },
    /// The shim or the container setup failed.
    #[error("container {id}: {message}")]
    Create {
        /// The container id.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// The container is not in a state that allows the operation.
    #[error("container {id} is {state}: cannot {action}")]
    Conflict {
        /// The container id.
        id: String,
        /// Its state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// Waiting timed out.
    #[error("container {id}: timed out waiting to {action}")]
    Timeout {
        /// The container id.
        id: String,
        /// What was awaited.
        action: &'static str,
    },
    /// Running a process in the container failed.
    #[error("exec in container {id}: {message}")]
    Exec {
        /// The container id.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// Signalling the container failed.
    #[error("signal container {id}: {source}")]
    Signal {
        /// The container id.
        id: String,
        /// The errno.
        source: Errno,
    },
}

/// Where a runtime keeps its containers and which binary it re-executes.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Data root (`containers/<id>` lives here).
    pub data_root: PathBuf,
    /// Runtime root (per-container runtime dirs).
    pub run_root: PathBuf,
    /// cgroup parent, relative to the hierarchy roots (e.g. `bosun`).
    pub cgroup_parent: String,
    /// The executable whose sealed copy is re-exec'd for the shim, setup, init and exec
    /// helpers; it must call [`crate::entry::dispatch`].
    pub exe: PathBuf,
}

impl RuntimeConfig {
    /// A config over the given roots, the `bosun` cgroup parent and the current executable.
    pub fn new(data_root: impl Into<PathBuf>, run_root: impl Into<PathBuf>) -> crate::Result<Self> {
        let exe = std::env::current_exe().map_err(|source| crate::Error::Io {
            op: "resolve",
            path: "/proc/self/exe".into(),
            source,
        })?;
        Ok(Self {
            data_root: data_root.into(),
            run_root: run_root.into(),
            cgroup_parent: "bosun".into(),
            exe,
        })
    }
}

/// The container runtime of this node.
#[derive(Debug, Clone)]
pub struct Runtime {
    config: RuntimeConfig,
    layout: Layout,
    sealed: SealedExe,
    events: EventLog,
    images: ImageStore,
    volumes: VolumeStore,
    networks: Networks,
}

impl Runtime {
    /// A runtime over `config`, probing the host's cgroup layout.
    pub fn new(config: RuntimeConfig) -> crate::Result<Self> {
        let layout = Layout::probe()?;
        Self::with_layout(config, layout)
    }

    testing_pub! {
        /// A runtime with an explicit cgroup layout. Makes the sealed copy of the executable.
        fn with_layout(config: RuntimeConfig, layout: Layout) -> crate::Result<Self> {
            let sealed = SealedExe::copy_of(&config.exe).map_err(|source| crate::Error::Io {
                op: "make a sealed copy of",
                path: config.exe.clone(),
                source,
            })?;
            let runtime = Self {
                events: EventLog::new(&config.data_root),
                images: ImageStore::open(&config.data_root)?,
                volumes: VolumeStore::open(&config.data_root)?,
                networks: Networks::new(&config.data_root)?,
                config,
                layout,
                sealed,
            };
            runtime.sweep_trash();
            Ok(runtime)
        }
    }

    /// The node's event log.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// The image store container rootfs are made from.
    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    /// The volumes containers mount.
    pub fn volumes(&self) -> &VolumeStore {
        &self.volumes
    }

    /// The networks containers join.
    pub fn networks(&self) -> &Networks {
        &self.networks
    }

    /// The host cgroup layout in use.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    testing_pub! {
        /// The container's directory under the data root.
        fn container_dir(&self, id: &str) -> PathBuf {
            self.config.data_root.join("containers").join(id)
        }
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.config.run_root.join(id)
    }

    fn cgroup_path(&self, id: &str) -> String {
        format!("{}/{id}", self.config.cgroup_parent.trim_matches('/'))
    }

    /// The cgroup manager of a container.
    pub(crate) fn cgroup(&self, id: &str) -> AnyManager {
        AnyManager::for_layout(&self.layout, &self.cgroup_path(id))
    }

    fn store(&self, id: &str) -> crate::Result<StateStore> {
        check_id(id)?;
        let dir = self.container_dir(id);
        if !dir.join("state.json").exists() {
            return Err(RuntimeError::NotFound(id.to_string()).into());
        }
        Ok(StateStore::new(dir))
    }

    /// The container's state record.
    pub fn state(&self, id: &str) -> crate::Result<StateRecord> {
        Ok(self.store(id)?.load()?)
    }

    /// The ids of every container with a state record.
    pub fn list(&self) -> crate::Result<Vec<String>> {
        let dir = self.config.data_root.join("containers");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(crate::Error::Io {
                    op: "list",
                    path: dir,
                    source,
                });
            }
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Sends `signal` to the container's init.
    pub fn kill(&self, id: &str, signal: Signal) -> crate::Result<()> {
        let record = self.state(id)?;
        let Some(pid) = record.pid.filter(|_| record.state.is_alive()) else {
            return Err(conflict(id, record.state, "kill"));
        };
        self.events
            .emit_or_warn(&self.event(id, Action::Kill).with("signal", signal as i32));
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(source) => Err(RuntimeError::Signal {
                id: id.to_string(),
                source,
            }
            .into()),
        }
    }

    /// Waits until the container has exited and returns its final state.
    ///
    /// Event-driven: the shim records the exit and then exits, so the wait sleeps on a pidfd of
    /// the shim and reads the record when it wakes. Only a shim that died without recording
    /// anything (killed by hand) leaves the wait polling the record.
    pub fn wait(&self, id: &str, timeout: Option<Duration>) -> crate::Result<ContainerState> {
        let store = self.store(id)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut shim: Option<(i32, Option<PidFd>)> = None;
        loop {
            let record = store.load()?;
            if !record.state.is_alive() {
                return Ok(record.state);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(RuntimeError::Timeout {
                    id: id.to_string(),
                    action: "exit",
                }
                .into());
            }
            let slice = left.map_or(WAIT_SLICE, |l| l.min(WAIT_SLICE));
            match (&shim, record.shim_pid) {
                // A shim not watched yet (or a new one after a restart): open its pidfd, then
                // read the record again, which closes the race with an exit meanwhile.
                (None, Some(pid)) => shim = Some((pid, PidFd::open(pid).ok())),
                (Some((watched, _)), Some(pid)) if *watched != pid => {
                    shim = Some((pid, PidFd::open(pid).ok()));
                }
                (Some((_, Some(pidfd))), _) => {
                    if pidfd.wait_exit(slice) {
                        // Gone: whatever it recorded is read above; should it have recorded
                        // nothing, the record is polled from now on.
                        shim = Some((record.shim_pid.unwrap_or(0), None));
                    }
                }
                _ => std::thread::sleep(slice.min(ORPHAN_POLL)),
            }
        }
    }

    /// Sends the stop signal, waits the grace period (`None` = the spec's), then kills every
    /// process of the container. Returns the final state.
    pub fn stop(&self, id: &str, grace: Option<Duration>) -> crate::Result<ContainerState> {
        let record = self.state(id)?;
        if !record.state.is_alive() {
            return Ok(record.state);
        }
        let spec = self.spec(id)?;
        // A stop by a user suppresses restarts.
        self.store(id)?.update(|rec| {
            rec.manually_stopped = true;
            Ok(())
        })?;
        self.events.emit_or_warn(&self.event(id, Action::Stop));
        let signal = Signal::try_from(spec.stop_signal).unwrap_or(Signal::SIGTERM);
        self.kill(id, signal)?;
        if record.state == ContainerState::Paused {
            self.unpause(id)?;
        }
        let state = match self.wait(id, Some(grace.unwrap_or(spec.stop_grace_period))) {
            Ok(state) => state,
            Err(_) => {
                // It may have exited since the wait gave up: that is what stop wants.
                if let Err(err) = self.kill(id, Signal::SIGKILL)
                    && self.state(id)?.state.is_alive()
                {
                    return Err(err);
                }
                self.cgroup(id).kill_all(Signal::SIGKILL)?;
                self.wait(id, Some(Duration::from_secs(10)))?
            }
        };
        self.release_network(id)?;
        Ok(state)
    }

    /// Freezes every process of the container.
    pub fn pause(&self, id: &str) -> crate::Result<()> {
        let store = self.store(id)?;
        let state = store.load()?.state;
        if state != ContainerState::Running {
            return Err(conflict(id, state, "pause"));
        }
        self.cgroup(id).freeze()?;
        store.transition(Transition::Pause, "pause")?;
        self.events.emit_or_warn(&self.event(id, Action::Pause));
        Ok(())
    }

    /// Thaws a paused container.
    pub fn unpause(&self, id: &str) -> crate::Result<()> {
        let store = self.store(id)?;
        let state = store.load()?.state;
        if state != ContainerState::Paused {
            return Err(conflict(id, state, "unpause"));
        }
        self.cgroup(id).thaw()?;
        store.transition(Transition::Resume, "unpause")?;
        self.events.emit_or_warn(&self.event(id, Action::Unpause));
        Ok(())
    }

    /// Resource usage of a live container.
    pub fn stats(&self, id: &str) -> crate::Result<Stats> {
        let record = self.state(id)?;
        let mut stats = self.cgroup(id).stats()?;
        if let Some(pid) = record.pid.filter(|_| record.state.is_alive()) {
            (stats.net_rx_bytes, stats.net_tx_bytes) = net_io::net_bytes(pid);
        }
        Ok(stats)
    }

    /// Removes the container; a running or paused one only with `force` (it is killed first).
    /// A created container runs nothing of the user's yet, so it goes without `force`, as with
    /// Docker.
    pub fn remove(&self, id: &str, force: bool) -> crate::Result<()> {
        let record = self.state(id)?;
        if record.state.is_alive() {
            if !force && record.state != ContainerState::Created {
                return Err(conflict(id, record.state, "remove (stop it or force)"));
            }
            let cgroup = self.cgroup(id);
            if record.state == ContainerState::Paused {
                cgroup.thaw()?;
            }
            self.kill(id, Signal::SIGKILL)?;
            cgroup.kill_all(Signal::SIGKILL)?;
            self.wait(id, Some(Duration::from_secs(10)))?;
        }
        // The shim writes its last records after the init is reaped: let it finish. A zombie
        // shim (re-parented to an init that does not reap) counts as finished.
        if let Some(shim) = self.state(id)?.shim_pid
            && let Ok(pidfd) = PidFd::open(shim)
        {
            pidfd.wait_exit(Duration::from_secs(2));
        }
        self.cgroup(id).remove()?;
        self.release_network(id)?;
        self.release_rootfs(id)?;
        // The run dir holds at most an unused fifo; the container's files go to the trash, so
        // the container is gone as soon as the rename is done.
        let run_dir = self.run_dir(id);
        storage::remove_any(&run_dir).map_err(|source| crate::Error::Io {
            op: "remove",
            path: run_dir,
            source,
        })?;
        let dir = self.container_dir(id);
        // Made while the container's spec is still there to read its attributes from.
        let destroyed = self.event(id, Action::Destroy);
        self.discard(&dir).map_err(|source| crate::Error::Io {
            op: "remove",
            path: dir,
            source,
        })?;
        self.events.emit_or_warn(&destroyed);
        Ok(())
    }
}

fn conflict(id: &str, state: ContainerState, action: &'static str) -> crate::Error {
    RuntimeError::Conflict {
        id: id.to_string(),
        state: state.name(),
        action,
    }
    .into()
}

/// Accepts ids usable as file and cgroup names.
fn check_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::InvalidId(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "web-1", "proj_web.1", &"x".repeat(64)] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "..", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
