//! Resolving `user[:group]` against the container's /etc/passwd and /etc/group.

use crate::sys::SetupError;

/// The identity the entrypoint runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub groups: Vec<u32>,
    /// Home directory (for `HOME`), `/` when unknown.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?,
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or("/"),
            })
        })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            Some(GroupEntry {
                name: f.first()?,
                gid: f.get(2)?.parse().ok()?,
                members,
            })
        })
}

fn lookup_group(spec: &str, group: &str) -> Result<u32, SetupError> {
    if let Some(g) = group_entries(group).find(|g| g.name == spec) {
        return Ok(g.gid);
    }
    spec.parse().map_err(|_| {
        SetupError::Invalid(format!(
            "unable to find group {spec}: no matching entries in group file"
        ))
    })
}

/// Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`; `None` = root) and the extra groups.
/// Supplementary groups are those of /etc/group listing the user, plus `extra`.
pub(super) fn resolve(
    user: Option<&str>,
    extra: &[String],
    passwd: &str,
    group: &str,
) -> Result<User, SetupError> {
    let spec = user.filter(|u| !u.is_empty()).unwrap_or("0");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd_entries(passwd)
        .find(|e| e.name == user_part)
        .or_else(|| {
            user_part
                .parse::<u32>()
                .ok()
                .and_then(|uid| passwd_entries(passwd).find(|e| e.uid == uid))
        });
    let (uid, mut gid, home, name) = match (&entry, user_part.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name)),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => {
            return Err(SetupError::Invalid(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            )));
        }
    };
    if let Some(g) = group_part {
        gid = lookup_group(g, group)?;
    }
    let mut groups: Vec<u32> = match (name, group_part) {
        (Some(name), None) => group_entries(group)
            .filter(|g| g.members.contains(&name))
            .map(|g| g.gid)
            .collect(),
        _ => Vec::new(),
    };
    for g in extra {
        groups.push(lookup_group(g, group)?);
    }
    groups.sort_unstable();
    groups.dedup();
    Ok(User {
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\naudio:x:29:bob\n";

    #[test]
    fn resolution_table() {
        let u = |uid, gid, groups: &[u32], home: &str| User {
            uid,
            gid,
            groups: groups.to_vec(),
            home: home.into(),
        };
        let cases: [(Option<&str>, &[&str], User); 7] = [
            (None, &[], u(0, 0, &[], "/root")),
            (Some("alice"), &[], u(1000, 1000, &[50], "/home/alice")),
            (Some("1000"), &[], u(1000, 1000, &[50], "/home/alice")),
            (Some("alice:audio"), &[], u(1000, 29, &[], "/home/alice")),
            (Some("4242"), &[], u(4242, 0, &[], "/")),
            (Some("4242:77"), &[], u(4242, 77, &[], "/")),
            (
                Some("alice"),
                &["audio", "7"],
                u(1000, 1000, &[7, 29, 50], "/home/alice"),
            ),
        ];
        for (user, extra, want) in cases {
            let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                resolve(user, &extra, PASSWD, GROUP).unwrap(),
                want,
                "{user:?}"
            );
        }
    }

    #[test]
    fn unknown_names_are_errors() {
        let err = resolve(Some("mallory"), &[], PASSWD, GROUP).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find user mallory: no matching entries in passwd file"
        );
        let err = resolve(Some("alice:nogroup"), &[], PASSWD, GROUP).unwrap_err();
        assert!(err.to_string().contains("group nogroup"), "{err}");
    }
}
