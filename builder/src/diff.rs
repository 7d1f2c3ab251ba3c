//! An overlay upper directory turned into a layer tar: new and changed files as they are,
//! deletions (0/0 character devices) as `.wh.<name>` entries, opaque directories as the
//! directory plus `.wh..wh..opq`. A directory is written when it is new or changed, and also
//! when it is there only because something below it changed, as Docker's layers have it; a
//! directory the same as below with nothing changed under it (left by a step's stubs) is not.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{BuildError, Result};
use crate::layers::{is_opaque, is_whiteout, lookup};

/// Writes the tar of `upper` over `lowers` (diff directories, bottom first) to `out`;
/// returns the number of entries (0: nothing changed).
pub(crate) fn write_upper(upper: &Path, lowers: &[PathBuf], out: &mut dyn Write) -> Result<usize> {
    let mut builder = tar::Builder::new(out);
    let mut state = Walk {
        lowers,
        count: 0,
        links: HashMap::new(),
    };
    state.dir(&mut builder, upper, Path::new(""))?;
    if state.count > 0 {
        builder
            .finish()
            .map_err(BuildError::io("write layer of", upper))?;
    }
    Ok(state.count)
}

struct Walk<'a> {
    lowers: &'a [PathBuf],
    count: usize,
    /// Hard-linked inodes already written: (dev, ino) → path in the tar.
    links: HashMap<(u64, u64), PathBuf>,
}

fn header_for(meta: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

impl Walk<'_> {
    fn dir<W: Write>(&mut self, b: &mut tar::Builder<W>, host: &Path, rel: &Path) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(host)
            .map_err(BuildError::io("read dir", host))?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(BuildError::io("read dir", host))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = rel.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&path).map_err(BuildError::io("stat", &path))?;
            if is_whiteout(&meta) {
                let mut name = std::ffi::OsString::from(".wh.");
                name.push(entry.file_name());
                let wh = rel.with_file_name(name);
                self.empty_file(b, &wh)?;
                continue;
            }
            if meta.is_dir() {
                let opaque = is_opaque(&path);
                if opaque || !self.same_as_below(&rel, &meta) || self.changed_under(&path, &rel)? {
                    let mut h = header_for(&meta, tar::EntryType::Directory);
                    self.append(b, &mut h, &rel, &mut std::io::empty())?;
                }
                if opaque {
                    self.empty_file(b, &rel.join(".wh..wh..opq"))?;
                }
                self.dir(b, &path, &rel)?;
                continue;
            }
            self.file(b, &path, &rel, &meta)?;
        }
        Ok(())
    }

    /// Whether directory `rel` of the upper directory has the mode and owner it has below.
    fn same_as_below(&self, rel: &Path, meta: &std::fs::Metadata) -> bool {
        lookup(self.lowers, rel).is_some_and(|(_, m)| {
            m.is_dir() && m.mode() == meta.mode() && m.uid() == meta.uid() && m.gid() == meta.gid()
        })
    }

    /// Whether anything under upper directory `host` (`rel`) goes into the layer.
    fn changed_under(&self, host: &Path, rel: &Path) -> Result<bool> {
        for entry in std::fs::read_dir(host).map_err(BuildError::io("read dir", host))? {
            let entry = entry.map_err(BuildError::io("read dir", host))?;
            let path = entry.path();
            let child = rel.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&path).map_err(BuildError::io("stat", &path))?;
            if !meta.is_dir()
                || is_opaque(&path)
                || !self.same_as_below(&child, &meta)
                || self.changed_under(&path, &child)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn file<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        host: &Path,
        rel: &Path,
        meta: &std::fs::Metadata,
    ) -> Result<()> {
        let ft = meta.file_type();
        if meta.nlink() > 1 && !ft.is_dir() {
            let key = (meta.dev(), meta.ino());
            if let Some(target) = self.links.get(&key).cloned() {
                let mut h = header_for(meta, tar::EntryType::Link);
                self.count += 1;
                return b
                    .append_link(&mut h, rel, &target)
                    .map_err(BuildError::io("write layer entry", rel));
            }
            self.links.insert(key, rel.to_path_buf());
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(host).map_err(BuildError::io("read link", host))?;
            let mut h = header_for(meta, tar::EntryType::Symlink);
            self.count += 1;
            return b
                .append_link(&mut h, rel, &target)
                .map_err(BuildError::io("write layer entry", rel));
        }
        if ft.is_file() {
            let mut h = header_for(meta, tar::EntryType::Regular);
            h.set_size(meta.len());
            let mut f = crate::layers::open(host)?;
            return self.append(b, &mut h, rel, &mut f);
        }
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_fifo() {
            tar::EntryType::Fifo
        } else if ft.is_char_device() {
            tar::EntryType::Char
        } else if ft.is_block_device() {
            tar::EntryType::Block
        } else {
            // Sockets cannot be stored in a layer.
            return Ok(());
        };
        let mut h = header_for(meta, kind);
        let rdev = meta.rdev();
        let (major, minor) = (libc_major(rdev), libc_minor(rdev));
        h.set_device_major(major)
            .and_then(|()| h.set_device_minor(minor))
            .map_err(BuildError::io("write layer entry", rel))?;
        self.append(b, &mut h, rel, &mut std::io::empty())
    }

    fn empty_file<W: Write>(&mut self, b: &mut tar::Builder<W>, rel: &Path) -> Result<()> {
        // Owned by root, mode 0600, as Docker writes its whiteouts (a header's numeric
        // fields must be set: readers reject empty ones).
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        self.append(b, &mut h, rel, &mut std::io::empty())
    }

    fn append<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        h: &mut tar::Header,
        rel: &Path,
        data: &mut dyn std::io::Read,
    ) -> Result<()> {
        self.count += 1;
        b.append_data(h, rel, data)
            .map_err(BuildError::io("write layer entry", rel))
    }
}

fn libc_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32
}

fn libc_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn whiteouts_opaque_dirs_and_unchanged_parents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lower, upper) = (dir.path().join("l"), dir.path().join("u"));
        for d in [
            lower.join("etc"),
            lower.join("old"),
            upper.join("etc"),
            upper.join("old"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(lower.join("etc/gone"), "x").expect("write");
        std::fs::write(upper.join("etc/new"), "n").expect("write");
        nix::sys::stat::mknod(
            &upper.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .expect("mknod (needs root)");
        xattr::set(upper.join("old"), "trusted.overlay.opaque", b"y").expect("xattr (needs root)");
        let mut out = Vec::new();
        let n = write_upper(&upper, std::slice::from_ref(&lower), &mut out).expect("diff");
        assert_eq!(
            names(&out),
            ["etc", "etc/.wh.gone", "etc/new", "old", "old/.wh..wh..opq"],
            "etc holds changes: it is written as it is"
        );
        assert_eq!(n, 5);
        let empty = dir.path().join("e");
        std::fs::create_dir(&empty).expect("mkdir");
        let mut out = Vec::new();
        assert_eq!(write_upper(&empty, &[lower], &mut out).expect("diff"), 0);
    }
}
