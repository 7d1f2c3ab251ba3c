//! Disk use as `ls -s`, `volume ls` sizes and `system df` report it: the bytes under a
//! directory, a container's writable layer and its image's layers.

use std::collections::HashMap;
use std::path::Path;

use engine::Runtime;

/// The bytes of the regular files under `dir` (symlinks not followed; unreadable entries
/// skipped, as a size report should not fail on one).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => pending.push(entry.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

/// A container's disk use: its writable layer (`SizeRw`) and that plus its image's layers
/// (`SizeRootFs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ContainerSize {
    /// Bytes of the overlay upper directory.
    pub(crate) rw: u64,
    /// `rw` plus the image's size.
    pub(crate) root_fs: u64,
}

/// The disk use of each container of `ids` made from an image (one in a plain directory has no
/// layers and is left out).
pub(crate) fn container_sizes(runtime: &Runtime, ids: &[String]) -> HashMap<String, ContainerSize> {
    let image_sizes: HashMap<String, u64> = runtime
        .images()
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|i| (i.id.to_string(), i.size))
        .collect();
    ids.iter()
        .filter_map(|id| {
            let layers = runtime.container_layers(id).ok().flatten()?;
            let rw = dir_size(&layers.upper);
            let image = image_sizes
                .get(&layers.image.to_string())
                .copied()
                .unwrap_or(0);
            Some((
                id.clone(),
                ContainerSize {
                    rw,
                    root_fs: rw + image,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_file_bytes_in_nested_directories() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join("top"), b"12345").expect("write");
        std::fs::write(dir.path().join("a/b/deep"), b"123").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).expect("symlink");
        assert_eq!(dir_size(dir.path()), 8);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
