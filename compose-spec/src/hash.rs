//! The per-service config hash that decides whether a container must be recreated.
//!
//! Covered: the service's canonical definition (so also the contents of its `env_file`s, which
//! normalization merged into `environment`), plus the definitions of the configs and secrets it
//! uses, including inline `content` and the contents of their files. Ignored, like Compose:
//! `build`, `pull_policy`, `scale` / `deploy.replicas`, `depends_on` and `profiles` — changing
//! them never requires recreating a container by itself.
//!
//! The hash is the SHA-256 of the canonical JSON, so it is stable across runs and machines for the
//! same project directory.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::{Project, Service};

/// Keys of a service that do not influence its containers.
pub(crate) const IGNORED_KEYS: [&str; 5] =
    ["build", "pull_policy", "scale", "depends_on", "profiles"];

/// The canonical JSON of a service definition without [`IGNORED_KEYS`] and `deploy.replicas`:
/// the part of a service whose change requires recreating its containers.
pub fn hashed_definition(service: &Service) -> serde_json::Value {
    let mut value = serde_json::to_value(service).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        for key in IGNORED_KEYS {
            map.remove(key);
        }
        if let Some(deploy) = map.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            deploy.remove("replicas");
            if deploy.is_empty() {
                map.remove("deploy");
            }
        }
    }
    value
}

/// The config hash of service `name`, or None when the project has no such service.
pub fn service_hash(project: &Project, name: &str) -> Option<String> {
    let service = project.services.get(name)?;
    let value = hashed_definition(service);
    let mut resources = serde_json::Map::new();
    for reference in &service.configs {
        if let Some(config) = project.configs.get(&reference.source) {
            let key = format!("config:{}", reference.source);
            resources.insert(
                key,
                with_file_digest(serde_json::to_value(config).ok()?, config.file.as_deref()),
            );
        }
    }
    for reference in &service.secrets {
        if let Some(secret) = project.secrets.get(&reference.source) {
            let key = format!("secret:{}", reference.source);
            resources.insert(
                key,
                with_file_digest(serde_json::to_value(secret).ok()?, secret.file.as_deref()),
            );
        }
    }
    let covered = serde_json::json!({ "service": value, "resources": resources });
    let bytes = serde_json::to_vec(&covered).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

/// A resource definition with the digest of its file's current contents, so that editing the
/// file changes the hash (an unreadable file, or one that is not a regular file such as a
/// device or a fifo, contributes its error instead). The file is streamed through the digest,
/// never held in memory, and opened without blocking ([`crate::read::open_regular`]).
fn with_file_digest(mut definition: serde_json::Value, file: Option<&str>) -> serde_json::Value {
    if let (Some(file), Some(map)) = (file, definition.as_object_mut()) {
        let digest = match file_digest(Path::new(file)) {
            Ok(digest) => digest,
            Err(e) => format!("unreadable: {}", e.kind()),
        };
        map.insert("file_digest".to_string(), serde_json::Value::String(digest));
    }
    definition
}

/// The hex SHA-256 of the regular file at `path`.
fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut file = crate::read::open_regular(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

testing_pub! {
    /// The hash of every service, in name order.
    fn all_hashes(project: &Project) -> Vec<(String, String)> {
        project
            .services
            .keys()
            .filter_map(|name| service_hash(project, name).map(|h| (name.clone(), h)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    fn project(json: serde_json::Value) -> Project {
        model::from_json(&json).expect("valid model")
    }

    fn hash(json: serde_json::Value) -> String {
        service_hash(&project(json), "web").expect("service exists")
    }

    #[test]
    fn stable_and_sensitive_to_what_matters() {
        let base = serde_json::json!({"services": {"web": {"image": "nginx:1", "environment": {"A": "1"}}}});
        assert_eq!(hash(base.clone()), hash(base.clone()));
        assert_eq!(hash(base.clone()).len(), 64);
        let changed_env = serde_json::json!({"services": {"web": {"image": "nginx:1", "environment": {"A": "2"}}}});
        assert_ne!(hash(base.clone()), hash(changed_env));
        let changed_image = serde_json::json!({"services": {"web": {"image": "nginx:2", "environment": {"A": "1"}}}});
        assert_ne!(hash(base), hash(changed_image));
    }

    #[test]
    fn ignores_scale_build_depends_on_and_profiles() {
        let base =
            serde_json::json!({"services": {"web": {"image": "nginx"}, "db": {"image": "pg"}}});
        let extra = serde_json::json!({"services": {
            "web": {"image": "nginx", "scale": 3, "build": ".", "depends_on": ["db"],
                    "profiles": ["x"], "pull_policy": "always", "deploy": {"replicas": 3}},
            "db": {"image": "pg"}}});
        assert_eq!(hash(extra), hash(base));
    }

    #[test]
    fn changes_with_inline_config_content_and_secret_files() {
        let with_content = |content: &str| {
            hash(serde_json::json!({
                "services": {"web": {"image": "nginx", "configs": ["site"]}},
                "configs": {"site": {"content": content}}
            }))
        };
        assert_ne!(with_content("a"), with_content("b"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret.txt");
        let with_file = || {
            hash(serde_json::json!({
                "services": {"web": {"image": "nginx", "secrets": ["pw"]}},
                "secrets": {"pw": {"file": file.display().to_string()}}
            }))
        };
        std::fs::write(&file, "one").unwrap();
        let first = with_file();
        std::fs::write(&file, "two").unwrap();
        assert_ne!(first, with_file());
    }
}
