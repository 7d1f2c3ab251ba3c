//! The cgroup v2 manager: one directory in the unified hierarchy.
//!
//! Freezing (`cgroup.freeze`) and killing (`cgroup.kill`) are core v2 features that need no
//! controller, so they work even on a hybrid host whose unified hierarchy has none.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::fsutil::{self, join};
use super::{CgroupError, CgroupManager, Stats};
use crate::spec::Resources;

/// Controllers enabled for container groups when the hierarchy has them.
const WANTED: [&str; 4] = ["cpu", "cpuset", "memory", "pids"];

testing_pub! {
    /// A container group in the unified hierarchy.
    #[derive(Debug, Clone)]
    struct V2Manager {
        root: PathBuf,
        relative: String,
    }
}

impl V2Manager {
    testing_pub! {
        /// The group `relative` under the unified hierarchy mounted at `root`.
        fn with_root(root: PathBuf, relative: &str) -> Self {
            Self {
                root,
                relative: relative.trim_matches('/').to_string(),
            }
        }
    }

    testing_pub! {
        /// The group's directory.
        fn dir(&self) -> PathBuf {
            join(&self.root, &self.relative)
        }
    }

    /// Writes `value` to the limit file `file` of `controller`, which must be enabled.
    fn write_limit(
        &self,
        controller: &'static str,
        file: &str,
        value: &str,
    ) -> Result<(), CgroupError> {
        let path = self.dir().join(file);
        if !path.exists() {
            return Err(CgroupError::MissingController(controller));
        }
        fsutil::write(&path, value)
    }

