//! Resolving a container path inside the rootfs on the host, following symlinks as the
//! container would see them, so that no symlink in an image can point a mount outside it.

use std::path::{Component, Path, PathBuf};

use crate::sys::SetupError;

/// At most this many symlinks are followed (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Resolves `path` (absolute, as seen in the container) to a host path under `root`.
/// Symlinks are followed relative to `root`; `..` never climbs above it; components that do not
/// exist yet are kept as they are.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf, SetupError> {
    let mut pending: Vec<PathBuf> = components(path);
    pending.reverse();
    let mut current = PathBuf::from("/");
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part.as_os_str() == ".." {
            current.pop();
            continue;
        }
        let candidate = current.join(&part);
        let host = root.join(candidate.strip_prefix("/").unwrap_or(&candidate));
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(SetupError::Invalid(format!(
                        "too many symlinks resolving {}",
                        path.display()
                    )));
                }
                let target = std::fs::read_link(&host).map_err(|source| SetupError::Io {
                    what: format!("read link {}", host.display()),
                    source,
                })?;
                if target.is_absolute() {
                    current = PathBuf::from("/");
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => current = candidate,
        }
    }
    Ok(root.join(current.strip_prefix("/").unwrap_or(&current)))
}

/// The normal and `..` components of a path.
fn components(path: &Path) -> Vec<PathBuf> {
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
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("real/dir")).unwrap();
        symlink("/real", root.join("abs")).unwrap();
        symlink("../../../../etc", root.join("escape")).unwrap();
        symlink("real/dir", root.join("rel")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        let cases = [
            ("/abs/dir", root.join("real/dir")),
            ("/escape/passwd", root.join("etc/passwd")),
            ("/rel/new", root.join("real/dir/new")),
            ("/../../x", root.join("x")),
            ("/real/./dir/../dir", root.join("real/dir")),
        ];
        for (input, want) in cases {
            assert_eq!(
                resolve_in_root(root, Path::new(input)).unwrap(),
                want,
                "{input}"
            );
        }
        assert!(resolve_in_root(root, Path::new("/loop")).is_err());
    }
}
