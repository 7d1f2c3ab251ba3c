//! Registry credentials kept with a service (`--with-registry-auth`), for the nodes that pull
//! its image. The store holds them sealed (see [`crate::SealKey`]): the raft log, the records
//! table and snapshots only ever see [`StoredAuth::Sealed`]; a manager's reads open them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One registry's credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAuth {
    /// The registry they are for (`host[:port]`, `docker.io` for Docker Hub).
    pub registry: String,
    /// User name (empty with an identity token).
    #[serde(default)]
    pub username: String,
    /// Password or token.
    #[serde(default)]
    pub password: String,
    /// An identity token instead of a user name and password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Credentials as a record holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredAuth {
    /// Sealed text, as written to the log and the tables.
    Sealed(String),
    /// Open, as a manager reads them (or as a write carries them until the leader seals it).
    Open(RegistryAuth),
}

impl StoredAuth {
    /// The credentials, when open.
    pub fn open(&self) -> Option<&RegistryAuth> {
        match self {
            StoredAuth::Open(auth) => Some(auth),
            StoredAuth::Sealed(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let auth = RegistryAuth {
            registry: "reg.lan:5000".into(),
            username: "alice".into(),
            password: "s3cret".into(),
            identity_token: String::new(),
        };
        let shown = format!("{:?}", StoredAuth::Open(auth));
        assert!(
            shown.contains("alice") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn sealed_text_and_open_credentials_read_back_as_themselves() {
        let sealed: StoredAuth = serde_json::from_str(r#""sealed:00ff""#).unwrap();
        assert_eq!(sealed, StoredAuth::Sealed("sealed:00ff".into()));
        let open: StoredAuth =
            serde_json::from_str(r#"{"registry":"r","username":"u","password":"p"}"#).unwrap();
        assert_eq!(open.open().map(|a| a.username.as_str()), Some("u"));
    }
}
