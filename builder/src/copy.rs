//! COPY and ADD without a container: the selected files become a plan of layer entries
//! (destination, kind, mode, owner), whose content checksum is the step's cache key and which
//! is then written as the layer tar.
//!
//! Sources are paths or globs inside the source root (the build context, minus what
//! `.dockerignore` excludes, or another stage's or image's rootfs), or here-documents. A
//! directory source copies its contents. With several sources or a glob, the destination
//! must be a directory (end with `/`); a destination that is a directory in the image is one
//! too. ADD extracts local tar archives (plain, gzip or zstd).

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{BuildError, Result};
use crate::ignore::{Ignore, clean};
use crate::pattern;

/// Where sources are read from.
pub(crate) struct SourceRoot<'a> {
    /// The directory.
    pub dir: &'a Path,
    /// What is excluded (the build context's `.dockerignore`; empty for a rootfs).
    pub ignore: &'a Ignore,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file read from the host path.
    File(PathBuf),
    /// A regular file with this content.
    Data(Vec<u8>),
    /// A symbolic link to the target.
    Symlink(PathBuf),
    /// A tar archive (host path) extracted at the destination directory.
    Archive(PathBuf),
}

/// One entry of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The absolute destination in the image.
    pub dest: PathBuf,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time (seconds).
    pub mtime: u64,
}

/// The options of one COPY or ADD.
#[derive(Debug, Clone, Default)]
pub(crate) struct CopyOptions {
    /// `--chown`, resolved.
    pub owner: Option<(u32, u32)>,
    /// `--chmod`.
    pub mode: Option<u32>,
    /// ADD: extract local archives.
    pub extract: bool,
}

/// Parses `--chmod` (octal).
pub(crate) fn parse_chmod(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| BuildError::Invalid(format!("--chmod={text}: expected an octal mode")))
}

/// A path inside a root, `..` unable to climb out; no leading `/`.
fn inside(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(&clean(&format!("/{path}"))).components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

impl SourceRoot<'_> {
    fn excluded(&self, rel: &Path) -> bool {
        !rel.as_os_str().is_empty() && self.ignore.excludes(&rel.to_string_lossy())
    }

    /// Whether `rel` is left out of the context: excluded, and not a directory that holds
    /// a path an exception (`!pattern`) brings back (Docker keeps such a directory, with
    /// only what is brought back in it).
    fn left_out(&self, rel: &Path) -> bool {
        self.excluded(rel) && !self.holds_included(rel)
    }

    /// Whether directory `rel` holds a path that is not excluded, at any depth.
    fn holds_included(&self, rel: &Path) -> bool {
        let Ok(entries) = std::fs::read_dir(self.dir.join(rel)) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let child = rel.join(entry.file_name());
            !self.excluded(&child)
                || (entry.file_type().is_ok_and(|t| t.is_dir()) && self.holds_included(&child))
        })
    }

    /// The paths a source names: itself, or the matches of its glob.
    pub(crate) fn resolve(&self, source: &str) -> Result<Vec<PathBuf>> {
        let rel = inside(source);
        if !pattern::has_wildcard(source) {
            let host = self.dir.join(&rel);
            if std::fs::symlink_metadata(&host).is_err() || self.left_out(&rel) {
                return Err(BuildError::Invalid(format!(
                    "{source}: file not found in build context or excluded by .dockerignore"
                )));
            }
            return Ok(vec![rel]);
        }
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let mut found = Vec::new();
        self.glob(PathBuf::new(), &parts, &mut found)?;
        found.retain(|p| !self.left_out(p));
        if found.is_empty() {
            return Err(BuildError::Invalid(format!(
                "{source}: no source files were specified (nothing matches)"
            )));
        }
        found.sort();
        Ok(found)
    }

    fn glob(&self, base: PathBuf, parts: &[String], found: &mut Vec<PathBuf>) -> Result<()> {
        let Some((first, rest)) = parts.split_first() else {
            found.push(base);
            return Ok(());
        };
        if !pattern::has_wildcard(first) {
            let next = base.join(first);
            if std::fs::symlink_metadata(self.dir.join(&next)).is_ok() {
                self.glob(next, rest, found)?;
            }
            return Ok(());
        }
        let dir = self.dir.join(&base);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries {
            let entry = entry.map_err(BuildError::io("read dir", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if pattern::matches(first, &name, false) {
                self.glob(base.join(&name), rest, found)?;
            }
        }
        Ok(())
    }

    /// The host path of `rel`, the top-level symlink followed inside the root.
    fn follow(&self, rel: &Path) -> Result<(PathBuf, PathBuf)> {
        let mut rel = rel.to_path_buf();
        for _ in 0..40 {
            let host = self.dir.join(&rel);
            let meta = std::fs::symlink_metadata(&host).map_err(BuildError::io("stat", &host))?;
            if !meta.file_type().is_symlink() {
                return Ok((host, rel));
            }
            let target = std::fs::read_link(&host).map_err(BuildError::io("read link", &host))?;
            let joined = if target.is_absolute() {
                target
            } else {
                rel.parent().unwrap_or(Path::new("")).join(target)
            };
            rel = inside(&joined.to_string_lossy());
        }
        Err(BuildError::Invalid(format!(
            "{}: too many levels of symbolic links",
            rel.display()
        )))
    }
}

/// Builds the entries for copying `rel` (resolved by [`SourceRoot::resolve`]) to `dest`;
/// `into_dir` says whether `dest` is a directory to copy into.
pub(crate) fn plan_path(
    root: &SourceRoot<'_>,
    rel: &Path,
    dest: &Path,
    into_dir: bool,
    options: &CopyOptions,
    out: &mut Vec<Entry>,
) -> Result<()> {
    let (host, rel) = root.follow(rel)?;
    let meta = std::fs::metadata(&host).map_err(BuildError::io("stat", &host))?;
    if meta.is_dir() {
        return walk_dir(root, &host, &rel, dest, options, out);
    }
    let name = rel
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("file"));
    if options.extract && is_archive(&host)? {
        out.push(entry(
            dest.to_path_buf(),
            EntryKind::Archive(host),
            &meta,
            options,
        ));
        return Ok(());
    }
    let target = if into_dir {
        dest.join(name)
    } else {
        dest.to_path_buf()
    };
    out.push(entry(target, EntryKind::File(host), &meta, options));
    Ok(())
}

