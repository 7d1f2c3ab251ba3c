//! Writes the plan of a COPY or ADD as a layer tar: every directory above the destinations
//! is written (as it is in the image, or 0755 owned like the copy when missing), as Docker
//! writes its layers; the entries follow in path order, archives are extracted in place.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::copy::{Entry, EntryKind};
use crate::error::{BuildError, Result};
use crate::layers::lookup;

/// Writes `entries` over the image made of `diffs`; returns the number of tar entries.
pub(crate) fn write_plan(
    entries: &[Entry],
    diffs: &[PathBuf],
    owner: (u32, u32),
    out: &mut dyn Write,
) -> Result<usize> {
    // Destinations are resolved through the image's symbolic links (`/lib` → `/usr/lib`).
    let resolved: Vec<Entry> = entries
        .iter()
        .map(|e| Entry {
            dest: match e.kind {
                EntryKind::Dir | EntryKind::Archive(_) => {
                    crate::layers::resolve_all(diffs, &e.dest)
                }
                _ => crate::layers::resolve_parents(diffs, &e.dest),
            },
            ..e.clone()
        })
        .collect();
    let mut by_path: BTreeMap<PathBuf, &Entry> = BTreeMap::new();
    for e in &resolved {
        by_path.insert(e.dest.clone(), e);
    }
    // Every directory above a destination is in the layer, as Docker writes it: as it is
    // below when it exists there, else made 0755 and owned like the copy. An archive's
    // destination is such a directory too.
    let mut parents: BTreeMap<PathBuf, Entry> = BTreeMap::new();
    for (dest, e) in &by_path {
        let mut p = match e.kind {
            EntryKind::Archive(_) => Some(dest.as_path()),
            _ => dest.parent(),
        };
        while let Some(dir) = p {
            let archive_root = dir == dest.as_path();
            if dir == Path::new("/")
                || (!archive_root && by_path.contains_key(dir))
                || parents.contains_key(dir)
            {
                break;
            }
            let entry = match lookup(diffs, dir) {
                Some((_, meta)) if meta.is_dir() => Entry {
                    dest: dir.to_path_buf(),
                    kind: EntryKind::Dir,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    mtime: u64::try_from(meta.mtime()).unwrap_or(0),
                },
                _ => Entry {
                    dest: dir.to_path_buf(),
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    uid: owner.0,
                    gid: owner.1,
                    mtime: 0,
                },
            };
            parents.insert(dir.to_path_buf(), entry);
            p = dir.parent();
        }
    }
    let mut all: Vec<&Entry> = parents.values().chain(by_path.values().copied()).collect();
    // Stable: an archive's directory comes before the archive's members.
    all.sort_by(|a, b| a.dest.cmp(&b.dest));
    let mut b = tar::Builder::new(out);
    let mut count = 0;
    for e in all {
        count += write_entry(&mut b, e)?;
    }
    if count > 0 {
        b.finish().map_err(BuildError::io("write layer", "COPY"))?;
    }
    Ok(count)
}

fn rel(dest: &Path) -> PathBuf {
    dest.strip_prefix("/").unwrap_or(dest).to_path_buf()
}

fn header(e: &Entry, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(e.mode);
    h.set_uid(u64::from(e.uid));
    h.set_gid(u64::from(e.gid));
    h.set_mtime(e.mtime);
    h.set_size(size);
    h
}

fn write_entry<W: Write>(b: &mut tar::Builder<W>, e: &Entry) -> Result<usize> {
    let path = rel(&e.dest);
    let io = |err| BuildError::io("write layer entry", &e.dest)(err);
    match &e.kind {
        EntryKind::Dir => {
            let mut h = header(e, tar::EntryType::Directory, 0);
            b.append_data(&mut h, &path, std::io::empty()).map_err(io)?;
        }
        EntryKind::Data(d) => {
            let mut h = header(e, tar::EntryType::Regular, d.len() as u64);
            b.append_data(&mut h, &path, d.as_slice()).map_err(io)?;
        }
        EntryKind::Symlink(t) => {
            let mut h = header(e, tar::EntryType::Symlink, 0);
            b.append_link(&mut h, &path, t).map_err(io)?;
        }
        EntryKind::File(host) => {
            let f = crate::layers::open(host)?;
            let len = f.metadata().map_err(BuildError::io("stat", host))?.len();
            let mut h = header(e, tar::EntryType::Regular, len);
            b.append_data(&mut h, &path, f).map_err(io)?;
        }
        EntryKind::Archive(host) => return extract_into(b, e, host, &path),
    }
    Ok(1)
}

/// Copies the members of an archive under `prefix`.
fn extract_into<W: Write>(
    b: &mut tar::Builder<W>,
    e: &Entry,
    host: &Path,
    prefix: &Path,
) -> Result<usize> {
    let bad = |what: String| BuildError::Invalid(format!("ADD {}: {what}", host.display()));
    let file = crate::layers::open(host)?;
    let (_, plain) = engine::image::decompress(file).map_err(|err| bad(err.to_string()))?;
    let mut archive = tar::Archive::new(plain);
    let mut count = 0;
    for member in archive.entries().map_err(|err| bad(err.to_string()))? {
        let mut member = member.map_err(|err| bad(err.to_string()))?;
        let name = member
            .path()
            .map_err(|err| bad(err.to_string()))?
            .into_owned();
        let inside = crate::ignore::clean(&format!("/{}", name.display()));
        let target = prefix.join(inside.trim_start_matches('/'));
        let mut h = member.header().clone();
        if e.uid != 0 || e.gid != 0 {
            h.set_uid(u64::from(e.uid));
            h.set_gid(u64::from(e.gid));
        }
        let kind = h.entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let link = member
                .link_name()
                .map_err(|err| bad(err.to_string()))?
                .ok_or_else(|| bad(format!("{}: link without a target", name.display())))?
                .into_owned();
            let link = if kind.is_hard_link() {
                prefix.join(link.strip_prefix("/").unwrap_or(&link))
            } else {
                link
            };
            b.append_link(&mut h, &target, &link)
                .map_err(BuildError::io("write layer entry", &target))?;
        } else {
            b.append_data(&mut h, &target, &mut member)
                .map_err(BuildError::io("write layer entry", &target))?;
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_written_as_they_are_or_made_where_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("usr")).expect("mkdir");
        let e = Entry {
            dest: PathBuf::from("/usr/local/app/file"),
            kind: EntryKind::Data(b"hi".to_vec()),
            mode: 0o600,
            uid: 7,
            gid: 8,
            mtime: 0,
        };
        let mut out = Vec::new();
        let n = write_plan(&[e], &[dir.path().to_path_buf()], (7, 8), &mut out).expect("tar");
        assert_eq!(n, 4);
        let mut a = tar::Archive::new(out.as_slice());
        let got: Vec<(String, u64, u32)> = a
            .entries()
            .expect("entries")
            .map(|m| {
                let m = m.expect("entry");
                let h = m.header();
                (
                    m.path().expect("path").display().to_string(),
                    h.uid().expect("uid"),
                    h.mode().expect("mode"),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("usr".to_string(), 0, 0o755),
                ("usr/local".to_string(), 7, 0o755),
                ("usr/local/app".to_string(), 7, 0o755),
                ("usr/local/app/file".to_string(), 7, 0o600),
            ]
        );
    }
}
