//! Safe layer extraction: a tar stream becomes an overlayfs layer directory.
//!
//! No entry can write outside the layer directory: paths are cleaned lexically and any `..`
//! that climbs above the root rejects the layer; parent directories are resolved inside the
//! layer (a symlink is followed as if the layer were the root, never onto the host); the final
//! component is never followed (an existing entry is replaced, files are created with
//! `O_EXCL`); hard links must point at a non-directory inside the layer. Character and block
//! devices are not created (the runtime gives containers their own /dev), except the 0:0
//! character device overlayfs uses as a whiteout. Whiteouts are converted to overlayfs form:
//! `.wh.name` becomes a 0:0 character device, `.wh..wh..opq` the `trusted.overlay.opaque`
//! attribute of its directory.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, makedev, mknod, utimensat};
use nix::sys::time::TimeSpec;
use tar::EntryType;

use super::compress::decompress;
use super::digest::{Digest, HashingReader};
use super::error::{ImageError, Result};

/// How many symlinks are followed resolving one path (the kernel's limit).
const MAX_LINKS: usize = 40;
/// The prefix of whiteout entries.
const WHITEOUT: &str = ".wh.";
/// The opaque-directory marker.
const OPAQUE: &str = ".wh..wh..opq";

/// What one extraction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The digest of the uncompressed tar stream (the layer's DiffID).
    pub diff_id: Digest,
    /// The size of the uncompressed tar stream.
    pub tar_size: u64,
    /// Device nodes that were not created.
    pub skipped_devices: u64,
}

/// Extracts a (possibly gzip or zstd compressed) layer tar stream into `dest`, an existing
/// empty directory. `layer` names the layer in errors.
pub fn extract_layer(reader: impl Read, dest: &Path, layer: &str) -> Result<Extracted> {
    let bad = |reason: String| ImageError::BadLayer {
        layer: layer.to_string(),
        reason,
    };
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
        match unpack_entry(&mut entry, dest, &rel) {
            Ok(Unpacked::Dir(path)) => dir_times.push((path, mtime(&entry))),
            Ok(Unpacked::SkippedDevice) => skipped_devices += 1,
            Ok(Unpacked::Other) => {}
            Err(e) => return Err(bad(format!("entry {shown:?}: {e}"))),
        }
    }
    for (dir, time) in dir_times.iter().rev() {
        set_mtime(dir, *time).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
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

enum Unpacked {
    Dir(PathBuf),
    SkippedDevice,
    Other,
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

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<R>,
    root: &Path,
    rel: &Path,
) -> io::Result<Unpacked> {
    let name = rel
        .file_name()
        .ok_or_else(|| io::Error::other("entry has no file name"))?
        .to_os_string();
    let parent = resolve_dir(root, rel.parent().unwrap_or(Path::new("")))?;
    let name_str = name.to_string_lossy();
    if name_str == OPAQUE {
        xattr::set(&parent, "trusted.overlay.opaque", b"y")?;
        return Ok(Unpacked::Other);
    }
    if let Some(hidden) = name_str.strip_prefix(WHITEOUT) {
        if hidden.is_empty() || hidden.starts_with(WHITEOUT) {
            return Ok(Unpacked::Other);
        }
        let target = parent.join(hidden);
        remove_existing(&target)?;
        mknod(&target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))?;
        return Ok(Unpacked::Other);
    }
    let dest = parent.join(&name);
    let header = entry.header();
    let kind = header.entry_type();
    let (uid, gid) = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
    let mode = header.mode()? & 0o7777;
    match kind {
        EntryType::Directory => {
            let is_dir = fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir());
            if !is_dir {
                remove_existing(&dest)?;
                fs::create_dir(&dest)?;
            }
        }
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            remove_existing(&dest)?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&dest)?;
            io::copy(entry, &mut file)?;
        }
        EntryType::Symlink => {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other("symlink without a target"))?;
            remove_existing(&dest)?;
            std::os::unix::fs::symlink(&target, &dest)?;
        }
        EntryType::Link => {
            let target = entry
                .link_name()?
                .ok_or_else(|| io::Error::other("hard link without a target"))?;
            let target_rel = clean(&target)
                .map_err(|()| io::Error::other("hard link target escapes the layer directory"))?
                .ok_or_else(|| io::Error::other("hard link to the layer root"))?;
            let target_name = target_rel
                .file_name()
                .ok_or_else(|| io::Error::other("hard link target has no file name"))?;
            let target_parent = resolve_dir(root, target_rel.parent().unwrap_or(Path::new("")))?;
            let source = target_parent.join(target_name);
            let meta = fs::symlink_metadata(&source)?;
            if meta.is_dir() {
                return Err(io::Error::other("hard link to a directory"));
            }
            if source == dest {
                return Ok(Unpacked::Other);
            }
            remove_existing(&dest)?;
            fs::hard_link(&source, &dest)?;
            return Ok(Unpacked::Other);
        }
        EntryType::Fifo => {
            remove_existing(&dest)?;
            mknod(&dest, SFlag::S_IFIFO, Mode::from_bits_truncate(0o600), 0)?;
        }
        EntryType::Char | EntryType::Block => {
            let whiteout = kind == EntryType::Char
                && header.device_major()? == Some(0)
                && header.device_minor()? == Some(0);
            if !whiteout {
                return Ok(Unpacked::SkippedDevice);
            }
            remove_existing(&dest)?;
            mknod(&dest, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))?;
            return Ok(Unpacked::Other);
        }
        _ => return Ok(Unpacked::Other),
    }
    std::os::unix::fs::lchown(&dest, Some(uid as u32), Some(gid as u32))?;
    if kind != EntryType::Symlink {
        // After chown, which clears set-id bits.
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode))?;
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts.flatten() {
                let Ok(key) = ext.key() else { continue };
                if let Some(attr) = key.strip_prefix("SCHILY.xattr.")
                    && (attr.starts_with("user.") || attr == "security.capability")
                {
                    xattr::set(&dest, attr, ext.value_bytes())?;
                }
            }
        }
    }
    if kind == EntryType::Directory {
        return Ok(Unpacked::Dir(dest));
    }
    set_mtime(&dest, mtime(entry))?;
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

