//! The builder's [`Puller`] over this module's registry client, so that a `FROM` of an image
//! the node does not have (or every `FROM` with `--pull`) pulls it. The builder is synchronous
//! and calls it from the blocking pool; the pull runs on the agent's runtime. The client's
//! credentials, when it sent some, are used for the registries they name.

use std::collections::BTreeMap;

use builder::Puller;
use engine::image::{ImageRef, ImageStore};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::auth::registry_key;
use super::{Settings, proto, pull, registry_auth};

/// Pulls base images from their registries, with the credentials given for each registry
/// and anonymously from the others.
#[derive(Debug, Clone)]
pub struct RegistryPuller {
    handle: Handle,
    store: ImageStore,
    settings: Settings,
    /// Credentials by [`registry_key`].
    auths: BTreeMap<String, proto::RegistryAuth>,
}

impl RegistryPuller {
    /// A puller into `store` running on the runtime behind `handle`. Its `pull` must be called
    /// from a thread that is not one of that runtime's workers (the blocking pool is fine).
    pub fn new(handle: Handle, store: ImageStore, settings: Settings) -> Self {
        Self {
            handle,
            store,
            settings,
            auths: BTreeMap::new(),
        }
    }

    /// Uses `auths` (registry → credentials, as `bosun login` keys them) for the registries
    /// they name.
    #[must_use]
    pub fn with_auths(
        mut self,
        auths: impl IntoIterator<Item = (String, proto::RegistryAuth)>,
    ) -> Self {
        self.auths = auths
            .into_iter()
            .map(|(registry, auth)| (registry_key(&registry), auth))
            .collect();
        self
    }

    /// The credentials for `image`'s registry, if given.
    fn auth_for(&self, image: &ImageRef) -> Option<&proto::RegistryAuth> {
        self.auths.get(&registry_key(image.registry()))
    }
}

impl Puller for RegistryPuller {
    fn pull(&self, reference: &str) -> Result<(), String> {
        let image = ImageRef::parse(reference).map_err(|e| e.to_string())?;
        // Nobody reads the per-layer progress: the build reports the FROM step instead.
        let (events, _) = mpsc::channel(1);
        let auth = registry_auth(self.auth_for(&image));
        self.handle
            .block_on(pull(
                &self.store,
                &self.settings,
                &image,
                None,
                &auth,
                &events,
            ))
            .map(|id| tracing::info!(image = %image, id = %id, "pulled for a build"))
            .map_err(|e| format!("pull {image}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(user: &str) -> proto::RegistryAuth {
        proto::RegistryAuth {
            username: user.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn credentials_are_picked_by_the_image_registry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(dir.path()).expect("store");
        let puller =
            RegistryPuller::new(Handle::current(), store, Settings::default()).with_auths([
                ("https://index.docker.io/v1/".to_string(), auth("hub")),
                ("127.0.0.1:5000".to_string(), auth("local")),
            ]);
        let user = |reference: &str| {
            let image = ImageRef::parse(reference).expect("reference");
            puller.auth_for(&image).map(|a| a.username.clone())
        };
        assert_eq!(user("busybox").as_deref(), Some("hub"));
        assert_eq!(user("127.0.0.1:5000/base/app:1").as_deref(), Some("local"));
        assert_eq!(user("127.0.0.1:5001/base/app:1"), None);
        assert_eq!(user("quay.io/x/y"), None);
    }
}
