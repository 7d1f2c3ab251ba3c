//! `image save`: an archive `docker load` accepts, in the layout Docker writes since v25: an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) plus the legacy
//! `manifest.json` naming the same blobs.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use super::digest::Digest;
use super::error::{ImageError, Result};
use super::{ImageRef, ImageStore};

/// The OCI index media type.
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

impl ImageStore {
    /// Writes the images `references` name (references or ids) to `out` as one archive.
    /// Images given by reference carry that name; images given by id are saved untagged.
    pub fn save(&self, references: &[&str], out: &mut dyn Write) -> Result<()> {
        let refs = self.db.refs()?;
        let mut images: Vec<(super::ImageRecord, Vec<ImageRef>)> = Vec::new();
        for text in references {
            let image = self.resolve(text)?;
            let name = ImageRef::parse(text)
                .ok()
                .filter(|r| r.digest().is_none() && refs.get(&r.to_string()) == Some(&image.id));
            match images.iter_mut().find(|(i, _)| i.id == image.id) {
                Some((_, names)) => names.extend(name),
                None => images.push((image, name.into_iter().collect())),
            }
        }
        let mut tar = tar::Builder::new(out);
        let io_err = |e: std::io::Error| ImageError::io("write", "image archive")(e);
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            tar.append_data(&mut h, dir, std::io::empty())
                .map_err(io_err)?;
        }
        let mut written: BTreeSet<Digest> = BTreeSet::new();
        let mut index_entries: Vec<Value> = Vec::new();
        let mut legacy: Vec<Value> = Vec::new();
        for (image, names) in &images {
            let mut blobs = vec![image.id.clone(), image.manifest.clone()];
            blobs.extend(image.layers.iter().map(|l| l.blob.clone()));
            for blob in blobs {
                if !written.insert(blob.clone()) {
                    continue;
                }
                let size = self.blobs.size(&blob)?;
                let file = self.blobs.open_blob(&blob)?;
                let mut h = tar::Header::new_ustar();
                h.set_mode(0o444);
                h.set_size(size);
                tar.append_data(&mut h, format!("blobs/sha256/{}", blob.hex()), file)
                    .map_err(io_err)?;
            }
            let descriptor = json!({
                "mediaType": image.manifest_media_type,
                "digest": image.manifest.to_string(),
                "size": self.blobs.size(&image.manifest)?,
            });
            if names.is_empty() {
                index_entries.push(descriptor.clone());
            }
            for name in names {
                let mut d = descriptor.clone();
                d["annotations"] = json!({
                    "io.containerd.image.name": name.to_string(),
                    "org.opencontainers.image.ref.name": name.tag().unwrap_or("latest"),
                });
                index_entries.push(d);
            }
            legacy.push(json!({
                "Config": format!("blobs/sha256/{}", image.id.hex()),
                "RepoTags": names.iter().map(ImageRef::familiar).collect::<Vec<_>>(),
                "Layers": image
                    .layers
                    .iter()
                    .map(|l| format!("blobs/sha256/{}", l.blob.hex()))
                    .collect::<Vec<_>>(),
            }));
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries});
        let files = [
            ("oci-layout", json!({"imageLayoutVersion": "1.0.0"})),
            ("index.json", index),
            ("manifest.json", Value::Array(legacy)),
        ];
        for (name, value) in files {
            let data = serde_json::to_vec(&value).map_err(|e| ImageError::json(name, e))?;
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            tar.append_data(&mut h, name, &data[..]).map_err(io_err)?;
        }
        tar.finish().map_err(io_err)
    }
}