fn entry(dest: PathBuf, kind: EntryKind, meta: &std::fs::Metadata, o: &CopyOptions) -> Entry {
    let (uid, gid) = o.owner.unwrap_or((0, 0));
    Entry {
        dest,
        kind,
        mode: o.mode.unwrap_or(meta.permissions().mode() & 0o7777),
        uid,
        gid,
        mtime: u64::try_from(meta.mtime()).unwrap_or(0),
    }
}

/// The contents of a directory (not the directory itself, whose own entry is the
/// destination's).
fn walk_dir(
    root: &SourceRoot<'_>,
    host: &Path,
    rel: &Path,
    dest: &Path,
    options: &CopyOptions,
    out: &mut Vec<Entry>,
) -> Result<()> {
    let meta = std::fs::metadata(host).map_err(BuildError::io("stat", host))?;
    out.push(entry(dest.to_path_buf(), EntryKind::Dir, &meta, options));
    let mut names: Vec<_> = std::fs::read_dir(host)
        .map_err(BuildError::io("read dir", host))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(BuildError::io("read dir", host))?;
    names.sort();
    for name in names {
        let child_rel = rel.join(&name);
        let child_host = host.join(&name);
        let child_dest = dest.join(&name);
        let meta =
            std::fs::symlink_metadata(&child_host).map_err(BuildError::io("stat", &child_host))?;
        let excluded = root.excluded(&child_rel);
        if meta.is_dir() {
            if excluded && root.ignore.may_skip_dir(&child_rel.to_string_lossy()) {
                continue;
            }
            let before = out.len();
            walk_dir(root, &child_host, &child_rel, &child_dest, options, out)?;
            // An excluded directory is kept only for what is included again below it.
            if excluded && out.len() == before + 1 {
                out.truncate(before);
            }
            continue;
        }
        if excluded {
            continue;
        }
        let kind = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&child_host)
                .map_err(BuildError::io("read link", &child_host))?;
            EntryKind::Symlink(target)
        } else if meta.is_file() {
            EntryKind::File(child_host)
        } else {
            // Devices, fifos and sockets are not copied.
            continue;
        };
        let mut e = entry(child_dest, kind, &meta, options);
        if matches!(e.kind, EntryKind::Symlink(_)) {
            e.mode = 0o777;
        }
        out.push(e);
    }
    Ok(())
}

/// Whether a file is a tar archive (plain, gzip or zstd).
pub(crate) fn is_archive(path: &Path) -> Result<bool> {
    let file = crate::layers::open(path)?;
    let Ok((_, mut plain)) = engine::image::decompress(file) else {
        return Ok(false);
    };
    let mut head = [0u8; 512];
    let mut read = 0;
    while read < head.len() {
        match plain.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(_) => return Ok(false),
        }
    }
    Ok(read == 512 && header_checksum_ok(&head))
}

