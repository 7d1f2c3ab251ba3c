//! The client's registry credentials (`bosun login`): `$BOSUN_CONFIG/auth.json`, or
//! `~/.config/bosun/auth.json`, readable by its owner only (0600). The file maps a registry
//! (`docker.io`, `localhost:5000`) to a user name and password.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::proto;

/// The environment variable naming the client's configuration directory.
pub const CONFIG_ENV: &str = "BOSUN_CONFIG";

/// Errors of the credential file.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    /// Reading or writing the file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("credential file {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// Neither `$BOSUN_CONFIG` nor `$HOME` is set.
    #[error("cannot find the configuration directory: set BOSUN_CONFIG or HOME")]
    NoHome,
    /// The image reference names no registry that can be looked up.
    #[error("invalid image reference {reference:?}: {reason}")]
    BadReference {
        /// The reference as given.
        reference: String,
        /// Why it does not parse.
        reason: String,
    },
}

/// The credentials `bosun login` stored (in this user's default credential file) for the
/// registry of image `reference`; `None` for an anonymous pull or push.
pub fn for_image(reference: &str) -> Result<Option<proto::RegistryAuth>, AuthFileError> {
    let image =
        engine::image::ImageRef::parse(reference).map_err(|e| AuthFileError::BadReference {
            reference: reference.to_string(),
            reason: e.to_string(),
        })?;
    AuthStore::default_location()?.for_request(image.registry())
}

/// Every credential `bosun login` stored (in this user's default credential file), by
/// registry, as API messages: what a build sends for its base images' pulls, as `docker
/// build` sends its whole credential set.
pub fn all_stored() -> Result<BTreeMap<String, proto::RegistryAuth>, AuthFileError> {
    AuthStore::default_location()?.all()
}

/// One registry's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, Credential>,
}

/// The credential file of this user.
#[derive(Debug, Clone)]
pub struct AuthStore {
    path: PathBuf,
}

/// The key credentials are stored under: Docker Hub's aliases are one registry.
pub fn registry_key(registry: &str) -> String {
    let registry = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let registry = registry.strip_suffix("/v1").unwrap_or(registry);
    let registry = registry.strip_suffix("/v2").unwrap_or(registry);
    match registry {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        other => other.to_string(),
    }
}

impl AuthStore {
    /// The store at its default place (`$BOSUN_CONFIG/auth.json`, else
    /// `$HOME/.config/bosun/auth.json`).
    pub fn default_location() -> Result<Self, AuthFileError> {
        let dir = match std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or(AuthFileError::NoHome)?;
                PathBuf::from(home).join(".config").join("bosun")
            }
        };
        Ok(Self::at(dir.join("auth.json")))
    }

    /// The store in `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<AuthFile, AuthFileError> {
        match fs::read(&self.path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| AuthFileError::Parse {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
            Err(source) => Err(AuthFileError::Io {
                op: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn store(&self, file: &AuthFile) -> Result<(), AuthFileError> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| AuthFileError::Io { op, path, source }
        };
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io("create", dir))?;
        }
        let data = serde_json::to_vec_pretty(file).map_err(|e| AuthFileError::Parse {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = self.path.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        out.write_all(&data)
            .and_then(|()| out.sync_all())
            .map_err(io("write", &tmp))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).map_err(io("chmod", &tmp))?;
        fs::rename(&tmp, &self.path).map_err(io("rename", &self.path))
    }

    /// The credentials for `registry`, if stored.
    pub fn get(&self, registry: &str) -> Result<Option<Credential>, AuthFileError> {
        Ok(self.load()?.auths.remove(&registry_key(registry)))
    }

    /// The credentials for `registry` as an API message (`None` = anonymous).
    pub fn for_request(
        &self,
        registry: &str,
    ) -> Result<Option<proto::RegistryAuth>, AuthFileError> {
        Ok(self.get(registry)?.map(|c| proto::RegistryAuth {
            username: c.username,
            password: c.password,
            identity_token: String::new(),
        }))
    }

    /// Every stored credential, by registry key, as API messages.
    pub fn all(&self) -> Result<BTreeMap<String, proto::RegistryAuth>, AuthFileError> {
        Ok(self
            .load()?
            .auths
            .into_iter()
            .map(|(registry, c)| {
                let auth = proto::RegistryAuth {
                    username: c.username,
                    password: c.password,
                    identity_token: String::new(),
                };
                (registry, auth)
            })
            .collect())
    }

    /// Stores credentials for `registry`.
    pub fn set(&self, registry: &str, credential: Credential) -> Result<(), AuthFileError> {
        let mut file = self.load()?;
        file.auths.insert(registry_key(registry), credential);
        self.store(&file)
    }

    /// Forgets `registry`; returns whether it was stored.
    pub fn remove(&self, registry: &str) -> Result<bool, AuthFileError> {
        let mut file = self.load()?;
        let removed = file.auths.remove(&registry_key(registry)).is_some();
        if removed {
            self.store(&file)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_image_reference_is_named() {
        let err = for_image("Not A Reference").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid image reference \"Not A Reference\""),
            "{err}"
        );
    }

    #[test]
    fn set_get_remove_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::at(dir.path().join("sub").join("auth.json"));
        assert_eq!(store.get("localhost:5000").unwrap(), None);
        let cred = Credential {
            username: "u".into(),
            password: "p".into(),
        };
        store
            .set("https://index.docker.io/v1/", cred.clone())
            .unwrap();
        store.set("localhost:5000", cred.clone()).unwrap();
        assert_eq!(store.get("docker.io").unwrap(), Some(cred.clone()));
        let all = store.all().unwrap();
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            ["docker.io", "localhost:5000"]
        );
        assert_eq!(all["localhost:5000"].password, "p");
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(store.remove("localhost:5000").unwrap());
        assert!(!store.remove("localhost:5000").unwrap());
        assert_eq!(store.get("localhost:5000").unwrap(), None);
        assert_eq!(
            store.for_request("docker.io").unwrap().map(|a| a.username),
            Some("u".to_string())
        );
    }

    #[test]
    fn registry_key_table() {
        for (input, key) in [
            ("docker.io", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("https://index.docker.io/v1/", "docker.io"),
            ("localhost:5000", "localhost:5000"),
            ("http://reg.lan:5000/", "reg.lan:5000"),
        ] {
            assert_eq!(registry_key(input), key, "{input}");
        }
    }
}
