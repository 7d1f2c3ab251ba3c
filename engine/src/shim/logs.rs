//! JSON-lines container logs (`{"log","stream","time"}`, as Docker's json-file driver) with
//! size-based rotation: `container.log`, `container.log.1` (newer) ... `container.log.N`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Lines longer than this are split into several entries (Docker's limit).
const MAX_LINE: usize = 16 * 1024;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The line, newline included when the line was complete.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 time with nanoseconds.
    pub time: String,
}

/// The live log file of a container directory.
pub(crate) fn log_path(container_dir: &Path) -> PathBuf {
    container_dir.join("container.log")
}

/// The rotated log files of a container directory (`container.log.<n>`), oldest (highest n)
/// first, without the live one.
pub(crate) fn rotated_logs(container_dir: &Path) -> Vec<PathBuf> {
    let live = log_path(container_dir);
    let Some(prefix) = live
        .file_name()
        .map(|n| format!("{}.", n.to_string_lossy()))
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(container_dir) else {
        return Vec::new();
    };
    let mut numbered: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    numbered.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    numbered.into_iter().map(|(_, path)| path).collect()
}

/// Reads every entry of a container's logs, oldest first, across rotated files.
pub(crate) fn read_logs(container_dir: &Path) -> std::io::Result<Vec<LogEntry>> {
    let mut files = rotated_logs(container_dir);
    files.push(log_path(container_dir));
    let mut out = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    Ok(out)
}

/// Writes entries, rotating by size.
pub(crate) struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    pending: [Vec<u8>; 2],
}

/// Opens a log file for appending; a new one is mode 0600: what a container prints may hold
/// secrets only root may read.
fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

impl LogWriter {
    /// Opens (appending) the live log in `container_dir`.
    pub(crate) fn open(
        container_dir: &Path,
        max_size: u64,
        max_files: u32,
    ) -> std::io::Result<Self> {
        let path = log_path(container_dir);
        let file = open_log(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Feeds raw output of stream `stream` (0 = stdout, 1 = stderr); complete lines are written.
    pub(crate) fn feed(&mut self, stream: usize, data: &[u8]) -> std::io::Result<()> {
        self.pending[stream].extend_from_slice(data);
        loop {
            let buf = &self.pending[stream];
            let cut = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() >= MAX_LINE => MAX_LINE,
                None => return Ok(()),
            };
            let line: Vec<u8> = self.pending[stream].drain(..cut).collect();
            self.write_entry(stream, &line)?;
        }
    }

    /// Writes out partial lines (at end of output).
    pub(crate) fn flush_partial(&mut self) -> std::io::Result<()> {
        for stream in 0..2 {
            if !self.pending[stream].is_empty() {
                let line = std::mem::take(&mut self.pending[stream]);
                self.write_entry(stream, &line)?;
            }
        }
        Ok(())
    }

    fn write_entry(&mut self, stream: usize, line: &[u8]) -> std::io::Result<()> {
        let entry = LogEntry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.to_string(),
            time: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        };
        let mut text = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        text.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + text.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&text)?;
        self.size += text.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        // A new file replaces the old one (rather than truncating it), so followers notice.
        if self.max_files <= 1 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(name(self.max_files - 1));
            for n in (1..self.max_files - 1).rev() {
                if name(n).exists() {
                    std::fs::rename(name(n), name(n + 1))?;
                }
            }
            std::fs::rename(&self.path, name(1))?;
        }
        self.file = open_log(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_logs_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "container.log",
            "container.log.1",
            "container.log.10",
            "container.log.2",
            "container.log.x",
            "state.json",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let names: Vec<String> = rotated_logs(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["container.log.10", "container.log.2", "container.log.1"]
        );
    }

    #[test]
    fn lines_partial_lines_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::open(dir.path(), 200, 3).unwrap();
        w.feed(0, b"hello\nwor").unwrap();
        w.feed(1, b"oops\n").unwrap();
        w.feed(0, b"ld\n").unwrap();
        w.feed(0, b"tail").unwrap();
        w.flush_partial().unwrap();
        let logs: Vec<(String, String)> = read_logs(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| (e.stream, e.log))
            .collect();
        let want = [
            ("stdout", "hello\n"),
            ("stderr", "oops\n"),
            ("stdout", "world\n"),
            ("stdout", "tail"),
        ];
        assert_eq!(logs, want.map(|(s, l)| (s.to_string(), l.to_string())));
        // Each entry is ~90 bytes: with 200-byte files and 3 files, old entries are dropped.
        for i in 0..10 {
            w.feed(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(dir.path().join("container.log.1").exists());
        assert!(dir.path().join("container.log.2").exists());
        assert!(!dir.path().join("container.log.3").exists());
        let logs = read_logs(dir.path()).unwrap();
        assert_eq!(logs.last().unwrap().log, "line 9\n");
        assert!(logs.len() < 14 && logs.len() >= 4, "{}", logs.len());
        let logs: Vec<&str> = logs.iter().map(|e| e.log.as_str()).collect();
        let mut sorted = logs.clone();
        sorted.sort_by_key(|l| {
            l.trim_start_matches("line ")
                .trim()
                .parse::<u32>()
                .unwrap_or(0)
        });
        assert_eq!(logs, sorted, "oldest first");
    }
}
