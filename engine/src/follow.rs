//! Following a growing line-oriented file (`tail -F`): complete lines as they are appended,
//! across rotation (the file renamed away and a new one created at the path) and truncation
//! (noticed when the file is shorter than what was read; writers should replace files instead).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often followers look for new data.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Reads complete lines appended to a file, reopening it when it is replaced.
#[derive(Debug)]
pub(crate) struct Follower {
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    pos: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Follows `path` from its beginning (a missing file is waited for).
    pub(crate) fn from_start(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            file: None,
            inode: 0,
            pos: 0,
            partial: Vec::new(),
        }
    }

    /// Follows `path` from its current end.
    pub(crate) fn at_end(path: &Path) -> std::io::Result<Self> {
        let mut f = Self::from_start(path);
        match File::open(path) {
            Ok(file) => {
                let meta = file.metadata()?;
                f.inode = meta.ino();
                f.pos = meta.len();
                f.file = Some(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(f)
    }

    /// The complete lines appended since the last call (without their newlines).
    pub(crate) fn poll(&mut self) -> std::io::Result<Vec<String>> {
        let mut lines = Vec::new();
        if self.file.is_none() && !self.reopen()? {
            return Ok(lines);
        }
        self.drain(&mut lines)?;
        // Rotated away or recreated: finish the old file (done above), then switch.
        let current = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
        if current.is_some_and(|ino| ino != self.inode) && self.reopen()? {
            self.drain(&mut lines)?;
        }
        Ok(lines)
    }

    fn reopen(&mut self) -> std::io::Result<bool> {
        match File::open(&self.path) {
            Ok(file) => {
                self.inode = file.metadata()?.ino();
                self.file = Some(file);
                self.pos = 0;
                self.partial.clear();
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn drain(&mut self, lines: &mut Vec<String>) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        if file.metadata()?.len() < self.pos {
            // Truncated in place: start over.
            self.pos = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.pos))?;
        let mut buf = Vec::new();
        let n = file.read_to_end(&mut buf)?;
        self.pos += n as u64;
        self.partial.extend_from_slice(&buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            lines.push(String::from_utf8_lossy(&line[..i]).into_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn lines_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = Follower::from_start(&path);
        assert!(f.poll().unwrap().is_empty(), "missing file");
        append(&path, "a\nb");
        assert_eq!(f.poll().unwrap(), ["a"]);
        append(&path, "\nc\n");
        assert_eq!(f.poll().unwrap(), ["b", "c"]);
        // Rotation: the last lines of the old file come before those of the new one.
        append(&path, "d\n");
        std::fs::rename(&path, dir.path().join("log.1")).unwrap();
        append(&path, "eeee\n");
        assert_eq!(f.poll().unwrap(), ["d", "eeee"]);
        // Truncation in place, seen once the file is shorter than what was read.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, "f\n");
        assert_eq!(f.poll().unwrap(), ["f"]);
        let mut end = Follower::at_end(&path).unwrap();
        assert!(end.poll().unwrap().is_empty());
        append(&path, "g\n");
        assert_eq!(end.poll().unwrap(), ["g"]);
    }
}
