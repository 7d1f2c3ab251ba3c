//! Whether the process calling the agent could itself read a path. The agent runs as root and
//! reads build contexts, Dockerfiles and secrets on the caller's behalf; a caller that is not
//! root may only name files its own credentials could read (the permission bits of the file
//! and of every directory above it, for its uid, gid and supplementary groups; ACLs are not
//! consulted).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The credentials of the process on the other end of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// Its supplementary groups.
    pub groups: Vec<u32>,
}

/// A path the caller may not read.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The permission bits refuse it.
    #[error("permission denied: uid {uid} cannot read {}", path.display())]
    Denied {
        /// The caller's uid.
        uid: u32,
        /// The path (or the directory above it that cannot be searched).
        path: PathBuf,
    },
    /// The path cannot be looked at.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The path is not absolute.
    #[error("{} is not an absolute path", path.display())]
    Relative {
        /// The path.
        path: PathBuf,
    },
}

const READ: u32 = 4;
const SEARCH: u32 = 1;

impl Caller {
    /// Root, which may read anything.
    pub fn root() -> Self {
        Self {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
        }
    }

    /// Whether the permission bits `mode` of a file owned by `uid:gid` grant `want`.
    pub fn granted(&self, mode: u32, uid: u32, gid: u32, want: u32) -> bool {
        if self.uid == 0 {
            return true;
        }
        let bits = if uid == self.uid {
            mode >> 6
        } else if gid == self.gid || self.groups.contains(&gid) {
            mode >> 3
        } else {
            mode
        } & 7;
        bits & want == want
    }

    /// Checks that the caller could read `path` (list it, for a directory): every directory
    /// above it searchable, the path itself readable. Symbolic links are followed as the
    /// caller's open would.
    pub fn check_readable(&self, path: &Path) -> Result<(), AccessError> {
        if !path.is_absolute() {
            return Err(AccessError::Relative {
                path: path.to_path_buf(),
            });
        }
        if self.uid == 0 {
            return Ok(());
        }
        let real = path.canonicalize().map_err(|source| AccessError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        for dir in real.ancestors().skip(1) {
            self.need(dir, SEARCH)?;
        }
        let meta = std::fs::metadata(&real).map_err(|source| AccessError::Io {
            path: real.clone(),
            source,
        })?;
        let want = if meta.is_dir() { READ | SEARCH } else { READ };
        self.need(&real, want)
    }

    fn need(&self, path: &Path, want: u32) -> Result<(), AccessError> {
        let meta = std::fs::metadata(path).map_err(|source| AccessError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if self.granted(meta.mode(), meta.uid(), meta.gid(), want) {
            Ok(())
        } else {
            Err(AccessError::Denied {
                uid: self.uid,
                path: path.to_path_buf(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_bits_table() {
        let user = Caller {
            uid: 1000,
            gid: 1000,
            groups: vec![990],
        };
        let cases = [
            // mode, owner uid, owner gid, want, granted
            (0o700, 1000, 0, READ, true),
            (0o070, 1000, 1000, READ, false), // the owner bits decide for the owner
            (0o040, 0, 990, READ, true),      // a supplementary group
            (0o004, 0, 0, READ, true),
            (0o001, 0, 0, READ, false),
            (0o001, 0, 0, SEARCH, true),
            (0o750, 0, 27, READ | SEARCH, false),
        ];
        for (mode, uid, gid, want, granted) in cases {
            assert_eq!(
                user.granted(mode, uid, gid, want),
                granted,
                "{mode:o} {uid}:{gid} want {want}"
            );
        }
        assert!(Caller::root().granted(0, 5, 5, READ));
    }

    #[test]
    fn a_private_directory_is_refused_to_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let private = dir.path().join("private");
        std::fs::create_dir(&private).expect("mkdir");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::write(private.join("Dockerfile"), "FROM scratch\n").expect("write");
        let owner = std::fs::metadata(&private).expect("stat").uid();
        let stranger = Caller {
            uid: owner + 4242,
            gid: owner + 4242,
            groups: Vec::new(),
        };
        let err = stranger
            .check_readable(&private.join("Dockerfile"))
            .expect_err("a stranger cannot search a 0700 directory");
        assert!(
            matches!(&err, AccessError::Denied { path, .. } if path.ends_with("private")),
            "{err}"
        );
        assert!(matches!(
            stranger.check_readable(Path::new("relative")),
            Err(AccessError::Relative { .. })
        ));
    }
}
