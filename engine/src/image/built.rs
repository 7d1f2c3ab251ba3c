//! Images made on this node (image builds): the caller stores the layer blobs and has them
//! unpacked, then registers the image with its config here.

use super::digest::Digest;
use super::error::{ImageError, Result};
use super::{ImageRecord, ImageRef, ImageStore, NewLayer};

/// A layer blob in the blob store that a built image uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLayer {
    /// The blob's digest.
    pub blob: Digest,
    /// Its media type.
    pub media_type: String,
}

impl ImageStore {
    /// Registers an image whose config and layer blobs are given (blobs already stored, bottom
    /// first): stores the config, writes an OCI manifest, unpacks any layer not yet unpacked and
    /// points `names` at the image. Layers already present are shared.
    pub fn add_built(
        &self,
        config: &[u8],
        layers: &[BuiltLayer],
        names: &[ImageRef],
    ) -> Result<ImageRecord> {
        let mut new = Vec::with_capacity(layers.len());
        for layer in layers {
            if !self.blobs.contains(&layer.blob) {
                return Err(ImageError::BadArchive(format!(
                    "missing layer blob {}",
                    layer.blob
                )));
            }
            new.push(NewLayer {
                size: self.blobs.size(&layer.blob)?,
                blob: layer.blob.clone(),
                media_type: layer.media_type.clone(),
            });
        }
        let lock = self.db.lock()?;
        self.register(&lock, config, new, None, names)
    }
}
