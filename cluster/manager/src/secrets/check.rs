//! The rules of secrets and configs, as pure functions: which names are allowed, how large a
//! payload may be, and which services use one.

use cluster_state::{Kind, Service};
use orchestrator::swarm::FileKind;

/// The size a secret's or config's payload must stay under (Docker's limit: 500 KiB).
pub(crate) const MAX_PAYLOAD: usize = 500 * 1024;

/// The longest name.
const MAX_NAME: usize = 64;

/// A secret or config that cannot be created as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BlobError {
    /// A name that is not allowed.
    #[error(
        "invalid {kind} name {name:?}: use letters, digits, '_', '.' and '-' (at most 64), starting and ending with a letter or digit"
    )]
    Name {
        /// Secret or config.
        kind: &'static str,
        /// The name given.
        name: String,
    },
    /// A payload over the limit.
    #[error("{kind} {name} is {size} bytes: a payload must be under {MAX_PAYLOAD} bytes (500 KiB)")]
    TooLarge {
        /// Secret or config.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The payload's size.
        size: usize,
    },
    /// An empty payload.
    #[error("{kind} {name} has an empty payload")]
    Empty {
        /// Secret or config.
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

/// The store kind of a file kind.
pub(crate) fn store_kind(kind: FileKind) -> Kind {
    match kind {
        FileKind::Secret => Kind::Secret,
        FileKind::Config => Kind::Config,
    }
}

/// Checks a new secret's or config's name and payload (Docker's rules: the name matches
/// `^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`, at most 64 characters; the payload is
/// at least 1 byte and under 500 KiB).
pub(crate) fn check_new(kind: FileKind, name: &str, data: &[u8]) -> Result<(), BlobError> {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let valid = name.len() <= MAX_NAME
        && alnum(name.chars().next())
        && alnum(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(BlobError::Name {
            kind: kind.as_str(),
            name: name.to_owned(),
        });
    }
    if data.is_empty() {
        return Err(BlobError::Empty {
            kind: kind.as_str(),
            name: name.to_owned(),
        });
    }
    if data.len() >= MAX_PAYLOAD {
        return Err(BlobError::TooLarge {
            kind: kind.as_str(),
            name: name.to_owned(),
            size: data.len(),
        });
    }
    Ok(())
}

/// The names of the services whose spec uses the secret or config `name`, sorted.
pub(crate) fn users(kind: FileKind, name: &str, services: &[Service]) -> Vec<String> {
    let mut names: Vec<String> = services
        .iter()
        .filter(|s| {
            let spec = &s.service.spec;
            let refs = match kind {
                FileKind::Secret => &spec.secrets,
                FileKind::Config => &spec.configs,
            };
            refs.iter().any(|r| r.source == name)
        })
        .map(|s| s.service.name.clone())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{self, FileReference, ServiceSpec, Timestamp};

    #[test]
    fn names_follow_docker_s_rules() {
        for ok in ["db", "a", "db_password.v2", "my-secret-1", &"n".repeat(64)] {
            assert_eq!(check_new(FileKind::Secret, ok, b"x"), Ok(()), "{ok}");
        }
        for bad in ["", "-x", "x-", "a b", "a/b", "_a", &"n".repeat(65)] {
            let err = check_new(FileKind::Config, bad, b"x").unwrap_err();
            assert!(
                err.to_string().starts_with("invalid config name"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn payloads_are_one_byte_to_under_500_kib() {
        assert!(check_new(FileKind::Secret, "s", &vec![b'a'; MAX_PAYLOAD - 1]).is_ok());
        let err = check_new(FileKind::Secret, "s", &vec![b'a'; MAX_PAYLOAD]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret s is 512000 bytes: a payload must be under 512000 bytes (500 KiB)"
        );
        assert_eq!(
            check_new(FileKind::Secret, "s", b"")
                .unwrap_err()
                .to_string(),
            "secret s has an empty payload"
        );
    }

    #[test]
    fn users_are_the_services_that_reference_it_by_kind() {
        let service = |name: &str, secrets: &[&str], configs: &[&str]| {
            Service::new(swarm::Service::new(
                name.into(),
                name,
                ServiceSpec {
                    image: "busybox".into(),
                    secrets: secrets.iter().map(|s| FileReference::named(*s)).collect(),
                    configs: configs.iter().map(|s| FileReference::named(*s)).collect(),
                    ..ServiceSpec::default()
                },
                Timestamp(0),
            ))
        };
        let services = [
            service("web", &["db"], &["db"]),
            service("api", &["db", "token"], &[]),
            service("cache", &[], &[]),
        ];
        assert_eq!(users(FileKind::Secret, "db", &services), ["api", "web"]);
        assert_eq!(users(FileKind::Secret, "token", &services), ["api"]);
        assert_eq!(users(FileKind::Config, "db", &services), ["web"]);
        assert!(users(FileKind::Config, "token", &services).is_empty());
    }
}
