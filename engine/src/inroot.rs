//! Resolving paths inside a directory treated as the root (an image layer being extracted, a
//! container rootfs being set up), so that no symlink in it can send an operation outside it.
//!
//! Every lookup returns a file descriptor (`O_PATH`) and the callers act on that descriptor
//! (`*at` calls relative to it, or `/proc/self/fd/N` for mount(2)), never on a path walked again
//! by name: a symlink swapped in after the lookup cannot redirect the operation.
//!
//! Lookups use `openat2(2)` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: the kernel treats
//! the root as `/`, absolute symlinks resolve against it and `..` never climbs above it. On
//! kernels without openat2 (`ENOSYS`) a walk of our own does the same, one component at a time
//! with `openat(O_PATH | O_NOFOLLOW)` relative to the directory reached so far, reading symlinks
//! itself and handling `..` with its own stack of directories. The walk refuses to follow any
//! symlink on procfs (the magic links live there), which is stricter than openat2 (which
//! follows plain procfs links like `/proc/self`). Unlike openat2 it does not notice a directory
//! it is inside being moved out of the root by a concurrent rename; that needs write access to
//! both sides, which what lives in the root does not have.
//!
//! Creation (`mkdir -p`, mount targets) is built on the lookup: the deepest existing ancestor is
//! looked up in the root, the missing component is created with `mkdirat`/`openat(O_CREAT)`
//! relative to its descriptor, and a dangling symlink in the way is expanded by reading it and
//! resolving its target again in the root.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, mkdirat};
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};

/// At most this many symlinks are followed resolving one path (the kernel's limit).
const MAX_LINKS: usize = 40;
/// How often an `openat2` that failed with `EAGAIN` (a concurrent rename or mount while
/// resolving `..`) is retried.
const MAX_AGAIN: usize = 64;
/// An upper bound on the create-or-expand steps of one creating lookup (races in the root can
/// make it loop; each step otherwise creates a component or follows a link).
const MAX_STEPS: usize = 1024;

/// Set once openat2 has failed with `ENOSYS`: every later lookup walks.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// An error resolving or creating a path inside a root.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InRootError {
    /// The root directory itself could not be opened.
    #[error("open root {root}: {source}")]
    OpenRoot {
        /// The root directory.
        root: PathBuf,
        /// The errno.
        source: Errno,
    },
    /// More than 40 symlinks, a symlink loop, or a `/proc` magic link on the way.
    #[error("too many levels of symbolic links (or a magic link) resolving {path} in {root}")]
    TooManyLinks {
        /// The root directory.
        root: PathBuf,
        /// The path being resolved, as given.
        path: PathBuf,
    },
    /// The path has no final name to make an entry of (`/`, or it ends in `..`).
    #[error("{path} in {root} names no entry")]
    NoName {
        /// The root directory.
        root: PathBuf,
        /// The path, as given.
        path: PathBuf,
    },
    /// A system call failed resolving or creating `path`.
    #[error("{op} {path} in {root}: {source}")]
    Sys {
        /// What was attempted ("open", "create", ...).
        op: &'static str,
        /// The root directory.
        root: PathBuf,
        /// The path being resolved, as given.
        path: PathBuf,
        /// The errno.
        source: Errno,
    },
}

impl InRootError {
    /// The errno behind the error (`ELOOP` for too many links).
    pub(crate) fn errno(&self) -> Errno {
        match self {
            Self::OpenRoot { source, .. } | Self::Sys { source, .. } => *source,
            Self::TooManyLinks { .. } => Errno::ELOOP,
            Self::NoName { .. } => Errno::EINVAL,
        }
    }
}

impl From<InRootError> for std::io::Error {
    fn from(e: InRootError) -> Self {
        std::io::Error::new(std::io::Error::from(e.errno()).kind(), e)
    }
}

/// The result of one resolver step, with the bare errno before it is given its path.
type Step<T> = Result<T, Errno>;

/// A directory treated as `/` for every path resolved through it.
#[derive(Debug)]
pub(crate) struct Root {
    /// `O_PATH` descriptor of the root directory.
    fd: OwnedFd,
    /// The root's host path, for errors.
    path: PathBuf,
    /// Always use the walk, never openat2 (tests exercise the walk this way).
    walk_only: bool,
}

