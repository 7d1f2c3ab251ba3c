//! Atomic file writes: write a temporary file, rename it over the target. A reader never sees
//! a partly written file, whatever happens to the writer.
//!
//! What a power loss (or a kernel crash) may leave depends on the [`Durability`] asked for:
//! - [`Durability::Durable`]: the file is fsync'ed before the rename and the directory after
//!   it: once the call returns, the new content survives a power loss.
//! - [`Durability::Atomic`]: the file is fsync'ed before the rename, the directory is not: after
//!   a power loss the path holds the old content or the new one (the rename is one journal
//!   operation), never a torn or empty file. For records whose last update may be lost with the
//!   processes it describes (a container's state dies with the machine anyway), one flush of the
//!   device instead of two.
//! - [`Durability::Volatile`]: no fsync at all. After a power loss the file may be empty; only
//!   for files derived from records and written again before every use (a container's
//!   /etc/hosts, regenerated at each start).
//!
//! Each fsync is a device flush (several milliseconds on a virtual disk), so the choice matters
//! on the container start path.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// How much of a write must survive a power loss; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync of the file and of its directory: the new content survives a power loss.
    Durable,
    /// fsync of the file only: old or new content after a power loss, never a torn file.
    Atomic,
    /// No fsync: only for derived files rewritten before each use.
    Volatile,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `data` to `path` atomically and durably ([`Durability::Durable`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_with(path, data, Durability::Durable)
}

/// Writes `data` to `path` atomically, flushing as much as `durability` asks.
pub fn write_with(path: &Path, data: &[u8], durability: Durability) -> Result<()> {
    write_mode(path, data, durability, 0o644)
}

/// [`write_with`] for records only root may read (a container's environment, secrets): the
/// file is mode 0600 from its creation on.
pub fn write_private(path: &Path, data: &[u8], durability: Durability) -> Result<()> {
    write_mode(path, data, durability, 0o600)
}

fn write_mode(path: &Path, data: &[u8], durability: Durability, mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    file.write_all(data).map_err(io("write", &tmp))?;
    if durability != Durability::Volatile {
        file.sync_all().map_err(io("fsync", &tmp))?;
    }
    drop(file);
    fs::rename(&tmp, path).map_err(io("rename", path))?;
    if durability == Durability::Durable {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync", dir))?;
    }
    Ok(())
}

/// A file written and flushed next to its target and put in place by [`Staged::commit`]
/// ([`Durability::Atomic`]): the slow part of the write done before taking a lock, only the
/// rename under it. Dropped uncommitted, the temporary file is removed.
#[derive(Debug)]
pub struct Staged {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    data: Vec<u8>,
    committed: bool,
}

/// Writes and flushes `data` to a temporary file next to `path`.
pub fn stage(path: &Path, data: Vec<u8>) -> Result<Staged> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.staged-{}", std::process::id()));
    let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
    file.write_all(&data).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("fsync", &tmp))?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
        data,
        committed: false,
    })
}

impl Staged {
    /// The content staged.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Renames the staged file over the target.
    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.path).map_err(io("rename", &self.path))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        for durability in [
            Durability::Durable,
            Durability::Atomic,
            Durability::Volatile,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("record.json");
            write_with(&path, b"one", durability).unwrap();
            write_with(&path, b"two", durability).unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"two", "{durability:?}");
            let names: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                names,
                vec![std::ffi::OsString::from("record.json")],
                "{durability:?}"
            );
        }
    }

    #[test]
    fn staged_content_appears_only_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        write_with(&path, b"old", Durability::Atomic).unwrap();
        let staged = stage(&path, b"new".to_vec()).unwrap();
        assert_eq!(staged.data(), b"new");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        staged.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        drop(stage(&path, b"dropped".to_vec()).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "a temp file is left"
        );
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir-x/rec"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir-x"), "{err}");
    }
}
