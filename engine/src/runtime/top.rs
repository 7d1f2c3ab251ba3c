//! `top`: the processes of a container, found through its cgroup and described from /proc
//! with the columns of `ps -ef` (UID PID PPID C STIME TTY TIME CMD), as `docker top` shows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Runtime;
use crate::cgroups::CgroupManager;

/// The column titles of [`ProcessInfo::columns`].
pub const TOP_TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// One process of a container, as seen from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// User name (host's /etc/passwd, as ps shows it) or the numeric uid.
    pub user: String,
    /// Host pid.
    pub pid: i32,
    /// Host pid of the parent.
    pub ppid: i32,
    /// CPU use in percent over the process's lifetime.
    pub cpu_percent: u64,
    /// Start time, `HH:MM` (UTC).
    pub start: String,
    /// Controlling terminal (`?` for none).
    pub tty: String,
    /// CPU time, `HH:MM:SS`.
    pub time: String,
    /// The command line, or `[comm]` when it has none.
    pub cmd: String,
    /// The state letter (R, S, Z, ...).
    pub state: char,
}

impl ProcessInfo {
    /// The values in the order of [`TOP_TITLES`].
    pub fn columns(&self) -> [String; 8] {
        [
            self.user.clone(),
            self.pid.to_string(),
            self.ppid.to_string(),
            self.cpu_percent.to_string(),
            self.start.clone(),
            self.tty.clone(),
            self.time.clone(),
            self.cmd.clone(),
        ]
    }
}

impl Runtime {
    /// The processes of the container, by pid.
    pub fn top(&self, id: &str) -> crate::Result<Vec<ProcessInfo>> {
        self.store(id)?;
        let mut pids = self.cgroup(id).pids()?;
        pids.sort();
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|t| *t > 0)
            .unwrap_or(100) as u64;
        let boot = boot_time().unwrap_or(0);
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        // A process may exit between the listing and the reading: it is skipped.
        Ok(pids
            .into_iter()
            .filter_map(|pid| describe(pid.as_raw(), ticks, boot, &passwd))
            .collect())
    }
}

fn boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn describe(pid: i32, ticks: u64, boot: u64, passwd: &str) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(") ")?;
    let comm = head.split_once(" (")?.1;
    let f: Vec<&str> = rest.split(' ').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields after the command: 0 state, 1 ppid, 4 tty_nr, 11 utime, 12 stime, 19 starttime.
    let state = f.first()?.chars().next()?;
    let ppid = f.get(1)?.parse().ok()?;
    let cpu_secs = (num(11) + num(12)) / ticks;
    let started = boot + num(19) / ticks;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(started);
    let alive_for = now.saturating_sub(started).max(1);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let user = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|p| p.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
        .and_then(|p| p.first().map(|n| n.to_string()))
        .unwrap_or_else(|| uid.to_string());
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        String::from_utf8_lossy(&cmdline)
            .trim_end_matches('\0')
            .replace('\0', " ")
    };
    let start_time = UNIX_EPOCH + Duration::from_secs(started);
    let stamp = humantime::format_rfc3339_seconds(start_time).to_string();
    Some(ProcessInfo {
        user,
        pid,
        ppid,
        cpu_percent: cpu_secs * 100 / alive_for,
        start: stamp.get(11..16).unwrap_or("?").to_string(),
        tty: tty_name(num(4)),
        time: format!(
            "{:02}:{:02}:{:02}",
            cpu_secs / 3600,
            cpu_secs / 60 % 60,
            cpu_secs % 60
        ),
        cmd,
        state,
    })
}

/// `pts/N` for a pseudo terminal, `?` for none.
fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match (tty_nr, major) {
        (0, _) => "?".to_string(),
        (_, 136..=143) => format!("pts/{}", (major - 136) * 256 + minor),
        (_, 4) => format!("tty{minor}"),
        _ => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_process_and_names_ttys() {
        let me = std::process::id() as i32;
        let info = describe(me, 100, boot_time().unwrap(), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert_eq!(info.pid, me);
        assert_eq!(info.ppid, nix::unistd::getppid().as_raw());
        assert!(info.cmd.contains("engine"), "{info:?}");
        assert_eq!(info.time.len(), 8);
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    }
}
