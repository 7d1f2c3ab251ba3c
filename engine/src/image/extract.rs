//! Safe layer extraction: a tar stream becomes an overlayfs layer directory.
//!
//! No entry can write outside the layer directory: paths are cleaned lexically and any `..`
//! that climbs above the root rejects the layer; parent directories are resolved inside the
//! layer (a symlink is followed as if the layer were the root, never onto the host, see
//! [`crate::inroot`]) and every entry is made with `*at` calls relative to its parent's
//! descriptor; the final component is never followed (an existing entry is replaced, files are
//! created with `O_EXCL`); hard links must point at a non-directory inside the layer. Character and block
//! devices are not created (the runtime gives containers their own /dev), except the 0:0
//! character device overlayfs uses as a whiteout. Whiteouts are converted to overlayfs form:
//! `.wh.name` becomes a 0:0 character device, `.wh..wh..opq` the `trusted.overlay.opaque`
//! attribute of its directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags, fchmodat, fstatat, futimens, makedev,
    mkdirat, mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, linkat, symlinkat, unlinkat};
use tar::EntryType;
use xattr::FileExt;

use super::compress::decompress;
use super::digest::{Digest, HashingReader};
use super::error::{ImageError, Result};
use crate::archive::Owner;
use crate::inroot::{Root, fd_path};

/// The prefix of whiteout entries.
const WHITEOUT: &str = ".wh.";
/// The opaque-directory marker.
const OPAQUE: &str = ".wh..wh..opq";

/// What one extraction did.
#[derive(Debug, Clone, PartialEq, Eq)]
// Public only with the `testing` feature, with `extract_layer`.
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
pub struct Extracted {
    /// The digest of the uncompressed tar stream (the layer's DiffID).
    pub diff_id: Digest,
    /// The size of the uncompressed tar stream.
    pub tar_size: u64,
    /// Device nodes that were not created.
    pub skipped_devices: u64,
}

testing_pub! {
    /// Extracts a (possibly gzip or zstd compressed) layer tar stream into `dest`, an existing
    /// empty directory. `layer` names the layer in errors.
    fn extract_layer(reader: impl Read, dest: &Path, layer: &str) -> Result<Extracted> {
        let bad = |reason: String| ImageError::BadLayer {
            layer: layer.to_string(),
            reason,
        };
        let root = Root::open(dest).map_err(|e| bad(e.to_string()))?;
        let (_, plain) = decompress(reader).map_err(|e| bad(format!("decompress: {e}")))?;
        let mut archive = tar::Archive::new(HashingReader::new(plain));
        let mut skipped_devices = 0;
        let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("read tar: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("read tar: {e}")))?;
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let Some(rel) = clean(Path::new(OsStr::from_bytes(&raw)))
                .map_err(|()| bad(format!("entry {shown:?} escapes the layer directory")))?
            else {
                continue;
            };
            match unpack_entry(&mut entry, &root, &rel, &Rules::LAYER) {
                Ok(Unpacked::Dir) => dir_times.push((rel, mtime(&entry))),
                Ok(Unpacked::SkippedDevice) => skipped_devices += 1,
                Ok(Unpacked::Other) => {}
                Err(e) => return Err(bad(format!("entry {shown:?}: {e}"))),
            }
        }
        for (dir, time) in dir_times.iter().rev() {
            set_dir_mtime(&root, dir, *time).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
        }
        let (diff_id, tar_size) = archive
            .into_inner()
            .finish()
            .map_err(|e| bad(format!("read tar: {e}")))?;
        Ok(Extracted {
            diff_id,
            tar_size,
            skipped_devices,
        })
    }
}

enum Unpacked {
    Dir,
    SkippedDevice,
    Other,
}

/// How entries are made: as a layer (whiteouts become overlay whiteouts) or as plain files.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Whiteout names and 0:0 character devices are layer deletions.
    pub layer: bool,
    /// The owner of the entries made.
    pub owner: Owner,
}