    fn populated(&self) -> Result<bool, CgroupError> {
        match fsutil::read_keyed(&self.dir().join("cgroup.events"), "populated") {
            Ok(n) => Ok(n == 1),
            // Removed meanwhile (by the shim, once its container exited): empty.
            Err(CgroupError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Enables the wanted controllers that `dir` offers in its `cgroup.subtree_control`.
    fn delegate(dir: &Path) -> Result<(), CgroupError> {
        let available = fsutil::read(&dir.join("cgroup.controllers"))?;
        let enable: Vec<String> = WANTED
            .iter()
            .filter(|c| available.split(' ').any(|a| a == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if enable.is_empty() {
            return Ok(());
        }
        fsutil::write(&dir.join("cgroup.subtree_control"), &enable.join(" "))
    }
}

fn limit(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

impl CgroupManager for V2Manager {
    fn create(&self) -> Result<(), CgroupError> {
        let mut dir = self.root.clone();
        for part in self.relative.split('/').filter(|p| !p.is_empty()) {
            Self::delegate(&dir)?;
            dir.push(part);
            fsutil::create_dir(&dir)?;
        }
        Ok(())
    }

    fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        fsutil::write(&self.dir().join("cgroup.procs"), &pid.to_string())
    }

    fn apply(&self, r: &Resources) -> Result<(), CgroupError> {
        if let Some(memory) = r.memory {
            self.write_limit("memory", "memory.max", &limit(memory))?;
        }
        if let Some(swap) = r.swap_only() {
            self.write_limit("memory", "memory.swap.max", &limit(swap))?;
        }
        if let Some(weight) = r.cpu_weight() {
            self.write_limit("cpu", "cpu.weight", &weight.to_string())?;
        }
        if r.cpu_quota.is_some() || r.cpu_period.is_some() {
            let quota = r
                .cpu_quota
                .filter(|q| *q > 0)
                .map_or("max".to_string(), |q| q.to_string());
            let period = r.cpu_period.unwrap_or(crate::spec::DEFAULT_CPU_PERIOD);
            self.write_limit("cpu", "cpu.max", &format!("{quota} {period}"))?;
        }
        if let Some(cpus) = &r.cpuset_cpus {
            self.write_limit("cpuset", "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = &r.cpuset_mems {
            self.write_limit("cpuset", "cpuset.mems", mems)?;
        }
        if let Some(pids) = r.pids_limit {
            self.write_limit("pids", "pids.max", &limit(if pids > 0 { pids } else { -1 }))?;
        }
        Ok(())
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let dir = self.dir();
        let mut stats = Stats::default();
        if dir.join("memory.current").exists() {
            stats.memory_usage = fsutil::read_u64(&dir.join("memory.current"))?.unwrap_or(0);
            stats.memory_limit = fsutil::read_u64(&dir.join("memory.max"))?;
            stats.oom_kills = fsutil::read_keyed(&dir.join("memory.events"), "oom_kill")?;
        }
        if dir.join("pids.current").exists() {
            stats.pids_current = fsutil::read_u64(&dir.join("pids.current"))?.unwrap_or(0);
        } else {
            stats.pids_current = self.pids()?.len() as u64;
        }
        // cpu.stat's usage exists without the cpu controller; throttling needs it.
        stats.cpu_usage_ns =
            fsutil::read_keyed(&dir.join("cpu.stat"), "usage_usec")?.saturating_mul(1000);
        stats.cpu_throttled_periods = fsutil::read_keyed(&dir.join("cpu.stat"), "nr_throttled")?;
        if dir.join("io.stat").exists() {
            (stats.block_read_bytes, stats.block_write_bytes) =
                fsutil::io_stat_v2_bytes(&fsutil::read(&dir.join("io.stat"))?);
        }
        Ok(stats)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        fsutil::write(&self.dir().join("cgroup.freeze"), "1")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while fsutil::read_keyed(&self.dir().join("cgroup.events"), "frozen")? != 1 {
            if Instant::now() > deadline {
                fsutil::write(&self.dir().join("cgroup.freeze"), "0")?;
                return Err(CgroupError::FreezeTimeout(self.dir()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        fsutil::write(&self.dir().join("cgroup.freeze"), "0")
    }

    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        fsutil::read_pids(&self.dir().join("cgroup.procs"))
    }

    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        let kill_file = self.dir().join("cgroup.kill");
        if signal == Signal::SIGKILL && kill_file.exists() {
            return match fsutil::write(&kill_file, "1") {
                // The group went away since the check (gone: not found; removed while still
                // held open: no such device): nothing is left to kill.
                Err(CgroupError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound
                        || source.raw_os_error() == Some(nix::libc::ENODEV) =>
                {
                    Ok(())
                }
                other => other,
            };
        }
        let frozen = self.freeze().is_ok();
        for pid in self.pids()? {
            // Already gone is fine.
            let _ = kill(pid, signal);
        }
        if frozen {
            self.thaw()?;
        }
        Ok(())
    }

    fn remove(&self) -> Result<(), CgroupError> {
        if !self.dir().exists() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.populated()? {
            if Instant::now() > deadline {
                return Err(CgroupError::Busy(self.dir()));
            }
            self.kill_all(Signal::SIGKILL)?;
            std::thread::sleep(Duration::from_millis(5));
        }
        fsutil::remove_dir(&self.dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_writes_v2_files() {
        let tmp = tempfile::tempdir().unwrap();
        let m = V2Manager::with_root(tmp.path().to_path_buf(), "p/c1");
        std::fs::create_dir_all(m.dir()).unwrap();
        for f in [
            "memory.max",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "cpuset.cpus",
            "pids.max",
        ] {
            std::fs::write(m.dir().join(f), "").unwrap();
        }
        let r = Resources {
            memory: Some(100 << 20),
            memory_swap: Some(300 << 20),
            cpu_shares: Some(1024),
            cpuset_cpus: Some("0-1".into()),
            pids_limit: Some(-1),
            ..Resources::default()
        }
        .with_cpus(1.5);
        m.apply(&r).unwrap();
        let read = |f: &str| std::fs::read_to_string(m.dir().join(f)).unwrap();
        assert_eq!(read("memory.max"), "104857600");
        assert_eq!(read("memory.swap.max"), "209715200");
        assert_eq!(read("cpu.weight"), "39");
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(read("cpuset.cpus"), "0-1");
        assert_eq!(read("pids.max"), "max");
    }

    #[test]
    fn limit_without_controller_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let m = V2Manager::with_root(tmp.path().to_path_buf(), "c1");
        std::fs::create_dir_all(m.dir()).unwrap();
        let err = m
            .apply(&Resources {
                memory: Some(1),
                ..Resources::default()
            })
            .unwrap_err();
        assert!(
            matches!(err, CgroupError::MissingController("memory")),
            "{err}"
        );
    }
}
