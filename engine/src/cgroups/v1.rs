//! The cgroup v1 manager: one directory per controller hierarchy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::fsutil::{self, join};
use super::{CgroupError, CgroupManager, Stats};
use crate::spec::Resources;

/// Devices a container may use (Docker's default allow list), after denying everything.
const DEVICE_RULES: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// Memory limits at or above this are "unlimited" in v1.
const V1_UNLIMITED: u64 = 1 << 62;

/// A container group in the v1 hierarchies.
#[derive(Debug, Clone)]
pub(crate) struct V1Manager {
    roots: BTreeMap<String, PathBuf>,
    relative: String,
}

impl V1Manager {
    /// The group `relative` under each controller's hierarchy root (`controller -> mount point`).
    pub(crate) fn with_roots(roots: BTreeMap<String, PathBuf>, relative: &str) -> Self {
        Self {
            roots,
            relative: relative.trim_matches('/').to_string(),
        }
    }

    /// The group's directory in `controller`'s hierarchy.
    pub(crate) fn dir(&self, controller: &'static str) -> Result<PathBuf, CgroupError> {
        self.roots
            .get(controller)
            .map(|root| join(root, &self.relative))
            .ok_or(CgroupError::MissingController(controller))
    }

    /// Every distinct group directory (co-mounted controllers share one).
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .roots
            .values()
            .map(|root| join(root, &self.relative))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Creates the cpuset group level by level, copying `cpus`/`mems` from the parent where they
    /// are empty (v1 refuses tasks in a cpuset without them).
    fn create_cpuset(&self, root: &Path) -> Result<(), CgroupError> {
        let mut dir = root.to_path_buf();
        for part in self.relative.split('/').filter(|p| !p.is_empty()) {
            let parent = dir.clone();
            dir.push(part);
            fsutil::create_dir(&dir)?;
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if fsutil::read(&dir.join(file))?.is_empty() {
                    fsutil::write(&dir.join(file), &fsutil::read(&parent.join(file))?)?;
                }
            }
        }
        Ok(())
    }

    fn procs_dir(&self) -> Option<PathBuf> {
        ["pids", "freezer", "memory"]
            .iter()
            .find_map(|c| self.dir(c).ok())
    }
}

impl CgroupManager for V1Manager {
    fn create(&self) -> Result<(), CgroupError> {
        if let Some(root) = self.roots.get("cpuset") {
            self.create_cpuset(root)?;
        }
        for dir in self.dirs() {
            fsutil::create_dir(&dir)?;
        }
        if let Ok(dir) = self.dir("devices") {
            fsutil::write(&dir.join("devices.deny"), "a")?;
            for rule in DEVICE_RULES {
                fsutil::write(&dir.join("devices.allow"), rule)?;
            }
        }
        Ok(())
    }

    fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            fsutil::write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn apply(&self, r: &Resources) -> Result<(), CgroupError> {
        if r.memory.is_some() || r.memory_swap.is_some() {
            let dir = self.dir("memory")?;
            if let Some(memory) = r.memory {
                fsutil::write(&dir.join("memory.limit_in_bytes"), &memory.to_string())?;
            }
            // Docker's default without --memory-swap: as much swap as memory.
            let memsw = r.memory_swap.or(r.memory.map(|m| m.saturating_mul(2)));
            let memsw_file = dir.join("memory.memsw.limit_in_bytes");
            if let Some(memsw) = memsw
                && memsw_file.exists()
            {
                fsutil::write(&memsw_file, &memsw.to_string())?;
            }
        }
        if r.cpu_shares.is_some() || r.cpu_quota.is_some() || r.cpu_period.is_some() {
            let dir = self.dir("cpu")?;
            if let Some(shares) = r.cpu_shares {
                fsutil::write(&dir.join("cpu.shares"), &shares.to_string())?;
            }
            if let Some(period) = r.cpu_period {
                fsutil::write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
            }
            if let Some(quota) = r.cpu_quota {
                fsutil::write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        if r.cpuset_cpus.is_some() || r.cpuset_mems.is_some() {
            let dir = self.dir("cpuset")?;
            if let Some(cpus) = &r.cpuset_cpus {
                fsutil::write(&dir.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = &r.cpuset_mems {
                fsutil::write(&dir.join("cpuset.mems"), mems)?;
            }
        }
        if let Some(limit) = r.pids_limit {
            let value = if limit > 0 {
                limit.to_string()
            } else {
                "max".to_string()
            };
            fsutil::write(&self.dir("pids")?.join("pids.max"), &value)?;
        }
        Ok(())
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let mut stats = Stats::default();
        if let Ok(dir) = self.dir("memory") {
            stats.memory_usage = fsutil::read_u64(&dir.join("memory.usage_in_bytes"))?.unwrap_or(0);
            stats.memory_limit =
                fsutil::read_u64(&dir.join("memory.limit_in_bytes"))?.filter(|l| *l < V1_UNLIMITED);
            stats.oom_kills = fsutil::read_keyed(&dir.join("memory.oom_control"), "oom_kill")?;
        }
        if let Ok(dir) = self.dir("pids") {
            stats.pids_current = fsutil::read_u64(&dir.join("pids.current"))?.unwrap_or(0);
        }
        if let Ok(dir) = self.dir("cpuacct") {
            stats.cpu_usage_ns = fsutil::read_u64(&dir.join("cpuacct.usage"))?.unwrap_or(0);
        }
        if let Ok(dir) = self.dir("cpu") {
            stats.cpu_throttled_periods =
                fsutil::read_keyed(&dir.join("cpu.stat"), "nr_throttled")?;
        }
        if let Ok(dir) = self.dir("blkio") {
            let file = dir.join("blkio.throttle.io_service_bytes");
            if file.exists() {
                (stats.block_read_bytes, stats.block_write_bytes) =
                    fsutil::blkio_v1_bytes(&fsutil::read(&file)?);
            }
        }
        Ok(stats)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let file = self.dir("freezer")?.join("freezer.state");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            fsutil::write(&file, "FROZEN")?;
            if fsutil::read(&file)? == "FROZEN" {
                return Ok(());
            }
            if Instant::now() > deadline {
                // Leave no half-frozen group behind.
                fsutil::write(&file, "THAWED")?;
                return Err(CgroupError::FreezeTimeout(file));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        fsutil::write(&self.dir("freezer")?.join("freezer.state"), "THAWED")
    }

    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        match self.procs_dir() {
            Some(dir) => fsutil::read_pids(&dir.join("cgroup.procs")),
            None => Ok(Vec::new()),
        }
    }

    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        // Freezing first keeps a fork bomb from outrunning the loop.
        let frozen = self.dir("freezer").is_ok() && self.freeze().is_ok();
        for pid in self.pids()? {
            // The process may have exited meanwhile; that is what we want anyway.
            let _ = kill(pid, signal);
        }
        if frozen {
            self.thaw()?;
        }
        Ok(())
    }

    fn remove(&self) -> Result<(), CgroupError> {
        let Some(procs) = self.procs_dir() else {
            return Ok(());
        };
        if procs.exists() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.pids()?.is_empty() {
                if Instant::now() > deadline {
                    return Err(CgroupError::Busy(procs));
                }
                self.kill_all(Signal::SIGKILL)?;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for dir in self.dirs() {
            fsutil::remove_dir(&dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain directory tree standing in for the hierarchies: checks what apply writes where.
    #[test]
    fn apply_writes_v1_files() {
        let tmp = tempfile::tempdir().unwrap();
        let roots: BTreeMap<String, PathBuf> = ["memory", "cpu", "cpuset", "pids"]
            .iter()
            .map(|c| (c.to_string(), tmp.path().join(c)))
            .collect();
        let m = V1Manager::with_roots(roots, "/parent/c1/");
        for c in ["memory", "cpu", "cpuset", "pids"] {
            std::fs::create_dir_all(m.dir(c).unwrap()).unwrap();
        }
        std::fs::write(
            m.dir("memory").unwrap().join("memory.memsw.limit_in_bytes"),
            "",
        )
        .unwrap();
        let r = Resources {
            memory: Some(64 << 20),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(20),
            ..Resources::default()
        }
        .with_cpus(0.5);
        m.apply(&r).unwrap();
        let read =
            |c: &'static str, f: &str| std::fs::read_to_string(m.dir(c).unwrap().join(f)).unwrap();
        assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(read("memory", "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
        assert_eq!(read("pids", "pids.max"), "20");
        assert_eq!(
            m.dir("memory").unwrap(),
            tmp.path().join("memory/parent/c1")
        );
    }

    #[test]
    fn missing_controller_is_named() {
        let m = V1Manager::with_roots(BTreeMap::new(), "c1");
        let err = m
            .apply(&Resources {
                pids_limit: Some(5),
                ..Resources::default()
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cgroup controller pids is not available on this host"
        );
    }
}