impl Rules {
    const LAYER: Rules = Rules {
        layer: true,
        owner: Owner::FromArchive,
    };
}

/// Extracts a plain tar stream (no whiteouts) under `under` inside `root` (a symlink on the
/// way is followed inside it, never out of it), with the entries' first component `from`
/// renamed to `to` when `rename` is given. Directories' times are set last.
pub(crate) fn extract_under(
    reader: impl Read,
    root: &Path,
    under: &Path,
    rename: Option<(&OsStr, &OsStr)>,
    owner: Owner,
) -> io::Result<()> {
    let root = Root::open(root)?;
    let rules = Rules {
        layer: false,
        owner,
    };
    let base = clean(under)
        .map_err(|()| io::Error::other(format!("{} escapes the root", under.display())))?
        .unwrap_or_default();
    let mut archive = tar::Archive::new(reader);
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = clean(Path::new(OsStr::from_bytes(&raw)))
            .map_err(|()| io::Error::other(format!("entry {shown:?} escapes its directory")))?
        else {
            continue;
        };
        let rel = match rename {
            Some((from, to)) => match rel.strip_prefix(from) {
                Ok(rest) => Path::new(to).join(rest),
                Err(_) => rel,
            },
            None => rel,
        };
        let rel = base.join(rel);
        match unpack_entry(&mut entry, &root, &rel, &rules) {
            Ok(Unpacked::Dir) => dir_times.push((rel, mtime(&entry))),
            Ok(_) => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{shown}: {e}"))),
        }
    }
    for (dir, time) in dir_times.iter().rev() {
        set_dir_mtime(&root, dir, *time)?;
    }
    Ok(())
}

/// Cleans an entry path lexically: `None` for the root itself, `Err` when `..` climbs above it.
fn clean(path: &Path) -> Result<Option<PathBuf>, ()> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                parts.pop().ok_or(())?;
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.iter().collect()))
}

