//! Reading container logs as `docker logs` does: stream selection, since / until, tail N, and
//! follow (new entries as the shim writes them, across rotation, until the container exits).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::follow::{Follower, POLL_INTERVAL};
use crate::process::pidfd::PidFd;
use crate::shim::{LogEntry, log_path, read_logs, rotated_logs};
use crate::state::StateStore;

/// Which entries to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only entries at or after this time.
    pub since: Option<SystemTime>,
    /// Only entries at or before this time.
    pub until: Option<SystemTime>,
    /// Only the last N matching entries (of those already written).
    pub tail: Option<usize>,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            stdout: true,
            stderr: true,
            since: None,
            until: None,
            tail: None,
        }
    }
}

impl LogQuery {
    /// Whether `entry` passes the stream and time filters.
    pub fn matches(&self, entry: &LogEntry) -> bool {
        let stream_ok = match entry.stream.as_str() {
            "stdout" => self.stdout,
            "stderr" => self.stderr,
            _ => false,
        };
        if !stream_ok {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Ok(time) = humantime::parse_rfc3339(&entry.time) else {
            return false;
        };
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time <= u)
    }

    /// Applies the filters and the tail to entries read so far (oldest first).
    pub fn select(&self, entries: Vec<LogEntry>) -> Vec<LogEntry> {
        let mut out: Vec<LogEntry> = entries.into_iter().filter(|e| self.matches(e)).collect();
        if let Some(n) = self.tail {
            let skip = out.len().saturating_sub(n);
            out.drain(..skip);
        }
        out
    }
}

/// The entries of the logs in `container_dir` selected by `query`.
pub fn read(container_dir: &Path, query: &LogQuery) -> std::io::Result<Vec<LogEntry>> {
    Ok(query.select(read_logs(container_dir)?))
}

/// A live view of a container's logs: first the selected existing entries, then new ones as
/// they are written. It ends when the container has exited and everything is read, or when
/// an entry passes `until`.
#[derive(Debug)]
pub struct LogStream {
    query: LogQuery,
    follower: Follower,
    state: StateStore,
    backlog: std::collections::VecDeque<LogEntry>,
    done: bool,
    /// The shim of the run being followed (pid, handle): its exit, which comes right after the
    /// exit record, ends the stream without waiting for the next poll.
    shim: Option<(i32, Option<PidFd>)>,
}

impl LogStream {
    /// Opens the stream of the container whose directory is `container_dir`.
    pub fn open(container_dir: &Path, query: LogQuery) -> std::io::Result<Self> {
        // The rotated files are read whole; the live file through the follower, so that every
        // entry is seen exactly once.
        let mut existing = Vec::new();
        for file in rotated_logs(container_dir) {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            existing.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
        let mut follower = Follower::from_start(&log_path(container_dir));
        existing.extend(
            follower
                .poll()?
                .iter()
                .filter_map(|l| serde_json::from_str::<LogEntry>(l).ok()),
        );
        Ok(Self {
            backlog: query.select(existing).into(),
            query,
            follower,
            state: StateStore::new(PathBuf::from(container_dir)),
            done: false,
            shim: None,
        })
    }

    /// The next entry, waiting at most `timeout`; `Ok(None)` at the end of the stream or on
    /// timeout (see [`LogStream::is_done`]).
    pub fn next_timeout(&mut self, timeout: Duration) -> std::io::Result<Option<LogEntry>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.backlog.pop_front() {
                return Ok(Some(e));
            }
            if self.done {
                return Ok(None);
            }
            // Read the state before polling: an exit recorded before the poll means the poll
            // saw everything the container will ever write.
            let record = self.state.load().ok();
            let alive = record.as_ref().is_some_and(|r| r.state.is_alive());
            let shim_pid = record.and_then(|r| r.shim_pid);
            for line in self.follower.poll()? {
                let Ok(entry) = serde_json::from_str::<LogEntry>(&line) else {
                    continue;
                };
                if self.past_until(&entry) {
                    self.done = true;
                    break;
                }
                if self.query.matches(&entry) {
                    self.backlog.push_back(entry);
                }
            }
            if !self.backlog.is_empty() {
                continue;
            }
            if !alive {
                self.done = true;
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.sleep(shim_pid, POLL_INTERVAL.min(deadline - now));
        }
    }

    /// Sleeps `pause` for new entries, waking early when the shim `shim_pid` exits (the exit
    /// is recorded by then).
    fn sleep(&mut self, shim_pid: Option<i32>, pause: Duration) {
        if let Some(pid) = shim_pid
            && self
                .shim
                .as_ref()
                .is_none_or(|(watched, _)| *watched != pid)
        {
            self.shim = Some((pid, PidFd::open(pid).ok()));
        }
        match &self.shim {
            Some((_, Some(pidfd))) => {
                if pidfd.wait_exit(pause) {
                    // Gone: the next round reads its exit record; later rounds plainly sleep.
                    self.shim = self.shim.take().map(|(pid, _)| (pid, None));
                }
            }
            _ => std::thread::sleep(pause),
        }
    }

    /// Whether the stream has ended (as opposed to a timeout).
    pub fn is_done(&self) -> bool {
        self.done && self.backlog.is_empty()
    }

    fn past_until(&self, entry: &LogEntry) -> bool {
        let Some(until) = self.query.until else {
            return false;
        };
        humantime::parse_rfc3339(&entry.time).is_ok_and(|t| t > until)
    }
}

impl Iterator for LogStream {
    type Item = std::io::Result<LogEntry>;

    /// Blocks until the next entry or the end of the stream.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_timeout(Duration::from_secs(1)) {
                Ok(Some(e)) => return Some(Ok(e)),
                Ok(None) if self.is_done() => return None,
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stream: &str, log: &str, secs: u64) -> LogEntry {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        LogEntry {
            log: log.to_string(),
            stream: stream.to_string(),
            time: humantime::format_rfc3339_nanos(time).to_string(),
        }
    }

    #[test]
    fn query_table() {
        let all = vec![
            entry("stdout", "a", 10),
            entry("stderr", "b", 20),
            entry("stdout", "c", 30),
            entry("stdout", "d", 40),
        ];
        let at = |s| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let cases: Vec<(LogQuery, &str)> = vec![
            (LogQuery::default(), "abcd"),
            (
                LogQuery {
                    stderr: false,
                    ..LogQuery::default()
                },
                "acd",
            ),
            (
                LogQuery {
                    stdout: false,
                    ..LogQuery::default()
                },
                "b",
            ),
            (
                LogQuery {
                    tail: Some(2),
                    ..LogQuery::default()
                },
                "cd",
            ),
            (
                LogQuery {
                    tail: Some(0),
                    ..LogQuery::default()
                },
                "",
            ),
            (
                LogQuery {
                    since: at(20),
                    ..LogQuery::default()
                },
                "bcd",
            ),
            (
                LogQuery {
                    until: at(30),
                    ..LogQuery::default()
                },
                "abc",
            ),
            (
                LogQuery {
                    since: at(15),
                    until: at(35),
                    stderr: false,
                    ..LogQuery::default()
                },
                "c",
            ),
            (
                LogQuery {
                    since: at(15),
                    tail: Some(1),
                    stdout: false,
                    ..LogQuery::default()
                },
                "b",
            ),
        ];
        for (query, want) in cases {
            let got: String = query
                .select(all.clone())
                .into_iter()
                .map(|e| e.log)
                .collect();
            assert_eq!(got, want, "{query:?}");
        }
    }
}
