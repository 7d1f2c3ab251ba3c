//! The content-addressable blob store: `blobs/sha256/<hex>`, every blob verified on write.
//!
//! A blob is written to a temporary file in the same directory tree, hashed while it is
//! written, fsync'ed and renamed into place only when its digest is known (and matches the one
//! announced, if any). A reader therefore never sees a partial or unverified blob.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::digest::{Digest, HashingWriter};
use super::error::{ImageError, Result};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The blob directory of an image store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// A blob store under `root` (`<data_root>/image/blobs`); creates its directories.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [root.join("sha256"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(ImageError::io("create", &dir))?;
        }
        Ok(Self { root })
    }

    /// The path of a blob (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    /// Whether the blob is stored.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens a stored blob.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.path(digest);
        File::open(&path).map_err(ImageError::io("open blob", path))
    }

    /// Reads a stored blob into memory.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.path(digest);
        fs::read(&path).map_err(ImageError::io("read blob", path))
    }

    /// The size of a stored blob.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.path(digest);
        Ok(fs::metadata(&path)
            .map_err(ImageError::io("stat blob", path))?
            .len())
    }

    /// Stores `data`; returns its digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest> {
        let mut writer = self.writer()?;
        writer
            .write_all(data)
            .map_err(ImageError::io("write blob", &writer.path))?;
        Ok(writer.commit(None)?.0)
    }

    /// Stores everything `reader` yields. With `expected`, the content must have that digest,
    /// or nothing is stored. Returns the digest and size.
    pub fn put_reader(
        &self,
        reader: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64)> {
        let mut writer = self.writer()?;
        io::copy(reader, &mut writer).map_err(ImageError::io("write blob", &writer.path))?;
        writer.commit(expected)
    }

    /// A writer for a new blob; [`BlobWriter::commit`] puts it in place.
    pub fn writer(&self) -> Result<BlobWriter> {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self
            .root
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()));
        let file = File::create(&path).map_err(ImageError::io("create", &path))?;
        Ok(BlobWriter {
            inner: Some(HashingWriter::new(file)),
            path,
            root: self.root.clone(),
        })
    }

    /// Every stored blob digest.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("sha256");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(ImageError::io("read dir", &dir))? {
            let entry = entry.map_err(ImageError::io("read dir", &dir))?;
            if let Ok(d) = Digest::from_hex(&entry.file_name().to_string_lossy()) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Deletes a blob; returns the bytes freed (0 when it was not there).
    pub fn remove(&self, digest: &Digest) -> Result<u64> {
        let path = self.path(digest);
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(&path) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(ImageError::io("remove blob", path)(e)),
        }
    }
}

/// A blob being written; dropped without commit, its temporary file is removed.
pub struct BlobWriter {
    inner: Option<HashingWriter<File>>,
    path: PathBuf,
    root: PathBuf,
}

impl BlobWriter {
    /// Finishes the blob: fsync, verify against `expected` (if any), rename into place.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let Some(inner) = self.inner.take() else {
            return Err(ImageError::BadArchive(
                "blob writer used after commit".into(),
            ));
        };
        let (digest, size, file) = inner.finish();
        file.sync_all()
            .map_err(ImageError::io("fsync", &self.path))?;
        drop(file);
        if let Some(expected) = expected.filter(|e| **e != digest) {
            let _ = fs::remove_file(&self.path);
            return Err(ImageError::DigestMismatch {
                what: "blob".into(),
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        let dest = self.root.join("sha256").join(digest.hex());
        fs::rename(&self.path, &dest).map_err(ImageError::io("rename", &dest))?;
        sync_dir(&self.root.join("sha256"))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("blob writer used after commit")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.inner.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// fsyncs a directory so that a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(ImageError::io("fsync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_write_and_rejected_mismatch_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d = store.put(b"layer").unwrap();
        assert_eq!(d, Digest::of(b"layer"));
        assert_eq!(store.read(&d).unwrap(), b"layer");
        let wrong = Digest::of(b"other");
        let err = store
            .put_reader(&mut &b"layer2"[..], Some(&wrong))
            .unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        assert!(!store.contains(&wrong));
        assert_eq!(store.list().unwrap(), vec![d.clone()]);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(store.remove(&d).unwrap(), 5);
        assert!(store.list().unwrap().is_empty());
    }
}
