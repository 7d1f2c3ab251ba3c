//! Copying files in and out of a directory tree as tar streams, with `docker cp`'s rules for
//! where a copy lands: the same code serves a container's root (the runtime's `copy_from` and
//! `copy_to`) and the host's `/` (the CLI's side of `cp`).
//!
//! Paths are resolved inside the given root: a symlink on the way is followed as if the root
//! were `/`, never out of it ([`crate::inroot`]); extraction makes every entry relative to its
//! parent's descriptor and refuses entries that climb out with `..`.
//!
//! A source is packed under its own name (`dir/…`), or as its content (`dir/.`, as `cp -a
//! dir/. dest`). Where it lands ([`Placement`]): into an existing directory under the source's
//! name; at a missing path (whose parent exists) under that path's name; over an existing file
//! when the source is a file. A directory never replaces a file, and a path ending in `/` must
//! be a directory.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, readlinkat};
use nix::sys::stat::{SFlag, fstatat};

use crate::image::extract_under;
use crate::inroot::{Root, fd_path};

/// An archive could not be made or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The path does not exist.
    #[error("could not find the file {0}")]
    NotFound(String),
    /// The destination does not suit the source.
    #[error("{0}")]
    Placement(String),
    /// Reading or writing failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.display().to_string();
    move |source| ArchiveError::Io { what, path, source }
}

/// Who owns what an extraction makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The uid and gid the archive says.
    FromArchive,
    /// These ids, whatever the archive says.
    Set(u32, u32),
    /// Whoever made the entry (the caller), as `tar --no-same-owner`.
    Caller,
}

/// What was packed: the name its entries start with (`.` for a directory's content) and
/// whether it is a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The first component of every entry (`.` when the content of a directory was packed).
    pub name: String,
    /// Whether the source is a directory.
    pub is_dir: bool,
}

/// Whether `path` names the content of a directory (`dir/.`).
fn is_content(path: &Path) -> bool {
    path.as_os_str().as_bytes().ends_with(b"/.") || path.as_os_str() == "."
}

/// The parent and final name of `path` as seen inside a root (`/` has no name).
fn split(path: &Path) -> (PathBuf, Option<OsString>) {
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let name = parts.pop().map(OsStr::to_os_string);
    let mut parent = PathBuf::from("/");
    parent.extend(parts);
    (parent, name)
}

/// What [`pack`] of `path` inside `root` packs (its name and whether it is a directory),
/// found without packing it.
pub fn describe(root: &Path, path: &Path, follow_link: bool) -> Result<Packed, ArchiveError> {
    let shown = path.display().to_string();
    let root_dir = Root::open(root).map_err(|e| io_err("open", root)(e.into()))?;
    let (parent, name) = split(path);
    let content = is_content(path) || name.is_none();
    let not_found = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
            ArchiveError::NotFound(shown.clone())
        }
        _ => io_err("open", path)(e),
    };
    let is_dir = match &name {
        Some(name) if !content && !follow_link => {
            let dir = root_dir
                .open_dir(&parent)
                .map_err(|e| not_found(e.into()))?;
            let st = fstatat(&dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| not_found(e.into()))?;
            SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
        }
        _ => {
            let fd = root_dir.open_path(path).map_err(|e| not_found(e.into()))?;
            std::fs::metadata(fd_path(fd.as_fd()))
                .map_err(io_err("stat", path))?
                .is_dir()
        }
    };
    if content && !is_dir {
        return Err(ArchiveError::Placement(format!(
            "{shown} is not a directory"
        )));
    }
    Ok(Packed {
        name: match name {
            Some(n) if !content => n.to_string_lossy().into_owned(),
            _ => ".".into(),
        },
        is_dir,
    })
}

