//! What a process of the bed costs, read from `/proc`: CPU time used so far (user + system,
//! `/proc/PID/stat`) and resident memory (`VmRSS` of `/proc/PID/status`), for the benchmarks
//! that watch the daemons and agents while the cluster idles.

use std::process::Command;
use std::time::Duration;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    /// User + system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory, in KiB.
    pub rss_kib: u64,
}

/// Reads process `pid`'s CPU time and resident memory.
pub fn sample(pid: u32) -> Result<ProcSample, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which may hold spaces) start at field 3, the state;
    // utime and stime are fields 14 and 15.
    let (_, rest) = stat
        .rsplit_once(')')
        .ok_or_else(|| format!("no command name in /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> Result<u64, String> {
        fields
            .get(index)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("no field {} in /proc/{pid}/stat", index + 3))
    };
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))?;
    Ok(ProcSample { cpu_ticks, rss_kib })
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), the unit of [`ProcSample::cpu_ticks`].
pub fn clock_ticks_per_second() -> Result<u64, String> {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .map_err(|e| format!("cannot run getconf CLK_TCK: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("getconf CLK_TCK gave no number: {e}"))
}

/// The CPU time of `ticks` clock ticks, at `per_second` ticks a second.
pub fn cpu_time(ticks: u64, per_second: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / per_second.max(1) as f64)
}
