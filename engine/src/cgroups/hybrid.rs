//! The hybrid manager: limits, stats and the freezer in the v1 hierarchies, plus a group in the
//! (controller-less) unified hierarchy that tracks every process and kills them all atomically
//! through `cgroup.kill`.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{CgroupError, CgroupManager, Stats, V1Manager, V2Manager};
use crate::spec::Resources;

/// v1 for control, v2 for tracking.
#[derive(Debug, Clone)]
pub(crate) struct HybridManager {
    v1: V1Manager,
    v2: V2Manager,
}

impl HybridManager {
    /// Combines the two managers of the same group.
    pub(crate) fn new(v1: V1Manager, v2: V2Manager) -> Self {
        Self { v1, v2 }
    }
}

impl CgroupManager for HybridManager {
    fn create(&self) -> Result<(), CgroupError> {
        self.v1.create()?;
        self.v2.create()
    }

    fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        self.v1.add_pid(pid)?;
        self.v2.add_pid(pid)
    }

    fn apply(&self, resources: &Resources) -> Result<(), CgroupError> {
        self.v1.apply(resources)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        self.v1.stats()
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        self.v1.freeze()
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        self.v1.thaw()
    }

    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        self.v2.pids()
    }

    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        if signal == Signal::SIGKILL {
            self.v2.kill_all(signal)
        } else {
            self.v1.kill_all(signal)
        }
    }

    fn remove(&self) -> Result<(), CgroupError> {
        self.v2.remove()?;
        self.v1.remove()
    }
}