fn set_mtime(path: &Path, secs: i64) -> io::Result<()> {
    let t = TimeSpec::new(secs, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// Removes whatever is at `path`, a directory with its content; a symlink is removed, never
/// followed.
fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    }
}

/// Resolves the directory `rel` inside `root` as if `root` were `/`: symlinks are followed
/// inside the root, `..` stops at it, missing directories are created. Returns a host path
/// whose every component below `root` is a real directory.
pub(crate) fn resolve_dir(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut pending: Vec<PathBuf> = parts(rel);
    pending.reverse();
    let mut current: Vec<PathBuf> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part.as_os_str() == ".." {
            current.pop();
            continue;
        }
        let host: PathBuf = root.join(current.iter().collect::<PathBuf>()).join(&part);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other("too many levels of symbolic links"));
                }
                let target = fs::read_link(&host)?;
                if target.is_absolute() {
                    current.clear();
                }
                let mut more = parts(&target);
                more.reverse();
                pending.extend(more);
            }
            Ok(m) if m.is_dir() => current.push(part),
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} is not a directory",
                    host.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&host)?;
                current.push(part);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(current.iter().collect::<PathBuf>()))
}

fn parts(path: &Path) -> Vec<PathBuf> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect()
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

    #[test]
    fn resolve_dir_stays_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
        let got = resolve_dir(&root, Path::new("abs/x")).unwrap();
        assert_eq!(got, root.join("etc/x"));
        let got = resolve_dir(&root, Path::new("up/y")).unwrap();
        assert_eq!(got, root.join("y"));
        assert!(root.join("etc/x").is_dir() && root.join("y").is_dir());
    }
}
