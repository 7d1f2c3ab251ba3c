//! [`Batch`]: one operation over a set of containers, and [`run_batch`], which runs it on every
//! container at once.

use std::thread;
use std::time::Duration;

use crate::compose::backend::Backend;
use crate::compose::error::BackendError;

/// What a lifecycle command does to one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerOp {
    /// Start it (an exited container runs again).
    Start,
    /// Stop it: its stop signal, SIGKILL after the timeout (the container's own when `None`).
    Stop {
        /// The grace period (`-t`).
        timeout: Option<Duration>,
    },
    /// Stop it as [`ContainerOp::Stop`] does, then start it again.
    Restart {
        /// The grace period (`-t`).
        timeout: Option<Duration>,
    },
    /// Send it a signal.
    Kill {
        /// The signal's number.
        signal: i32,
    },
    /// Remove it (stopped).
    Remove {
        /// Remove its anonymous volumes too (`rm -v`).
        anonymous_volumes: bool,
    },
    /// Freeze its processes.
    Pause,
    /// Thaw its processes.
    Unpause,
}

impl ContainerOp {
    /// The word Compose reports a container with once the operation is done
    /// (`Container demo-web-1  Stopped`).
    pub fn done_word(self) -> &'static str {
        match self {
            Self::Start => "Started",
            Self::Stop { .. } => "Stopped",
            Self::Restart { .. } => "Restarted",
            Self::Kill { .. } => "Killed",
            Self::Remove { .. } => "Removed",
            Self::Pause => "Paused",
            Self::Unpause => "Unpaused",
        }
    }

    /// The word Compose reports a container with while the operation runs (`Container
    /// demo-web-1  Stopping`); none for pause and unpause, which Compose reports once done.
    pub fn working_word(self) -> Option<&'static str> {
        match self {
            Self::Start => Some("Starting"),
            Self::Stop { .. } => Some("Stopping"),
            Self::Restart { .. } => Some("Restarting"),
            Self::Kill { .. } => Some("Killing"),
            Self::Remove { .. } => Some("Removing"),
            Self::Pause | Self::Unpause => None,
        }
    }

    /// Applies the operation to the container `name`.
    pub fn apply(self, backend: &dyn Backend, name: &str) -> Result<(), BackendError> {
        match self {
            Self::Start => backend.start_container(name),
            Self::Stop { timeout } => backend.stop_container(name, timeout),
            Self::Restart { timeout } => backend.restart_container(name, timeout),
            Self::Kill { signal } => backend.kill_container(name, signal),
            Self::Remove { anonymous_volumes } => backend.remove_container(name, anonymous_volumes),
            Self::Pause => backend.pause_container(name),
            Self::Unpause => backend.unpause_container(name),
        }
    }
}

/// One operation over containers that do not wait for one another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// What is done to each.
    pub op: ContainerOp,
    /// The containers' names, sorted.
    pub containers: Vec<String>,
}

impl Batch {
    /// `op` over `containers` (sorted here).
    pub fn new(op: ContainerOp, mut containers: Vec<String>) -> Self {
        containers.sort();
        Self { op, containers }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }
}

/// How the operation went on one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The container.
    pub container: String,
    /// What the backend said.
    pub result: Result<(), BackendError>,
}

/// Runs `batch` on every one of its containers at once; the outcomes in the batch's (name)
/// order. A failure on one container does not stop the others.
pub fn run_batch(backend: &dyn Backend, batch: &Batch) -> Vec<Outcome> {
    let op = batch.op;
    thread::scope(|scope| {
        let calls: Vec<_> = batch
            .containers
            .iter()
            .map(|name| (name, scope.spawn(move || op.apply(backend, name))))
            .collect();
        calls
            .into_iter()
            .map(|(name, call)| Outcome {
                container: name.clone(),
                result: call
                    .join()
                    .unwrap_or_else(|_| Err(BackendError::other("the backend panicked"))),
            })
            .collect()
    })
}