/// Whether a 512-byte block is a tar header: its checksum field matches (V7 and ustar).
fn header_checksum_ok(block: &[u8; 512]) -> bool {
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8)
    else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored && block[0] != 0
}

/// A here-document as an entry.
pub(crate) fn plan_data(dest: PathBuf, content: Vec<u8>, options: &CopyOptions) -> Entry {
    let (uid, gid) = options.owner.unwrap_or((0, 0));
    Entry {
        dest,
        kind: EntryKind::Data(content),
        mode: options.mode.unwrap_or(0o644),
        uid,
        gid,
        mtime: 0,
    }
}

/// The content checksum of a plan: destinations, kinds, modes, owners, contents and link
/// targets, not modification times.
pub(crate) fn checksum(entries: &[Entry]) -> Result<String> {
    let mut h = Sha256::new();
    for e in entries {
        h.update(e.dest.as_os_str().as_encoded_bytes());
        h.update(format!("\0{:o}\0{}\0{}\0", e.mode, e.uid, e.gid).as_bytes());
        match &e.kind {
            EntryKind::Dir => h.update(b"dir"),
            EntryKind::Data(d) => {
                h.update(b"data");
                h.update(d);
            }
            EntryKind::Symlink(t) => {
                h.update(b"link");
                h.update(t.as_os_str().as_encoded_bytes());
            }
            EntryKind::File(p) | EntryKind::Archive(p) => {
                h.update(if matches!(e.kind, EntryKind::File(_)) {
                    b"file".as_slice()
                } else {
                    b"archive".as_slice()
                });
                let mut f = crate::layers::open(p)?;
                std::io::copy(&mut f, &mut h).map_err(BuildError::io("read", p))?;
            }
        }
        h.update([0]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["src/sub", "skip", "docs"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        for f in [
            "a.txt",
            "b.txt",
            "src/main.rs",
            "src/sub/x.rs",
            "skip/y",
            "docs/keep.md",
        ] {
            std::fs::write(dir.path().join(f), f).expect("write");
        }
        std::os::unix::fs::symlink("main.rs", dir.path().join("src/link")).expect("symlink");
        dir
    }

    #[test]
    fn globs_directories_and_ignore() {
        let dir = setup();
        let ignore = Ignore::parse("skip\ndocs\n!docs/keep.md\n");
        let root = SourceRoot {
            dir: dir.path(),
            ignore: &ignore,
        };
        assert_eq!(
            root.resolve("*.txt").expect("glob"),
            [PathBuf::from("a.txt"), PathBuf::from("b.txt")]
        );
        assert!(root.resolve("skip/y").is_err(), "excluded");
        assert!(root.resolve("*.none").is_err());
        assert_eq!(
            root.resolve("/src/../a.txt").expect("clean"),
            [PathBuf::from("a.txt")]
        );
        let mut out = Vec::new();
        let o = CopyOptions {
            owner: Some((5, 6)),
            ..CopyOptions::default()
        };
        plan_path(&root, Path::new(""), Path::new("/app"), true, &o, &mut out).expect("plan");
        let dests: Vec<String> = out.iter().map(|e| e.dest.display().to_string()).collect();
        assert_eq!(
            dests,
            [
                "/app",
                "/app/a.txt",
                "/app/b.txt",
                "/app/docs",
                "/app/docs/keep.md",
                "/app/src",
                "/app/src/link",
                "/app/src/main.rs",
                "/app/src/sub",
                "/app/src/sub/x.rs"
            ]
        );
        assert!(out.iter().all(|e| (e.uid, e.gid) == (5, 6)));
        let sum = checksum(&out).expect("checksum");
        std::fs::write(dir.path().join("src/main.rs"), "changed").expect("write");
        assert_ne!(checksum(&out).expect("checksum"), sum);
        let mut single = Vec::new();
        plan_path(
            &root,
            Path::new("a.txt"),
            Path::new("/x/y"),
            false,
            &o,
            &mut single,
        )
        .expect("plan");
        assert_eq!(single[0].dest, Path::new("/x/y"));
    }

    #[test]
    fn chmod_is_octal() {
        assert_eq!(parse_chmod("755").expect("755"), 0o755);
        assert!(parse_chmod("9").is_err());
        assert!(parse_chmod("u+x").is_err());
    }
}