/// Packs `path` (as seen inside `root`) into a tar written to `out`; with `follow_link` a
/// final symlink is packed as what it points to. Returns what was packed.
pub fn pack(
    root: &Path,
    path: &Path,
    follow_link: bool,
    out: &mut dyn Write,
) -> Result<Packed, ArchiveError> {
    let shown = path.display().to_string();
    let root_dir = Root::open(root).map_err(|e| io_err("open", root)(e.into()))?;
    let (parent, name) = split(path);
    let not_found = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
            ArchiveError::NotFound(shown.clone())
        }
        _ => io_err("open", path)(e),
    };
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let content = is_content(path) || name.is_none();
    let (target, entry_name): (OwnedFd, Option<OsString>) = match (&name, content) {
        (Some(_), false) if !follow_link => {
            let dir = root_dir
                .open_dir(&parent)
                .map_err(|e| not_found(e.into()))?;
            let name = name.clone().expect("matched Some");
            let st = fstatat(&dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| not_found(e.into()))?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                let link = readlinkat(&dir, name.as_os_str()).map_err(|e| not_found(e.into()))?;
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(st.st_mode & 0o7777);
                header.set_uid(st.st_uid.into());
                header.set_gid(st.st_gid.into());
                header.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
                header.set_size(0);
                tar.append_link(&mut header, &name, &link)
                    .map_err(io_err("write", path))?;
                tar.finish().map_err(io_err("write", path))?;
                return Ok(Packed {
                    name: name.to_string_lossy().into_owned(),
                    is_dir: false,
                });
            }
            let fd = root_dir
                .open_path(&parent.join(&name))
                .map_err(|e| not_found(e.into()))?;
            (fd, Some(name))
        }
        _ => {
            let fd = root_dir.open_path(path).map_err(|e| not_found(e.into()))?;
            (fd, if content { None } else { name.clone() })
        }
    };
    let meta = std::fs::metadata(fd_path(target.as_fd())).map_err(io_err("stat", path))?;
    let packed_name = entry_name
        .as_ref()
        .map_or_else(|| ".".to_string(), |n| n.to_string_lossy().into_owned());
    if meta.is_dir() {
        tar.append_dir_all(
            entry_name.as_deref().map_or(Path::new(""), Path::new),
            fd_path(target.as_fd()),
        )
        .map_err(io_err("read", path))?;
    } else {
        if content {
            return Err(ArchiveError::Placement(format!(
                "{shown} is not a directory"
            )));
        }
        // Reopened for reading through its descriptor's magic link: the same file.
        let file = File::open(fd_path(target.as_fd())).map_err(io_err("open", path))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata(&meta);
        header.set_uid(u64::from(meta.uid()));
        header.set_gid(u64::from(meta.gid()));
        let name = entry_name.unwrap_or_default();
        tar.append_data(&mut header, &name, file)
            .map_err(io_err("read", path))?;
    }
    tar.finish().map_err(io_err("write", path))?;
    Ok(Packed {
        name: packed_name,
        is_dir: meta.is_dir(),
    })
}

/// Where a packed source lands under a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The directory (inside the root) the entries are extracted under.
    pub under: PathBuf,
    /// The source's name and the name it takes there, when it is renamed.
    pub rename: Option<(OsString, OsString)>,
}

/// What a destination is, for [`place`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing is there.
    Nothing,
    /// A directory (or a symlink to one).
    Directory,
    /// Anything else.
    File,
}

/// Decides where `source` lands at `dest` (which is `existing`), by `docker cp`'s rules.
pub fn place(source: &Packed, dest: &Path, existing: Existing) -> Result<Placement, ArchiveError> {
    let shown = dest.display();
    let trailing_slash = dest.as_os_str().as_bytes().ends_with(b"/");
    let (parent, name) = split(dest);
    match existing {
        Existing::Directory => Ok(Placement {
            under: dest.to_path_buf(),
            rename: None,
        }),
        Existing::File if source.is_dir => Err(ArchiveError::Placement(format!(
            "cannot copy a directory to the file {shown}"
        ))),
        Existing::Nothing if trailing_slash => Err(ArchiveError::Placement(format!(
            "the destination directory {shown} does not exist"
        ))),
        Existing::Nothing if source.name == "." => Ok(Placement {
            under: dest.to_path_buf(),
            rename: None,
        }),
        Existing::File | Existing::Nothing => {
            let name =
                name.ok_or_else(|| ArchiveError::Placement(format!("cannot copy to {shown}")))?;
            Ok(Placement {
                under: parent,
                rename: Some((OsString::from(&source.name), name)),
            })
        }
    }
}

/// What `path` is inside `root` (symlinks followed inside it).
pub fn existing(root: &Path, path: &Path) -> Result<Existing, ArchiveError> {
    let root_dir = Root::open(root).map_err(|e| io_err("open", root)(e.into()))?;
    match root_dir.open_path(path) {
        Ok(fd) => {
            let meta = std::fs::metadata(fd_path(fd.as_fd())).map_err(io_err("stat", path))?;
            Ok(if meta.is_dir() {
                Existing::Directory
            } else {
                Existing::File
            })
        }
        Err(e) => {
            let e: std::io::Error = e.into();
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(Existing::Nothing)
            } else {
                Err(io_err("open", path)(e))
            }
        }
    }
}

