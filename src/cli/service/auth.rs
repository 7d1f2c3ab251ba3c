//! `--with-registry-auth`: this user's stored credentials (`bosun login`) for an image's
//! registry, as the services API takes them.

use agent::registry::auth::{AuthStore, registry_key};
use cluster_manager::services::proto;
use engine::image::ImageRef;

/// The credentials `bosun login` stored for the registry of `image`; `None`, with a warning,
/// when there are none (the nodes then pull anonymously, as Docker's do).
pub(crate) fn for_image(image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    from_store(&AuthStore::default_location()?, image)
}

/// [`for_image`] from `store`.
fn from_store(store: &AuthStore, image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    let reference = ImageRef::parse(image)
        .map_err(|e| anyhow::anyhow!("invalid image reference {image:?}: {e}"))?;
    let registry = registry_key(reference.registry());
    let stored = store.get(&registry)?;
    if stored.is_none() {
        eprintln!(
            "warning: no stored credentials for {registry} (bosun login {registry}); the nodes pull {image} anonymously"
        );
    }
    Ok(stored.map(|credential| proto::RegistryAuth {
        registry,
        username: credential.username,
        password: credential.password,
        identity_token: String::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent::registry::auth::Credential;

    #[test]
    fn the_image_s_registry_gives_the_credentials_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::at(dir.path().join("auth.json"));
        store
            .set(
                "reg.lan:5000",
                Credential {
                    username: "alice".into(),
                    password: "s3cret".into(),
                },
            )
            .unwrap();
        let pinned = format!("reg.lan:5000/team/app:1@sha256:{}", "a".repeat(64));
        let auth = from_store(&store, &pinned).unwrap().unwrap();
        assert_eq!(
            (
                auth.registry.as_str(),
                auth.username.as_str(),
                auth.password.as_str()
            ),
            ("reg.lan:5000", "alice", "s3cret")
        );
        assert_eq!(from_store(&store, "busybox:latest").unwrap(), None);
        assert!(from_store(&store, "Bad Name").is_err());
    }
}
