//! cgroups for containers: one small [`CgroupManager`] trait with v1, v2 and hybrid
//! implementations, chosen by probing the host's mounts.
//!
//! The managers write the kernel's cgroup files directly. The limits the engine needs are a
//! handful of files per version; the crates in this field either model the OCI spec types
//! (youki's libcgroups) or do not cover the hybrid layout the way we need (cgroups-rs), and both
//! pull in far more than a few `write(2)` calls. Every constructor takes the hierarchy roots, so
//! tests run against their own parent group, or a plain directory standing in for one.

mod fsutil;
mod hybrid;
mod probe;
mod v1;
mod v2;

use std::path::PathBuf;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::spec::Resources;

pub(crate) use hybrid::HybridManager;
pub use probe::Layout;
pub(crate) use v1::V1Manager;
#[cfg(feature = "testing")]
pub use v2::V2Manager;
#[cfg(not(feature = "testing"))]
pub(crate) use v2::V2Manager;

/// Errors of cgroup operations.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file or directory operation failed.
    #[error("cgroup {op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A cgroup file held something unexpected.
    #[error("cgroup file {path}: unexpected content {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// A limit needs a controller this hierarchy does not have.
    #[error("cgroup controller {0} is not available on this host")]
    MissingController(&'static str),
    /// No cgroup hierarchy is mounted.
    #[error("no cgroup hierarchy found in /proc/self/mountinfo")]
    NoHierarchy,
    /// Freezing did not complete in time.
    #[error("cgroup {0}: freezing timed out")]
    FreezeTimeout(PathBuf),
    /// The group still had processes when it was to be removed.
    #[error("cgroup {0}: still busy after killing its processes")]
    Busy(PathBuf),
}

/// Resource usage of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Current memory usage in bytes.
    pub memory_usage: u64,
    /// The memory limit in bytes (`None` = unlimited).
    pub memory_limit: Option<u64>,
    /// How many times the OOM killer killed a process of the group.
    pub oom_kills: u64,
    /// Number of processes.
    pub pids_current: u64,
    /// Total CPU time in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Number of periods in which the group was throttled.
    pub cpu_throttled_periods: u64,
    /// Bytes the group read from block devices.
    pub block_read_bytes: u64,
    /// Bytes the group wrote to block devices.
    pub block_write_bytes: u64,
    /// Bytes the container's network interfaces received (its own network namespace's, the
    /// loopback left out; 0 on the host's network). Read by the runtime, not the cgroup.
    pub net_rx_bytes: u64,
    /// Bytes they sent.
    pub net_tx_bytes: u64,
}

testing_pub! {
    /// Operations on one container's cgroup.
    trait CgroupManager {
        /// Creates the group (and missing parents).
        fn create(&self) -> Result<(), CgroupError>;
        /// Moves a process into the group.
        fn add_pid(&self, pid: Pid) -> Result<(), CgroupError>;
        /// Writes the limits.
        fn apply(&self, resources: &Resources) -> Result<(), CgroupError>;
        /// Reads usage counters.
        fn stats(&self) -> Result<Stats, CgroupError>;
        /// Freezes every process of the group; returns once they are frozen.
        fn freeze(&self) -> Result<(), CgroupError>;
        /// Thaws the group.
        fn thaw(&self) -> Result<(), CgroupError>;
        /// The processes in the group (host pids).
        fn pids(&self) -> Result<Vec<Pid>, CgroupError>;
        /// Sends `signal` to every process of the group.
        fn kill_all(&self, signal: Signal) -> Result<(), CgroupError>;
        /// Removes the group, killing what is left in it first; absent groups are fine.
        fn remove(&self) -> Result<(), CgroupError>;
    }
}

/// A manager for whichever layout the host has.
#[derive(Debug, Clone)]
pub(crate) enum AnyManager {
    /// Pure v1.
    V1(V1Manager),
    /// Pure v2.
    V2(V2Manager),
    /// v1 controllers plus the unified hierarchy for tracking and killing.
    Hybrid(HybridManager),
}

impl AnyManager {
    /// A manager for the group `relative` (e.g. `bosun/<id>`) under the given layout's roots.
    pub(crate) fn for_layout(layout: &Layout, relative: &str) -> Self {
        match layout {
            Layout::V1 { controllers } => {
                AnyManager::V1(V1Manager::with_roots(controllers.clone(), relative))
            }
            Layout::V2 { unified } => {
                AnyManager::V2(V2Manager::with_root(unified.clone(), relative))
            }
            Layout::Hybrid {
                controllers,
                unified,
            } => AnyManager::Hybrid(HybridManager::new(
                V1Manager::with_roots(controllers.clone(), relative),
                V2Manager::with_root(unified.clone(), relative),
            )),
        }
    }

    fn inner(&self) -> &dyn CgroupManager {
        match self {
            AnyManager::V1(m) => m,
            AnyManager::V2(m) => m,
            AnyManager::Hybrid(m) => m,
        }
    }
}

impl CgroupManager for AnyManager {
    fn create(&self) -> Result<(), CgroupError> {
        self.inner().create()
    }
    fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        self.inner().add_pid(pid)
    }
    fn apply(&self, resources: &Resources) -> Result<(), CgroupError> {
        self.inner().apply(resources)
    }
    fn stats(&self) -> Result<Stats, CgroupError> {
        self.inner().stats()
    }
    fn freeze(&self) -> Result<(), CgroupError> {
        self.inner().freeze()
    }
    fn thaw(&self) -> Result<(), CgroupError> {
        self.inner().thaw()
    }
    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        self.inner().pids()
    }
    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        self.inner().kill_all(signal)
    }
    fn remove(&self) -> Result<(), CgroupError> {
        self.inner().remove()
    }
}
