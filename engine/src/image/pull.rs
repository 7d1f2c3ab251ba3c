//! Images that arrive blob by blob from a registry: the caller downloads every blob into the
//! blob store (verified on write, see [`super::BlobStore::put_reader`]), then registers the
//! image here with the manifest it pulled. Nothing is registered unless every blob the manifest
//! names is stored and every layer unpacks to the DiffID its config announces.

use serde_json::Value;

use super::digest::Digest;
use super::error::{ImageError, Result};
use super::{ImageRecord, ImageRef, ImageStore, NewLayer};
use crate::events::Action;

/// The parts of an image manifest a pull and a push need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestParts {
    /// The config blob's digest (the image id).
    pub config: Digest,
    /// The config blob's size.
    pub config_size: u64,
    /// The layer blobs, bottom first: digest, media type, size.
    pub layers: Vec<(Digest, String, u64)>,
}

impl ManifestParts {
    /// Reads an image manifest (OCI or Docker schema 2).
    pub fn parse(manifest: &[u8]) -> Result<Self> {
        let bad = |msg: &str| ImageError::BadArchive(format!("image manifest: {msg}"));
        let value: Value =
            serde_json::from_slice(manifest).map_err(|e| ImageError::json("image manifest", e))?;
        let descriptor = |v: &Value| -> Result<(Digest, String, u64)> {
            let digest = v
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("descriptor without digest"))?
                .parse::<Digest>()?;
            let media_type = v
                .get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let size = v.get("size").and_then(Value::as_u64).unwrap_or(0);
            Ok((digest, media_type, size))
        };
        let (config, _, config_size) =
            descriptor(value.get("config").ok_or_else(|| bad("no config"))?)?;
        let layers = value
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no layers"))?
            .iter()
            .map(descriptor)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config,
            config_size,
            layers,
        })
    }
}

impl ImageStore {
    /// Registers a pulled image under `name` (and `name@<manifest digest>`): `manifest` is the
    /// raw manifest of media type `media_type`; its config and layer blobs must already be in
    /// the blob store. On error nothing new stays in the store.
    pub fn add_pulled(
        &self,
        name: &ImageRef,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<ImageRecord> {
        let lock = self.db.lock()?;
        let result = (|| {
            let parts = ManifestParts::parse(manifest)?;
            let config = self.blobs.read(&parts.config)?;
            let mut layers = Vec::with_capacity(parts.layers.len());
            for (blob, media_type, _) in parts.layers {
                if !self.blobs.contains(&blob) {
                    return Err(ImageError::BadArchive(format!("missing layer blob {blob}")));
                }
                layers.push(NewLayer {
                    size: self.blobs.size(&blob)?,
                    blob,
                    media_type,
                });
            }
            let names = [name.with_tag(name.tag().unwrap_or("latest"))];
            let names: &[ImageRef] = if name.digest().is_some() && name.tag().is_none() {
                &[]
            } else {
                &names
            };
            let record = self.register(
                &lock,
                &config,
                layers,
                Some((manifest.to_vec(), media_type.to_string())),
                names,
            )?;
            if names.is_empty() {
                let mut refs = self.db.refs()?;
                refs.insert(
                    name.with_digest(&record.manifest).to_string(),
                    record.id.clone(),
                );
                self.db.set_refs(&lock, &refs)?;
            }
            Ok(record)
        })();
        match &result {
            // Docker names the pulled reference (tagged `latest` when it has neither tag nor
            // digest), its repository as the name.
            Ok(_) => {
                let pulled = match (name.tag(), name.digest()) {
                    (None, None) => name.with_tag("latest").familiar(),
                    _ => name.familiar(),
                };
                self.event(&pulled, Action::Pull, &name.familiar_name());
            }
            Err(_) => {
                let _ = self.sweep(&lock);
            }
        }
        result
    }

    /// Removes the blobs and layers no image and no rootfs needs (what an interrupted pull
    /// left behind); returns the bytes freed.
    pub fn discard_unused(&self) -> Result<u64> {
        let lock = self.db.lock()?;
        self.sweep(&lock)
    }

    /// The manifest of an image as stored: its bytes and media type.
    pub fn manifest(&self, image: &ImageRecord) -> Result<(Vec<u8>, String)> {
        Ok((
            self.blobs.read(&image.manifest)?,
            image.manifest_media_type.clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parts_table() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let good = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "c", "digest": d('a'), "size": 7},
            "layers": [{"mediaType": "l", "digest": d('b'), "size": 9}],
        });
        let parts = ManifestParts::parse(good.to_string().as_bytes()).unwrap();
        assert_eq!(parts.config.to_string(), d('a'));
        assert_eq!(parts.config_size, 7);
        assert_eq!(parts.layers, vec![(d('b').parse().unwrap(), "l".into(), 9)]);
        for bad in [
            "{}",
            "not json",
            r#"{"config": {"digest": "sha256:12"}, "layers": []}"#,
            r#"{"config": {"digest": "sha256:aaaa"}}"#,
        ] {
            assert!(ManifestParts::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_pulled_with_a_missing_blob_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}"#;
        let config_digest = store.blobs().put(config).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "c", "digest": config_digest.to_string(), "size": config.len()},
            "layers": [{"mediaType": "l", "digest": Digest::of(b"absent").to_string(), "size": 6}],
        })
        .to_string();
        let name = ImageRef::parse("localhost:5000/app:1").unwrap();
        let err = store
            .add_pulled(&name, manifest.as_bytes(), super::super::OCI_MANIFEST)
            .unwrap_err();
        assert!(err.to_string().contains("missing layer blob"), "{err}");
        assert!(store.list().unwrap().is_empty());
        assert!(store.blobs().list().unwrap().is_empty(), "config swept");
    }
}
