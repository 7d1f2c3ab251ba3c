//! `--chown=user[:group]`: names are looked up in the image's /etc/passwd and /etc/group,
//! numbers are taken as they are; without a group, a named user's primary group is used and
//! a numeric user's number.

use std::path::{Path, PathBuf};

use crate::error::{BuildError, Result};
use crate::layers::read_file;

/// Looks up a name in a passwd- or group-style file: the third field (the id) and, for
/// passwd, the fourth (the primary group).
fn find(text: &str, name: &str) -> Option<(u32, Option<u32>)> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() != Some(&name) {
            return None;
        }
        let id = fields.get(2)?.parse().ok()?;
        Some((id, fields.get(3).and_then(|g| g.parse().ok())))
    })
}

/// Resolves `spec` (`user[:group]`) against the image made of `diffs`.
pub(crate) fn resolve_chown(spec: &str, diffs: &[PathBuf]) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = || read_file(diffs, Path::new("/etc/passwd")).unwrap_or_default();
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            let (uid, gid) = find(&passwd(), user).ok_or_else(|| {
                BuildError::Invalid(format!(
                    "--chown: unable to find user {user}: no matching entries in passwd file"
                ))
            })?;
            (uid, gid.unwrap_or(uid))
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let groups = read_file(diffs, Path::new("/etc/group")).unwrap_or_default();
                find(&groups, g).map(|(id, _)| id).ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "--chown: unable to find group {g}: no matching entries in group file"
                    ))
                })?
            }
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_primary_groups() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").expect("write");
        let diffs = vec![dir.path().to_path_buf()];
        assert_eq!(resolve_chown("app", &diffs).expect("app"), (1000, 1001));
        assert_eq!(
            resolve_chown("app:staff", &diffs).expect("app:staff"),
            (1000, 50)
        );
        assert_eq!(resolve_chown("7", &diffs).expect("7"), (7, 7));
        assert_eq!(resolve_chown("7:8", &diffs).expect("7:8"), (7, 8));
        let err = resolve_chown("nobody", &diffs).expect_err("unknown user");
        assert!(
            err.to_string().contains("unable to find user nobody"),
            "{err}"
        );
        assert!(resolve_chown("app:nogroup", &diffs).is_err());
    }
}
