//! The builder's [`Puller`] over this module's registry client, so that a `FROM` of an image
//! the node does not have (or every `FROM` with `--pull`) pulls it. The builder is synchronous
//! and calls it from the blocking pool; the pull runs on the agent's runtime.

use builder::Puller;
use engine::image::{ImageRef, ImageStore};
use oci_client::secrets::RegistryAuth;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{Settings, pull};

/// Pulls base images anonymously from their registries.
#[derive(Debug, Clone)]
pub struct RegistryPuller {
    handle: Handle,
    store: ImageStore,
    settings: Settings,
}

impl RegistryPuller {
    /// A puller into `store` running on the runtime behind `handle`. Its `pull` must be called
    /// from a thread that is not one of that runtime's workers (the blocking pool is fine).
    pub fn new(handle: Handle, store: ImageStore, settings: Settings) -> Self {
        Self {
            handle,
            store,
            settings,
        }
    }
}

impl Puller for RegistryPuller {
    fn pull(&self, reference: &str) -> Result<(), String> {
        let image = ImageRef::parse(reference).map_err(|e| e.to_string())?;
        // Nobody reads the per-layer progress: the build reports the FROM step instead.
        let (events, _) = mpsc::channel(1);
        self.handle
            .block_on(pull(
                &self.store,
                &self.settings,
                &image,
                None,
                &RegistryAuth::Anonymous,
                &events,
            ))
            .map(|id| tracing::info!(image = %image, id = %id, "pulled for a build"))
            .map_err(|e| format!("pull {image}: {e}"))
    }
}
