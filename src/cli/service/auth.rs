//! `--with-registry-auth`: this user's stored credentials (`bosun login`) for an image's
//! registry, as the services API takes them.

use agent::registry::auth::{AuthStore, registry_key};
use cluster_manager::services::proto;
use engine::image::ImageRef;

/// The credentials `bosun login` stored for the registry of `image`; `None`, with a warning,
/// when there are none (the nodes then pull anonymously, as Docker's do).
pub fn for_image(image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    let reference = ImageRef::parse(image)
        .map_err(|e| anyhow::anyhow!("invalid image reference {image:?}: {e}"))?;
    let registry = registry_key(reference.registry());
    let stored = AuthStore::default_location()?.get(&registry)?;
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
