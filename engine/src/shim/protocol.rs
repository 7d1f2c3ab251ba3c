//! Messages between the runtime, the shim and the in-container setup (JSON lines).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cgroups::Layout;
use crate::spec::ContainerSpec;

/// What the runtime hands the shim on its stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShimConfig {
    /// The container id.
    pub id: String,
    /// The container's directory under the data root (state, logs).
    pub container_dir: PathBuf,
    /// The container's runtime directory (exec fifo).
    pub run_dir: PathBuf,
    /// The data root (the event log lives there).
    pub data_root: PathBuf,
    /// The host's cgroup layout.
    pub layout: Layout,
    /// The container's cgroup, relative to the hierarchy roots.
    pub cgroup_path: String,
    /// The container spec.
    pub spec: ContainerSpec,
    /// The network namespace file to join (`container:` mode), resolved by the runtime.
    #[serde(default)]
    pub join_netns: Option<PathBuf>,
    /// The IPC namespace file to join (`ipc` of another container), resolved by the runtime.
    #[serde(default)]
    pub join_ipcns: Option<PathBuf>,
    /// The mount namespace file of that container, whose /dev/shm this one shares.
    #[serde(default)]
    pub shm_of: Option<PathBuf>,
}

/// What the shim sends the setup once its cgroup is in place.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SetupMessage {
    /// The container id (default host name).
    pub id: String,
    /// The container spec.
    pub spec: ContainerSpec,
    /// The fifo `start` opens to release the entrypoint.
    pub fifo: PathBuf,
    /// The host's cgroup layout (for /sys/fs/cgroup).
    pub layout: Layout,
    /// The mount namespace file of the container whose /dev/shm this one shares.
    #[serde(default)]
    pub shm_of: Option<PathBuf>,
}

/// The outcome of a step, reported upwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Report {
    /// Success; `pid` is the container init's host pid where it applies.
    Ok {
        /// Host pid of the container's init (0 when not applicable).
        pid: i32,
    },
    /// Failure with a message.
    Error {
        /// What went wrong.
        message: String,
    },
}
