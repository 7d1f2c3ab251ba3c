//! Container states, the transitions they allow, and the on-disk state record.
//!
//! The record lives in the container's directory as `state.json`. Every write is atomic and every
//! read-modify-write holds an exclusive `flock` on `state.lock`, because the shim (recording the
//! exit) and the caller (recording a start or a pause) may update it at the same moment.
//!
//! Writes are [`Durability::Atomic`]: the file is flushed before its rename, the directory is
//! not. A power loss may undo the last transition (the processes it describes are gone with the
//! machine anyway) but never leaves a torn record; it saves one device flush per transition.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::atomic::{Durability, write_with};

/// Errors of state records and transitions.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The transition is not allowed from the current state.
    #[error("container {id} is {from}: cannot {action}")]
    Transition {
        /// The container id.
        id: String,
        /// The current state.
        from: String,
        /// What was attempted.
        action: &'static str,
    },
    /// The record could not be read, parsed or written.
    #[error("state record {path}: {reason}")]
    Record {
        /// The record's path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The life-cycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ContainerState {
    /// Namespaces, rootfs and cgroup are set up; the entrypoint waits for `start`.
    Created,
    /// The entrypoint runs.
    Running,
    /// Every process of the container is frozen.
    Paused,
    /// The container's init has exited.
    Exited {
        /// The exit code (128 + signal when killed by a signal).
        code: i32,
        /// The kernel's OOM killer killed a process of the container.
        oom_killed: bool,
    },
}

/// An event that moves a container from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The entrypoint was released.
    Start,
    /// The container was frozen.
    Pause,
    /// The container was thawed.
    Resume,
    /// The container's init exited.
    Exit {
        /// The exit code.
        code: i32,
        /// Whether the OOM killer struck.
        oom_killed: bool,
    },
}

impl ContainerState {
    /// The state after `event`, or `None` when the event is not allowed in this state.
    pub fn apply(self, event: Transition) -> Option<ContainerState> {
        use ContainerState as S;
        match (self, event) {
            (S::Created, Transition::Start) => Some(S::Running),
            (S::Running, Transition::Pause) => Some(S::Paused),
            (S::Paused, Transition::Resume) => Some(S::Running),
            (S::Created | S::Running | S::Paused, Transition::Exit { code, oom_killed }) => {
                Some(S::Exited { code, oom_killed })
            }
            _ => None,
        }
    }

    /// Whether the container's processes may still exist.
    pub fn is_alive(self) -> bool {
        !matches!(self, ContainerState::Exited { .. })
    }

    /// A short lower-case name (`created`, `running`, `paused`, `exited`).
    pub fn name(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Exited { .. } => "exited",
        }
    }
}

