//! What a node needs to hand an image to another node blob by blob, and to take one in: the
//! manifest of a stored image by its digest, the blobs stored images use (nothing else is
//! served), and the blobs a manifest names that this store lacks. The receiving side stores
//! each blob verified against its digest ([`super::BlobStore::put_reader`]) and registers the
//! image with [`ImageStore::add_pulled`], as a registry pull does.

use super::digest::Digest;
use super::error::{ImageError, Result};
use super::pull::ManifestParts;
use super::{ImageRecord, ImageRef, ImageStore};

impl ImageStore {
    /// The stored image whose manifest has `digest`.
    pub fn by_manifest(&self, digest: &Digest) -> Result<ImageRecord> {
        self.db
            .all()?
            .into_iter()
            .find(|image| image.manifest == *digest)
            .ok_or_else(|| ImageError::NotFound(format!("manifest {digest}")))
    }

    /// Whether a stored image uses blob `digest` (as its manifest, config or a layer): the
    /// only blobs a node hands to others.
    pub fn serves_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.db.all()?.iter().any(|image| {
            image.manifest == *digest
                || image.id == *digest
                || image.layers.iter().any(|l| l.blob == *digest)
        }))
    }

    /// The blobs (config, then layers) `manifest` names that the blob store lacks.
    pub fn missing_blobs(&self, manifest: &[u8]) -> Result<Vec<Digest>> {
        let parts = ManifestParts::parse(manifest)?;
        let mut missing = Vec::new();
        for blob in std::iter::once(parts.config).chain(parts.layers.into_iter().map(|l| l.0)) {
            if !self.blobs.contains(&blob) && !missing.contains(&blob) {
                missing.push(blob);
            }
        }
        Ok(missing)
    }

    /// Registers the image of `manifest` under `reference`, which must name the manifest's
    /// digest (`name:tag@sha256:…`); every blob must be stored already (see
    /// [`ImageStore::add_pulled`]).
    pub fn add_pinned(
        &self,
        reference: &ImageRef,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<ImageRecord> {
        let Some(expected) = reference.digest() else {
            return Err(ImageError::InvalidReference {
                reference: reference.to_string(),
                reason: "a digest is required".into(),
            });
        };
        let actual = Digest::of(manifest);
        if actual != *expected {
            return Err(ImageError::DigestMismatch {
                what: format!("manifest of {}", reference.familiar()),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        self.add_pulled(reference, manifest, media_type)
    }

    /// The image a reference with a digest names when the reference table has no entry for
    /// it as written: `name@digest` (the tag of `name:tag@digest` is ignored, as Docker does),
    /// or an image of the same repository whose manifest has the digest (an image imported
    /// or built here, pinned by a service).
    pub(crate) fn resolve_pinned(&self, reference: &ImageRef) -> Result<Option<ImageRecord>> {
        let Some(digest) = reference.digest() else {
            return Ok(None);
        };
        let refs = self.db.refs()?;
        if let Some(id) = refs.get(&reference.with_digest(digest).to_string()) {
            return self.db.get(id);
        }
        let name = reference.name();
        for image in self.db.all()? {
            let named_here = refs.iter().any(|(text, id)| {
                *id == image.id && ImageRef::parse(text).is_ok_and(|r| r.name() == name)
            });
            if image.manifest == *digest && named_here {
                return Ok(Some(image));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ImportOptions, ImportSource};

    fn imported(store: &ImageStore, name: &str) -> ImageRecord {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello"), b"hello").unwrap();
        let options = ImportOptions {
            reference: Some(name.to_owned()),
            ..ImportOptions::default()
        };
        store
            .import(ImportSource::Dir(dir.path()), &options)
            .unwrap()
    }

    #[test]
    fn an_image_moves_blob_by_blob_and_resolves_by_its_pinned_reference() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (from, to) = (
            ImageStore::open(a.path()).unwrap(),
            ImageStore::open(b.path()).unwrap(),
        );
        let image = imported(&from, "app:1");
        let pinned = ImageRef::parse(&format!("app:1@{}", image.manifest)).unwrap();
        assert_eq!(from.resolve(&pinned.to_string()).unwrap().id, image.id);
        let other = ImageRef::parse(&format!("other:1@{}", image.manifest)).unwrap();
        assert!(
            from.resolve(&other.to_string()).is_err(),
            "another repository"
        );

        let (manifest, media_type) = from
            .manifest(&from.by_manifest(&image.manifest).unwrap())
            .unwrap();
        let missing = to.missing_blobs(&manifest).unwrap();
        assert_eq!(missing.len(), 2, "config and one layer");
        assert!(missing.iter().all(|d| from.serves_blob(d).unwrap()));
        assert!(!from.serves_blob(&Digest::of(b"anything")).unwrap());
        let tampered = ImageRef::parse(&format!("app:1@{}", Digest::of(b"x"))).unwrap();
        let err = to
            .add_pinned(&tampered, &manifest, &media_type)
            .unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        for blob in &missing {
            let mut file = from.blobs().open_blob(blob).unwrap();
            to.blobs().put_reader(&mut file, Some(blob)).unwrap();
        }
        assert!(to.missing_blobs(&manifest).unwrap().is_empty());
        let added = to.add_pinned(&pinned, &manifest, &media_type).unwrap();
        assert_eq!(
            (added.id, added.manifest.clone()),
            (image.id.clone(), image.manifest.clone())
        );
        assert_eq!(to.resolve(&pinned.to_string()).unwrap().id, image.id);
        assert_eq!(to.resolve("app:1").unwrap().id, image.id);
    }
}