impl Root {
    /// Opens the directory `path` (a trusted host path) as a root.
    pub(crate) fn open(path: &Path) -> Result<Self, InRootError> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| InRootError::OpenRoot {
            root: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
            walk_only: false,
        })
    }

    /// The same root, resolved with the walk for kernels without openat2 only.
    #[cfg(test)]
    fn walking(mut self) -> Self {
        self.walk_only = true;
        self
    }

    /// Opens the existing `path` (relative, or absolute as seen from the root), following
    /// symlinks inside the root, including a final one. Returns an `O_PATH` descriptor.
    pub(crate) fn open_path(&self, path: &Path) -> Result<OwnedFd, InRootError> {
        self.lookup(&split(path), false)
            .map_err(|e| self.error("open", path, e))
    }

    /// Opens the existing directory `path` like [`Root::open_path`]; `ENOTDIR` if it is not one.
    pub(crate) fn open_dir(&self, path: &Path) -> Result<OwnedFd, InRootError> {
        self.lookup(&split(path), true)
            .map_err(|e| self.error("open", path, e))
    }

    /// `mkdir -p` inside the root: creates the missing directories of `path` (mode 0777 less
    /// the umask), following symlinks inside the root (a dangling one gets its target created).
    /// Returns an `O_PATH` descriptor of the last directory.
    pub(crate) fn mkdir_all(&self, path: &Path) -> Result<OwnedFd, InRootError> {
        self.mkdir_parts(split(path))
            .map_err(|e| self.error("create directory", path, e))
    }

    /// For making the entry `path` with `*at` calls: creates the missing parent directories of
    /// `path` like [`Root::mkdir_all`] and returns the parent's descriptor with the entry's
    /// final name, which is not resolved (the caller decides whether to follow it).
    pub(crate) fn mkdir_parent<'p>(
        &self,
        path: &'p Path,
    ) -> Result<(OwnedFd, &'p OsStr), InRootError> {
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name,
            _ => {
                return Err(InRootError::NoName {
                    root: self.path.clone(),
                    path: path.to_path_buf(),
                });
            }
        };
        let parent = path.parent().unwrap_or(Path::new(""));
        Ok((self.mkdir_all(parent)?, name))
    }

    /// A mount target for a file: opens `path` if it exists (of any type, following symlinks
    /// inside the root), else creates its parent directories and an empty file (mode 0666 less
    /// the umask). Returns a descriptor of it.
    pub(crate) fn create_file(&self, path: &Path) -> Result<OwnedFd, InRootError> {
        self.create_file_parts(split(path))
            .map_err(|e| self.error("create file", path, e))
    }

    /// The error for `path` from a bare errno.
    fn error(&self, op: &'static str, path: &Path, source: Errno) -> InRootError {
        if source == Errno::ELOOP {
            return InRootError::TooManyLinks {
                root: self.path.clone(),
                path: path.to_path_buf(),
            };
        }
        InRootError::Sys {
            op,
            root: self.path.clone(),
            path: path.to_path_buf(),
            source,
        }
    }

    /// Looks `parts` up inside the root with openat2, or with the walk where openat2 is missing.
    fn lookup(&self, parts: &[OsString], dir: bool) -> Step<OwnedFd> {
        if !self.walk_only && !NO_OPENAT2.load(Ordering::Relaxed) {
            match self.lookup_openat2(parts, dir) {
                Err(Errno::ENOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
                other => return other,
            }
        }
        self.walk(parts, dir)
    }

    /// One openat2 call resolving `parts` in the root.
    fn lookup_openat2(&self, parts: &[OsString], dir: bool) -> Step<OwnedFd> {
        let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        if dir {
            flags |= OFlag::O_DIRECTORY;
        }
        let how = OpenHow::new()
            .flags(flags)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let path = joined(parts);
        let mut again = 0;
        loop {
            match openat2(self.fd.as_fd(), path.as_path(), how) {
                Err(Errno::EAGAIN) if again < MAX_AGAIN => again += 1,
                other => return other,
            }
        }
    }

    /// The walk for kernels without openat2: one component at a time, each opened with
    /// `O_PATH | O_NOFOLLOW` relative to the descriptor of the directory reached so far.
    fn walk(&self, parts: &[OsString], dir: bool) -> Step<OwnedFd> {
        // Descriptors of the directories below the root on the way to the current one.
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut pending: Vec<OsString> = parts.iter().rev().cloned().collect();
        let mut links = 0;
        let mut last: Option<OwnedFd> = None;
        while let Some(part) = pending.pop() {
            if let Some(fd) = last.take() {
                // Only a directory can have something below it.
                if !is_dir(&fstat(&fd)?) {
                    return Err(Errno::ENOTDIR);
                }
                stack.push(fd);
            }
            if part == ".." {
                stack.pop();
                continue;
            }
            let current = stack.last().map_or(self.fd.as_fd(), AsFd::as_fd);
            let fd = openat(
                current,
                part.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let st = fstat(&fd)?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFLNK {
                last = Some(fd);
                continue;
            }
            if fstatfs(current)?.filesystem_type() == PROC_SUPER_MAGIC {
                return Err(Errno::ELOOP);
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            let target = readlinkat(&fd, "")?;
            if Path::new(&target).is_absolute() {
                stack.clear();
            }
            pending.extend(split(Path::new(&target)).into_iter().rev());
        }
        let fd = match last {
            Some(fd) => fd,
            None => match stack.pop() {
                Some(fd) => fd,
                None => self.fd.try_clone().map_err(errno_of)?,
            },
        };
        if dir && !is_dir(&fstat(&fd)?) {
            return Err(Errno::ENOTDIR);
        }
        Ok(fd)
    }

    /// The deepest existing directory among the prefixes of `parts` shorter than `parts`:
    /// its descriptor and how many components it has.
    fn deepest_dir(&self, parts: &[OsString]) -> Step<(OwnedFd, usize)> {
        for len in (0..parts.len()).rev() {
            match self.lookup(&parts[..len], true) {
                Ok(fd) => return Ok((fd, len)),
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        // The root itself always exists.
        Err(Errno::ENOENT)
    }

    /// [`Root::mkdir_all`] of split components, failing with a bare errno.
    fn mkdir_parts(&self, mut parts: Vec<OsString>) -> Step<OwnedFd> {
        let mut links = 0;
        for _ in 0..MAX_STEPS {
            match self.lookup(&parts, true) {
                Err(Errno::ENOENT) => {}
                other => return other,
            }
            let (dir, len) = self.deepest_dir(&parts)?;
            let name = &parts[len];
            if name == ".." {
                // `..` of an existing directory exists: something moved meanwhile.
                continue;
            }
            match mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o777)) {
                Ok(()) => {}
                Err(Errno::EEXIST) => {
                    parts = expand_link(&dir, parts, len, &mut links)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno::ELOOP)
    }

    /// [`Root::create_file`] of split components, failing with a bare errno.
    fn create_file_parts(&self, mut parts: Vec<OsString>) -> Step<OwnedFd> {
        let mut links = 0;
        for _ in 0..MAX_STEPS {
            match self.lookup(&parts, false) {
                Err(Errno::ENOENT) => {}
                other => return other,
            }
            let Some((name, parent)) = parts.split_last() else {
                return Err(Errno::ENOENT);
            };
            if name == ".." {
                self.mkdir_parts(parts.clone())?;
                continue;
            }
            let dir = self.mkdir_parts(parent.to_vec())?;
            let flags = OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_RDONLY
                | OFlag::O_CLOEXEC;
            match openat(
                &dir,
                name.as_os_str(),
                flags,
                Mode::from_bits_truncate(0o666),
            ) {
                Ok(fd) => return Ok(fd),
                Err(Errno::EEXIST) => {
                    let len = parent.len();
                    parts = expand_link(&dir, parts, len, &mut links)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno::ELOOP)
    }
}

/// `parts[len]` exists in `dir` but could not be looked up: if it is a symlink, returns
/// `parts` with it replaced by its target (resolved from `parts[..len]`, or from the root when
/// absolute); anything else (a race) returns `parts` unchanged to be looked up again.
fn expand_link(
    dir: &OwnedFd,
    parts: Vec<OsString>,
    len: usize,
    links: &mut usize,
) -> Step<Vec<OsString>> {
    let target = match readlinkat(dir, parts[len].as_os_str()) {
        Ok(target) => target,
        // Not a symlink (or gone): look again.
        Err(Errno::EINVAL | Errno::ENOENT) => return Ok(parts),
        Err(e) => return Err(e),
    };
    *links += 1;
    if *links > MAX_LINKS {
        return Err(Errno::ELOOP);
    }
    let target = Path::new(&target);
    let mut expanded = if target.is_absolute() {
        Vec::new()
    } else {
        parts[..len].to_vec()
    };
    expanded.extend(split(target));
    expanded.extend_from_slice(&parts[len + 1..]);
    Ok(expanded)
}

/// The `/proc/self/fd/N` path of a descriptor: a magic link to exactly what it refers to, for
/// calls that take a path (mount(2), path-based copies).
pub(crate) fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether a status is a directory's.
fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// The errno of an I/O error (`EIO` if it has none).
fn errno_of(e: std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

/// The normal and `..` components of a path (the root, `.` and empty ones dropped).
fn split(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// `parts` as a relative path ("." when empty).
fn joined(parts: &[OsString]) -> PathBuf {
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    let mut bytes: Vec<u8> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(part.as_bytes());
    }
    PathBuf::from(OsStr::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    use nix::fcntl::{RenameFlags, renameat2};

    use super::*;

    /// Where a descriptor points on the host.
    fn host(fd: &OwnedFd) -> PathBuf {
        fs::read_link(fd_path(fd.as_fd())).unwrap()
    }

    /// A fresh root directory (canonical, so that host paths compare) in `tmp`.
    fn fresh_root(tmp: &tempfile::TempDir) -> PathBuf {
        let root = tmp.path().canonicalize().unwrap().join("root");
        fs::create_dir(&root).unwrap();
        root
    }

    /// The root opened for openat2 (`walk == false`) or for the walk only.
    fn open_root(root: &Path, walk: bool) -> Root {
        let r = Root::open(root).unwrap();
        if walk { r.walking() } else { r }
    }

    const MODES: [bool; 2] = [false, true];

    #[test]
    fn symlinks_stay_inside_the_root() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = &fresh_root(&tmp);
            fs::create_dir_all(root.join("real/dir")).unwrap();
            symlink("/real", root.join("abs")).unwrap();
            symlink("../../../../etc", root.join("escape")).unwrap();
            symlink("real/dir", root.join("rel")).unwrap();
            symlink("loop", root.join("loop")).unwrap();
            let r = open_root(root, walk);
            let cases = [
                ("/abs/dir", root.join("real/dir")),
                ("/escape/passwd", root.join("etc/passwd")),
                ("/rel/new", root.join("real/dir/new")),
                ("/../../x", root.join("x")),
                ("/real/./dir/../dir", root.join("real/dir")),
                ("/", root.clone()),
            ];
            for (input, want) in cases {
                let fd = r.mkdir_all(Path::new(input)).unwrap();
                assert_eq!(host(&fd), want, "{input} walk={walk}");
                let fd = r.open_dir(Path::new(input)).unwrap();
                assert_eq!(host(&fd), want, "{input} walk={walk}");
            }
            for input in ["/loop", "/loop/x"] {
                let err = r.open_path(Path::new(input)).unwrap_err();
                assert!(
                    matches!(err, InRootError::TooManyLinks { .. }),
                    "{input} walk={walk}: {err}"
                );
                let err = r.mkdir_all(Path::new(input)).unwrap_err();
                assert!(
                    matches!(err, InRootError::TooManyLinks { .. }),
                    "{input} walk={walk}: {err}"
                );
            }
        }
    }

    #[test]
    fn mkdir_all_creates_inside_the_root() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            symlink("/etc", root.join("abs")).unwrap();
            symlink("../../..", root.join("up")).unwrap();
            let r = open_root(&root, walk);
            let got = r.mkdir_all(Path::new("abs/x")).unwrap();
            assert_eq!(host(&got), root.join("etc/x"));
            let got = r.mkdir_all(Path::new("up/y")).unwrap();
            assert_eq!(host(&got), root.join("y"));
            assert!(root.join("etc/x").is_dir() && root.join("y").is_dir());
        }
    }

    #[test]
    fn relative_links_and_dotdot_follow_the_kernel() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            fs::create_dir_all(root.join("a/b/c")).unwrap();
            fs::write(root.join("a/b/c/file"), "x").unwrap();
            symlink("b/c", root.join("a/toc")).unwrap();
            symlink("../toc", root.join("a/b/back")).unwrap();
            symlink("toc/file", root.join("a/tofile")).unwrap();
            let r = open_root(&root, walk);
            let cases = [
                ("a/toc", "a/b/c"),
                ("a/b/back", "a/b/c"),
                // `..` after a symlink is the parent of its target, not of the link.
                ("a/toc/..", "a/b"),
                ("a/b/back/../..", "a"),
                ("a/tofile", "a/b/c/file"),
            ];
            for (input, want) in cases {
                let fd = r.open_path(Path::new(input)).unwrap();
                assert_eq!(host(&fd), root.join(want), "{input} walk={walk}");
            }
        }
    }

    #[test]
    fn loops_and_the_link_limit() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            fs::create_dir(root.join("end")).unwrap();
            symlink("b", root.join("a")).unwrap();
            symlink("a", root.join("b")).unwrap();
            // l0 -> l1 -> ... -> l40 -> end: 41 links; l1 takes 40.
            for i in 0..=MAX_LINKS {
                let target = if i == MAX_LINKS {
                    "end".to_string()
                } else {
                    format!("l{}", i + 1)
                };
                symlink(target, root.join(format!("l{i}"))).unwrap();
            }
            let r = open_root(&root, walk);
            for input in ["a", "b/x", "l0"] {
                let err = r.open_path(Path::new(input)).unwrap_err();
                assert!(
                    matches!(err, InRootError::TooManyLinks { .. }),
                    "{input} walk={walk}: {err}"
                );
                assert_eq!(err.errno(), Errno::ELOOP);
                assert!(err.to_string().contains(input), "{err}");
            }
            assert!(r.mkdir_all(Path::new("a/new")).is_err());
            assert!(r.create_file(Path::new("a")).is_err());
            let fd = r.open_dir(Path::new("l1")).unwrap();
            assert_eq!(host(&fd), root.join("end"));
        }
    }

    #[test]
    fn missing_components_and_files_in_the_way() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            fs::write(root.join("file"), "x").unwrap();
            let r = open_root(&root, walk);
            let err = r.open_path(Path::new("/nope/x")).unwrap_err();
            assert_eq!(err.errno(), Errno::ENOENT, "walk={walk}");
            assert!(err.to_string().contains("/nope/x"), "{err}");
            for input in ["file/x", "file/.."] {
                let err = r.open_path(Path::new(input)).unwrap_err();
                assert_eq!(err.errno(), Errno::ENOTDIR, "{input} walk={walk}");
            }
            let err = r.open_dir(Path::new("file")).unwrap_err();
            assert_eq!(err.errno(), Errno::ENOTDIR, "walk={walk}");
            let err = r.mkdir_all(Path::new("file/sub")).unwrap_err();
            assert_eq!(err.errno(), Errno::ENOTDIR, "walk={walk}");
            assert!(!root.join("nope").exists());
            for input in ["/", "dir/..", ""] {
                let err = r.mkdir_parent(Path::new(input)).unwrap_err();
                assert!(matches!(err, InRootError::NoName { .. }), "{input}: {err}");
            }
            let (parent, name) = r.mkdir_parent(Path::new("/made/x")).unwrap();
            assert_eq!((host(&parent), name), (root.join("made"), OsStr::new("x")));
        }
    }

    #[test]
    fn dangling_links_get_their_targets_created() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            symlink("/made/here", root.join("dangling")).unwrap();
            symlink("../target/f", root.join("dfile")).unwrap();
            let r = open_root(&root, walk);
            let fd = r.mkdir_all(Path::new("dangling/sub")).unwrap();
            assert_eq!(host(&fd), root.join("made/here/sub"));
            let fd = r.create_file(Path::new("/dfile")).unwrap();
            assert_eq!(host(&fd), root.join("target/f"));
            assert!(root.join("target/f").is_file());
        }
    }

    #[test]
    fn create_file_makes_parents_and_keeps_what_exists() {
        for walk in MODES {
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            fs::create_dir(root.join("dir")).unwrap();
            fs::write(root.join("dir/kept"), "content").unwrap();
            let r = open_root(&root, walk);
            let fd = r.create_file(Path::new("/etc/deep/resolv.conf")).unwrap();
            assert_eq!(host(&fd), root.join("etc/deep/resolv.conf"));
            let fd = r.create_file(Path::new("/dir/kept")).unwrap();
            assert_eq!(host(&fd), root.join("dir/kept"));
            assert_eq!(
                fs::read_to_string(root.join("dir/kept")).unwrap(),
                "content"
            );
            let fd = r.create_file(Path::new("/dir")).unwrap();
            assert_eq!(host(&fd), root.join("dir"));
        }
    }

    #[test]
    fn magic_links_are_refused() {
        let me = std::process::id();
        for walk in MODES {
            // procfs as the root: its magic links must not be followed.
            let r = open_root(Path::new("/proc"), walk);
            for input in [
                format!("{me}/exe"),
                format!("{me}/fd/0"),
                format!("{me}/root"),
            ] {
                let err = r.open_path(Path::new(&input)).unwrap_err();
                assert_eq!(err.errno(), Errno::ELOOP, "{input} walk={walk}");
            }
            // A link to a magic link in an ordinary root resolves inside the root.
            let tmp = tempfile::tempdir().unwrap();
            let root = fresh_root(&tmp);
            symlink("/proc/self/root", root.join("escape")).unwrap();
            let r = open_root(&root, walk);
            let err = r.open_path(Path::new("escape/etc")).unwrap_err();
            assert_eq!(err.errno(), Errno::ENOENT, "walk={walk}");
        }
    }

    /// Iterations of the resolver against the swapping thread, per mode.
    const RACE_ITERATIONS: usize = 100_000;

    /// One thread swaps `a` between a real directory and a symlink to a directory outside the
    /// root (an atomic `RENAME_EXCHANGE` with `b`) as fast as it can, while this one resolves
    /// and creates through `a`. Nothing may ever be created or opened outside the root.
    fn race_symlink_swap(walk: bool) {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let root = base.join("root");
        let outside = base.join("outside");
        fs::create_dir_all(root.join("a")).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("canary"), "canary").unwrap();
        symlink(&outside, root.join("b")).unwrap();
        let r = open_root(&root, walk);

        let stop = Arc::new(AtomicBool::new(false));
        let flips = Arc::new(AtomicUsize::new(0));
        let flipper = {
            let (stop, flips) = (Arc::clone(&stop), Arc::clone(&flips));
            let dir = Root::open(&root).unwrap().fd;
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    renameat2(&dir, "a", &dir, "b", RenameFlags::RENAME_EXCHANGE).unwrap();
                    flips.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let started = Instant::now();
        let (mut in_dir, mut via_link, mut failed) = (0, 0, 0);
        // Where `a` as a symlink resolves inside the root.
        let link_side = root.join(outside.strip_prefix("/").unwrap());
        for i in 0..RACE_ITERATIONS {
            let got = match i % 5 {
                0 => r.create_file(Path::new("/a/file")),
                1 => r.mkdir_all(Path::new("a/dir/sub")),
                2 => r.create_file(Path::new("a/dir/../dotdot")),
                // As extraction makes an entry: relative to its parent's descriptor.
                3 => r.mkdir_parent(Path::new("a/entry")).map(|(parent, name)| {
                    let flags = OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                    openat(&parent, name, flags, Mode::from_bits_truncate(0o600)).unwrap()
                }),
                _ => r.open_path(Path::new("a/canary")),
            };
            let Ok(fd) = got else {
                failed += 1;
                continue;
            };
            let at = host(&fd);
            assert!(
                at.starts_with(&root),
                "walk={walk}: escaped to {}",
                at.display()
            );
            if at.starts_with(&link_side) {
                via_link += 1;
            } else {
                in_dir += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        flipper.join().unwrap();
        let flips = flips.load(Ordering::Relaxed);
        eprintln!(
            "walk={walk}: {RACE_ITERATIONS} resolutions against {flips} swaps in {:?} \
             ({in_dir} through the directory, {via_link} through the link, {failed} failed)",
            started.elapsed()
        );
        let names: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["canary"], "walk={walk}: created outside the root");
        assert_eq!(
            fs::read_to_string(outside.join("canary")).unwrap(),
            "canary"
        );
        assert!(flips >= 1000, "walk={walk}: only {flips} swaps");
        assert!(
            in_dir > 0 && via_link > 0,
            "walk={walk}: the swap never raced"
        );
    }

    #[test]
    fn a_symlink_swap_never_escapes_openat2() {
        race_symlink_swap(false);
    }

    #[test]
    fn a_symlink_swap_never_escapes_the_walk() {
        race_symlink_swap(true);
    }
}