/// The persistent record of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    /// The container id.
    pub id: String,
    /// The current state.
    pub state: ContainerState,
    /// Host pid of the container's init (PID 1 inside).
    pub pid: Option<i32>,
    /// Host pid of the container's shim.
    pub shim_pid: Option<i32>,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_at: u64,
    /// Start time, nanoseconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Exit time, nanoseconds since the Unix epoch.
    pub finished_at: Option<u64>,
    /// Healthcheck state, when the container has a check.
    #[serde(default)]
    pub health: Option<crate::health::Health>,
    /// The last exit was requested by a user (stop); cleared by start. Suppresses restarts.
    #[serde(default)]
    pub manually_stopped: bool,
    /// Restart bookkeeping of the supervisor.
    #[serde(default)]
    pub restart: crate::restart::RestartTracker,
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_nanos() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// The state record of one container directory.
#[derive(Debug, Clone)]
pub(crate) struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// The store of the container whose directory is `dir`.
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The record's path.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn err(&self, reason: impl ToString) -> StateError {
        StateError::Record {
            path: self.path(),
            reason: reason.to_string(),
        }
    }

    /// Reads the record.
    pub(crate) fn load(&self) -> Result<StateRecord, StateError> {
        let text = std::fs::read(self.path()).map_err(|e| self.err(e))?;
        serde_json::from_slice(&text).map_err(|e| self.err(e))
    }

    /// Writes the record atomically (no lock: only for the first write).
    pub(crate) fn save(&self, record: &StateRecord) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(record).map_err(|e| self.err(e))?;
        write_with(&self.path(), &text, Durability::Atomic).map_err(|e| self.err(e))
    }

    /// Read-modify-write under the record's lock. `change` may refuse by returning an error.
    pub(crate) fn update<T>(
        &self,
        change: impl FnOnce(&mut StateRecord) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let _lock = self.lock()?;
        let mut record = self.load()?;
        let out = change(&mut record)?;
        self.save(&record)?;
        Ok(out)
    }

    /// [`StateStore::update`] that writes only when `change` changed the record: a decision
    /// that leaves everything as it was costs no flush.
    pub(crate) fn update_if_changed<T>(
        &self,
        change: impl FnOnce(&mut StateRecord) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut record = before.clone();
        let out = change(&mut record)?;
        if record != before {
            self.save(&record)?;
        }
        Ok(out)
    }

    /// Applies `event` under the lock, stamping times; refuses transitions the state forbids.
    pub(crate) fn transition(
        &self,
        event: Transition,
        action: &'static str,
    ) -> Result<StateRecord, StateError> {
        self.update(|rec| {
            let next = rec
                .state
                .apply(event)
                .ok_or_else(|| StateError::Transition {
                    id: rec.id.clone(),
                    from: rec.state.name().to_string(),
                    action,
                })?;
            match event {
                Transition::Start => {
                    rec.started_at = Some(now_nanos());
                    rec.manually_stopped = false;
                }
                Transition::Exit { .. } => rec.finished_at = Some(now_nanos()),
                Transition::Pause | Transition::Resume => {}
            }
            rec.state = next;
            Ok(rec.clone())
        })
    }

    fn lock(&self) -> Result<Flock<File>, StateError> {
        let path = self.dir.join("state.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| self.err(format!("open lock {}: {e}", path.display())))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| self.err(format!("lock: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXIT0: Transition = Transition::Exit {
        code: 0,
        oom_killed: false,
    };

    #[test]
    fn transition_table() {
        use ContainerState as S;
        let exited = S::Exited {
            code: 0,
            oom_killed: false,
        };
        let cases = [
            (S::Created, Transition::Start, Some(S::Running)),
            (S::Created, Transition::Pause, None),
            (S::Created, EXIT0, Some(exited)),
            (S::Running, Transition::Start, None),
            (S::Running, Transition::Pause, Some(S::Paused)),
            (S::Running, Transition::Resume, None),
            (S::Running, EXIT0, Some(exited)),
            (S::Paused, Transition::Resume, Some(S::Running)),
            (S::Paused, Transition::Start, None),
            (S::Paused, EXIT0, Some(exited)),
            (exited, Transition::Start, None),
            (exited, EXIT0, None),
            (exited, Transition::Resume, None),
        ];
        for (from, event, want) in cases {
            assert_eq!(from.apply(event), want, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn store_round_trip_and_refused_transition() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let rec = StateRecord {
            id: "c1".into(),
            state: ContainerState::Created,
            pid: Some(42),
            shim_pid: Some(41),
            created_at: now_nanos(),
            started_at: None,
            finished_at: None,
            health: None,
            manually_stopped: false,
            restart: Default::default(),
        };
        store.save(&rec).unwrap();
        assert_eq!(store.load().unwrap(), rec);
        let started = store.transition(Transition::Start, "start").unwrap();
        assert_eq!(started.state, ContainerState::Running);
        assert!(started.started_at.is_some());
        let err = store.transition(Transition::Start, "start").unwrap_err();
        assert_eq!(err.to_string(), "container c1 is running: cannot start");
        let exited = store
            .transition(
                Transition::Exit {
                    code: 3,
                    oom_killed: true,
                },
                "exit",
            )
            .unwrap();
        assert_eq!(
            exited.state,
            ContainerState::Exited {
                code: 3,
                oom_killed: true
            }
        );
        assert_eq!(store.load().unwrap(), exited);
    }

    #[test]
    fn update_if_changed_writes_only_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let rec = StateRecord {
            id: "c1".into(),
            state: ContainerState::Created,
            pid: None,
            shim_pid: None,
            created_at: 1,
            started_at: None,
            finished_at: None,
            health: None,
            manually_stopped: false,
            restart: Default::default(),
        };
        store.save(&rec).unwrap();
        let inode = |p: &std::path::Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).unwrap().ino()
        };
        let first = inode(&store.path());
        store.update_if_changed(|_| Ok(())).unwrap();
        assert_eq!(
            inode(&store.path()),
            first,
            "an unchanged record was rewritten"
        );
        store
            .update_if_changed(|r| {
                r.manually_stopped = true;
                Ok(())
            })
            .unwrap();
        assert!(store.load().unwrap().manually_stopped);
        assert_ne!(inode(&store.path()), first, "a change was not written");
    }

    #[test]
    fn corrupt_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state.json"), b"{not json").unwrap();
        let err = StateStore::new(dir.path()).load().unwrap_err();
        assert!(err.to_string().contains("state.json"), "{err}");
    }
}
