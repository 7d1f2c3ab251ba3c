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

/// The credentials `bosun login` stored for the registry of `image`, if any (no warning).
pub(crate) fn stored(image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    Ok(lookup(&AuthStore::default_location()?, image)?.1)
}

/// [`for_image`] from `store`.
fn from_store(store: &AuthStore, image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    let (registry, stored) = lookup(store, image)?;
    if stored.is_none() {
        eprintln!(
            "warning: no stored credentials for {registry} (bosun login {registry}); the nodes pull {image} anonymously"
        );
    }
    Ok(stored)
}

/// The key of `image`'s registry and the credentials `store` holds for it.
fn lookup(store: &AuthStore, image: &str) -> anyhow::Result<(String, Option<proto::RegistryAuth>)> {
    let reference = ImageRef::parse(image)
        .map_err(|e| anyhow::anyhow!("invalid image reference {image:?}: {e}"))?;
    let registry = registry_key(reference.registry());
    let stored = store.get(&registry)?.map(|credential| proto::RegistryAuth {
        registry: registry.clone(),
        username: credential.username,
        password: credential.password,
        identity_token: String::new(),
    });
    Ok((registry, stored))
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