/// The parent directory of the cleaned entry path `rel`, resolved (and created) inside the
/// layer, and the entry's name in it.
fn parent_of<'a>(root: &Root, rel: &'a Path) -> io::Result<(OwnedFd, &'a OsStr)> {
    Ok(root.mkdir_parent(rel)?)
}

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<R>,
    root: &Root,
    rel: &Path,
    rules: &Rules,
) -> io::Result<Unpacked> {
    let (parent, name) = parent_of(root, rel)?;
    let name_str = name.to_string_lossy();
    if rules.layer && name_str == OPAQUE {
        // xattrs need a readable descriptor of the directory itself.
        let dir = openat(
            &parent,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        File::from(dir).set_xattr("trusted.overlay.opaque", b"y")?;
        return Ok(Unpacked::Other);
    }
    if let Some(hidden) = name_str.strip_prefix(WHITEOUT).filter(|_| rules.layer) {
        if hidden.is_empty() || hidden.starts_with(WHITEOUT) {
            return Ok(Unpacked::Other);
        }
        remove_existing(&parent, OsStr::new(hidden))?;
        mknodat(
            &parent,
            hidden,
            SFlag::S_IFCHR,
            Mode::empty(),
            makedev(0, 0),
        )?;
        return Ok(Unpacked::Other);
    }
    let header = entry.header();
    let kind = header.entry_type();
    let (uid, gid) = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
    let mode = header.mode()? & 0o7777;
    match kind {
        EntryType::Directory => {
            let is_dir = lstat_at(&parent, name)?.is_some_and(|st| is_kind(&st, SFlag::S_IFDIR));
            if !is_dir {
                remove_existing(&parent, name)?;
                mkdirat(&parent, name, Mode::from_bits_truncate(0o777))?;
            }
        }
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            remove_existing(&parent, name)?;
            let flags = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let fd = openat(&parent, name, flags, Mode::from_bits_truncate(0o600))?;
            io::copy(entry, &mut File::from(fd))?;
        }
        EntryType::Symlink => {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other("symlink without a target"))?;
            remove_existing(&parent, name)?;
            symlinkat(target.as_ref(), &parent, name)?;
        }
        EntryType::Link => {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other("hard link without a target"))?;
            let target_rel = clean(&target)
                .map_err(|()| io::Error::other("hard link target escapes the layer directory"))?
                .ok_or_else(|| io::Error::other("hard link to the layer root"))?;
            let (target_parent, target_name) = parent_of(root, &target_rel)?;
            let source = lstat_at(&target_parent, target_name)?
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            if is_kind(&source, SFlag::S_IFDIR) {
                return Err(io::Error::other("hard link to a directory"));
            }
            let same_dir = same_file(&fstat_fd(&target_parent)?, &fstat_fd(&parent)?);
            if same_dir && target_name == name {
                return Ok(Unpacked::Other);
            }
            remove_existing(&parent, name)?;
            linkat(&target_parent, target_name, &parent, name, AtFlags::empty())?;
            return Ok(Unpacked::Other);
        }
        EntryType::Fifo => {
            remove_existing(&parent, name)?;
            mknodat(
                &parent,
                name,
                SFlag::S_IFIFO,
                Mode::from_bits_truncate(0o600),
                0,
            )?;
        }
        EntryType::Char | EntryType::Block => {
            let whiteout = rules.layer
                && kind == EntryType::Char
                && header.device_major()? == Some(0)
                && header.device_minor()? == Some(0);
            if !whiteout {
                return Ok(Unpacked::SkippedDevice);
            }
            remove_existing(&parent, name)?;
            mknodat(&parent, name, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))?;
            return Ok(Unpacked::Other);
        }
        _ => return Ok(Unpacked::Other),
    }
    let ids = match rules.owner {
        Owner::FromArchive => Some((uid as u32, gid as u32)),
        Owner::Set(uid, gid) => Some((uid, gid)),
        Owner::Caller => None,
    };
    if let Some((uid, gid)) = ids {
        fchownat(
            &parent,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    if kind != EntryType::Symlink {
        // After chown, which clears set-id bits. The entry was just made here and is not a
        // symlink, so following the name does not leave the parent.
        fchmodat(
            &parent,
            name,
            Mode::from_bits_truncate(mode),
            FchmodatFlags::FollowSymlink,
        )?;
        if let Some(exts) = entry.pax_extensions()? {
            // The parent by its descriptor, the name not followed (lsetxattr).
            let path = fd_path(parent.as_fd()).join(name);
            for ext in exts.flatten() {
                let Ok(key) = ext.key() else { continue };
                if let Some(attr) = key.strip_prefix("SCHILY.xattr.")
                    && (attr.starts_with("user.") || attr == "security.capability")
                {
                    xattr::set(&path, attr, ext.value_bytes())?;
                }
            }
        }
    }
    if kind == EntryType::Directory {
        return Ok(Unpacked::Dir);
    }
    let t = TimeSpec::new(mtime(entry), 0);
    utimensat(&parent, name, &t, &t, UtimensatFlags::NoFollowSymlink)?;
    Ok(Unpacked::Other)
}

fn mtime<R: Read>(entry: &tar::Entry<R>) -> i64 {
    entry
        .header()
        .mtime()
        .ok()
        .and_then(|t| i64::try_from(t).ok())
        .unwrap_or(0)
}

/// Sets the mtime of the directory entry `rel` once the layer is complete. An entry that a
/// later one replaced with something else than a directory is left alone.
fn set_dir_mtime(root: &Root, rel: &Path, secs: i64) -> io::Result<()> {
    let (parent, name) = parent_of(root, rel)?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let dir = match openat(&parent, name, flags, Mode::empty()) {
        Ok(dir) => dir,
        Err(Errno::ELOOP | Errno::ENOTDIR) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let t = TimeSpec::new(secs, 0);
    futimens(&dir, &t, &t)?;
    Ok(())
}

/// The status of `name` in `dir`, not following a symlink; `None` if there is nothing.
fn lstat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<FileStat>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn fstat_fd(fd: &OwnedFd) -> io::Result<FileStat> {
    Ok(nix::sys::stat::fstat(fd)?)
}

fn is_kind(st: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == kind
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
}

/// Removes whatever is at `name` in `dir`, a directory with its content; a symlink is removed,
/// never followed.
fn remove_existing(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    match lstat_at(dir, name)? {
        None => Ok(()),
        Some(st) if is_kind(&st, SFlag::S_IFDIR) => {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let sub = openat(dir, name, flags, Mode::empty())?;
            empty_dir(sub)?;
            Ok(unlinkat(dir, name, UnlinkatFlags::RemoveDir)?)
        }
        Some(_) => Ok(unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?),
    }
}

/// Removes the content of the directory `dir`, depth first, relative to descriptors.
fn empty_dir(dir: OwnedFd) -> io::Result<()> {
    let handle = dir.try_clone()?;
    let mut listing = Dir::from_fd(handle)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push((OsStr::from_bytes(name).to_os_string(), entry.file_type()));
        }
    }
    drop(listing);
    for (name, kind) in names {
        match kind {
            Some(Type::Directory) => remove_existing(&dir, &name)?,
            Some(_) => unlinkat(&dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir)?,
            // The file system did not say: look.
            None => remove_existing(&dir, &name)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_table() {
        let cases: [(&str, Result<Option<&str>, ()>); 7] = [
            ("a/b", Ok(Some("a/b"))),
            ("/etc/passwd", Ok(Some("etc/passwd"))),
            ("./x/./y/", Ok(Some("x/y"))),
            ("a/../b", Ok(Some("b"))),
            ("../x", Err(())),
            ("a/../../x", Err(())),
            ("./", Ok(None)),
        ];
        for (input, want) in cases {
            let got = clean(Path::new(input));
            assert_eq!(got, want.map(|o| o.map(PathBuf::from)), "{input}");
        }
    }

    /// One tar entry: path, type, content or link target, mtime.
    fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, kind: EntryType, data: &str, t: u64) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(0o755);
        header.set_mtime(t);
        if matches!(kind, EntryType::Symlink | EntryType::Link) {
            header.set_link_name(data).unwrap();
            header.set_size(0);
            tar.append_data(&mut header, path, io::empty()).unwrap();
        } else {
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, path, data.as_bytes()).unwrap();
        }
    }

    #[test]
    fn entries_are_made_relative_to_their_parent() {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};

        let mut tar = tar::Builder::new(Vec::new());
        append(&mut tar, "d/", EntryType::Directory, "", 1000);
        append(&mut tar, "d/sub/f", EntryType::Regular, "one", 1);
        append(&mut tar, "l", EntryType::Symlink, "/d", 1);
        append(&mut tar, "l/g", EntryType::Regular, "two", 1);
        append(&mut tar, "d/h", EntryType::Link, "d/g", 1);
        append(&mut tar, "d/g", EntryType::Link, "d/g", 1);
        append(&mut tar, "d/sub", EntryType::Regular, "replaced", 1);
        append(&mut tar, "d/.wh.h", EntryType::Regular, "", 1);
        let tar = tar.into_inner().unwrap();

        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path();
        extract_layer(&tar[..], dest, "test").unwrap();
        let d = dest.join("d");
        assert_eq!(std::fs::read_to_string(d.join("g")).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(d.join("sub")).unwrap(), "replaced");
        let whiteout = std::fs::symlink_metadata(d.join("h")).unwrap();
        assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
        assert_eq!(std::fs::read_link(dest.join("l")).unwrap(), Path::new("/d"));
        let meta = std::fs::metadata(&d).unwrap();
        assert_eq!((meta.mtime(), meta.mode() & 0o7777), (1000, 0o755));
    }
}
