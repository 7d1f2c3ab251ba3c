//! Reading and writing cgroup files, with errors naming the file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::CgroupError;

/// Writes `value` to the cgroup file `path`.
pub(super) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Io {
        op: "write",
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the cgroup file `path`, trimmed.
pub(super) fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| CgroupError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })
}

/// Reads a single unsigned number; `max` reads as `None`.
pub(super) fn read_u64(path: &Path) -> Result<Option<u64>, CgroupError> {
    let text = read(path)?;
    if text == "max" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        content: text,
    })
}

/// Reads `key value` lines (memory.events, cpu.stat, memory.oom_control) and returns `key`'s value.
pub(super) fn read_keyed(path: &Path, key: &str) -> Result<u64, CgroupError> {
    let text = read(path)?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(' ')));
    match value {
        Some(v) => v.trim().parse().map_err(|_| CgroupError::Parse {
            path: path.to_path_buf(),
            content: text.clone(),
        }),
        None => Ok(0),
    }
}

/// Reads a `cgroup.procs` file.
pub(super) fn read_pids(path: &Path) -> Result<Vec<Pid>, CgroupError> {
    // A group removed meanwhile (its last process exited and the shim removed it) is empty.
    let text = match read(path) {
        Ok(text) => text,
        Err(CgroupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(err) => return Err(err),
    };
    text.lines()
        .map(|l| {
            l.trim()
                .parse::<i32>()
                .map(Pid::from_raw)
                .map_err(|_| CgroupError::Parse {
                    path: path.to_path_buf(),
                    content: l.to_string(),
                })
        })
        .collect()
}

/// Creates `dir` and its parents.
pub(super) fn create_dir(dir: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(dir).map_err(|source| CgroupError::Io {
        op: "create",
        path: dir.to_path_buf(),
        source,
    })
}

/// Removes the (empty) group directory `dir`, retrying while the kernel still sees tasks
/// that are on their way out. An absent directory is fine.
pub(super) fn remove_dir(dir: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                return Err(CgroupError::Busy(dir.to_path_buf()));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "remove",
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Joins a relative group path onto a hierarchy root, ignoring leading slashes.
pub(super) fn join(root: &Path, relative: &str) -> PathBuf {
    root.join(relative.trim_start_matches('/'))
}

/// Bytes read and written over every device in a cgroup v1 `blkio.throttle.io_service_bytes`
/// (`MAJ:MIN Read N` lines; the `Total` line left out).
pub(super) fn blkio_v1_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(device), Some(op), Some(value)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !device.contains(':') {
            continue;
        }
        let value: u64 = value.parse().unwrap_or(0);
        match op {
            "Read" => read = read.saturating_add(value),
            "Write" => write = write.saturating_add(value),
            _ => {}
        }
    }
    (read, write)
}

/// Bytes read and written over every device in a cgroup v2 `io.stat`
/// (`MAJ:MIN rbytes=N wbytes=N ...` lines).
pub(super) fn io_stat_v2_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for field in text.split_whitespace() {
        let value = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let Some(v) = value("rbytes=") {
            read = read.saturating_add(v);
        } else if let Some(v) = value("wbytes=") {
            write = write.saturating_add(v);
        }
    }
    (read, write)
}

#[cfg(test)]
mod io_tests {
    use super::*;

    #[test]
    fn block_io_of_both_versions() {
        let v1 =
            "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:16 Read 1000\n8:16 Write 0\nTotal 5608\n";
        assert_eq!(blkio_v1_bytes(v1), (5096, 512));
        assert_eq!(blkio_v1_bytes(""), (0, 0));
        let v2 = "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n\
                  8:16 rbytes=1000 wbytes=24 rios=2 wios=3 dbytes=0 dios=0\n";
        assert_eq!(io_stat_v2_bytes(v2), (5096, 536));
    }
}