/// Unpacks a tar of `source` (as [`pack`] made it) at `dest` inside `root`, placed by
/// [`place`]; the parent of a missing destination must exist, and a directory's content
/// (`dir/.`) makes a missing destination directory.
pub fn unpack(
    root: &Path,
    dest: &Path,
    source: &Packed,
    reader: impl Read,
    owner: Owner,
) -> Result<(), ArchiveError> {
    let placement = place(source, dest, existing(root, dest)?)?;
    let parent_kind = existing(root, &placement.under)?;
    if parent_kind != Existing::Directory {
        if source.name == "." && parent_kind == Existing::Nothing {
            let root_dir = Root::open(root).map_err(|e| io_err("open", root)(e.into()))?;
            root_dir
                .mkdir_all(&placement.under)
                .map_err(|e| io_err("create directory", dest)(e.into()))?;
        } else {
            return Err(ArchiveError::Placement(format!(
                "the destination directory {} does not exist",
                placement.under.display()
            )));
        }
    }
    let rename = placement
        .rename
        .as_ref()
        .map(|(from, to)| (from.as_os_str(), to.as_os_str()));
    extract_under(reader, root, &placement.under, rename, owner)
        .map_err(io_err("extract into", dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(name: &str, is_dir: bool) -> Packed {
        Packed {
            name: name.into(),
            is_dir,
        }
    }

    #[test]
    fn placement_follows_docker_cp() {
        let into = place(
            &packed("a.txt", false),
            Path::new("/tmp"),
            Existing::Directory,
        )
        .unwrap();
        assert_eq!((into.under, into.rename), (PathBuf::from("/tmp"), None));
        let renamed = place(
            &packed("a.txt", false),
            Path::new("/tmp/b.txt"),
            Existing::Nothing,
        )
        .unwrap();
        assert_eq!(renamed.under, PathBuf::from("/tmp"));
        assert_eq!(
            renamed.rename,
            Some((OsString::from("a.txt"), OsString::from("b.txt")))
        );
        let over = place(&packed("a.txt", false), Path::new("/etc/x"), Existing::File).unwrap();
        assert_eq!(over.under, PathBuf::from("/etc"));
        assert!(place(&packed("d", true), Path::new("/etc/x"), Existing::File).is_err());
        assert!(place(&packed("a", false), Path::new("/nope/"), Existing::Nothing).is_err());
        let content = place(&packed(".", true), Path::new("/new"), Existing::Nothing).unwrap();
        assert_eq!(
            (content.under, content.rename),
            (PathBuf::from("/new"), None)
        );
    }

    #[test]
    fn a_directory_packs_and_unpacks_under_a_new_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::create_dir_all(src.join("d/sub")).unwrap();
        std::fs::write(src.join("d/sub/f"), "hello").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("d/link")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        let mut tar = Vec::new();
        let what = pack(&src, Path::new("/d"), false, &mut tar).unwrap();
        assert_eq!(what, packed("d", true));
        assert_eq!(describe(&src, Path::new("/d"), false).unwrap(), what);
        assert_eq!(
            describe(&src, Path::new("/d/."), false).unwrap(),
            packed(".", true)
        );
        unpack(&dst, Path::new("/copy"), &what, &tar[..], Owner::Caller).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.join("copy/sub/f")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_link(dst.join("copy/link")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        // Into an existing directory: under the source's own name.
        unpack(&dst, Path::new("/copy"), &what, &tar[..], Owner::Caller).unwrap();
        assert!(dst.join("copy/d/sub/f").is_file());
    }

    #[test]
    fn a_path_is_resolved_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        // An absolute symlink points inside the root, not at the host's /etc.
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        let mut tar = Vec::new();
        let what = pack(&root, Path::new("/link/passwd"), false, &mut tar).unwrap();
        assert_eq!(what, packed("passwd", false));
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        unpack(&out, Path::new("/p"), &what, &tar[..], Owner::Caller).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("p")).unwrap(), "inside");
        let missing = pack(&root, Path::new("/nope"), false, &mut Vec::new());
        assert!(matches!(missing, Err(ArchiveError::NotFound(_))));
    }
}
