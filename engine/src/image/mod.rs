//! The image store of one node, under `<data_root>/image/`:
//!
//! ```text
//! blobs/sha256/<hex>     configs, manifests and layer blobs, verified on write
//! layers/<chainid>/      unpacked layers (overlayfs form), shared between images
//! layers/l/<link>        short links to the layers' diff directories
//! db/images/<id>.json    one record per image; db/repositories.json: tags and digests
//! mounts/<owner>.json    the layers each container rootfs uses (kept while it exists)
//! ```
//!
//! Sources are [`ImageStore::import`] (a tar or directory as a one-layer image),
//! [`ImageStore::load`] (`docker save` archives and OCI layouts) and [`ImageStore::save`] writes
//! them back; registry pulls register through [`ImageStore::add_pulled`], image builds through [`ImageStore::add_built`]. Containers get an overlayfs rootfs from [`ImageStore::create_rootfs`]. Nothing
//! is reference-counted: [`ImageStore::prune`] sweeps the layers and blobs that no image and no
//! rootfs needs. Every change to the database holds one exclusive lock.

mod blobs;
mod built;
mod change;
mod compress;
mod db;
mod digest;
mod error;
mod extract;
mod import;
mod layers;
mod load;
mod manage;
mod pull;
mod reference;
mod rootfs;
mod save;
mod share;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::image::ImageConfiguration;

pub use blobs::{BlobStore, BlobWriter};
pub use built::BuiltLayer;
pub use change::{Change, apply_change_lines};
pub use compress::{Compression, decompress};
pub use db::{ImageRecord, LayerRef};
pub use digest::Digest;
pub use error::{ImageError, Result};
pub(crate) use extract::extract_under;
#[cfg(feature = "testing")]
pub use extract::{Extracted, extract_layer};
pub use import::{ImportOptions, ImportSource};
pub use layers::{LayerInfo, LayerStore};
pub use load::Loaded;
pub use manage::{HistoryEntry, ImageInspect, ImageSummary, PruneReport, Removed};
pub use pull::ManifestParts;
pub use reference::ImageRef;

use crate::events::{Action, Event, EventLog, Kind as EventKind};
use db::{Db, DbLock};

/// The OCI manifest media type.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI config media type.
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The image store.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    blobs: BlobStore,
    layers: LayerStore,
    db: Db,
    /// The node's event log (pulls, tags, removals...).
    events: EventLog,
}

/// A layer blob already in the blob store, about to become part of an image.
#[derive(Debug, Clone)]
pub(crate) struct NewLayer {
    pub blob: Digest,
    pub media_type: String,
    pub size: u64,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `<data_root>/image`. The directory is private
    /// to root (0700): unpacked layers may hold set-id programs.
    pub fn open(data_root: &Path) -> Result<Self> {
        let root = data_root.join("image");
        fs::create_dir_all(&root).map_err(ImageError::io("create", &root))?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))
            .map_err(ImageError::io("chmod", &root))?;
        let mounts = root.join("mounts");
        fs::create_dir_all(&mounts).map_err(ImageError::io("create", &mounts))?;
        Ok(Self {
            blobs: BlobStore::open(root.join("blobs"))?,
            layers: LayerStore::open(root.join("layers"))?,
            db: Db::open(root.join("db"))?,
            events: EventLog::new(data_root),
            root,
        })
    }

    /// Records what happened to image `id` in the node's event log, with Docker's `name`
    /// attribute (`name`: the reference concerned, or the id itself).
    pub(crate) fn event(&self, id: &str, action: Action, name: &str) {
        self.events
            .emit_or_warn(&Event::of(EventKind::Image, id, action).with("name", name));
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The unpacked-layer store.
    pub fn layers(&self) -> &LayerStore {
        &self.layers
    }

    /// Finds an image by reference (`redis`, `app:1`, `app@sha256:…`, `app:1@sha256:…` naming
    /// the manifest digest of an image of that repository), by id (`sha256:…`) or
    /// by a unique id prefix of at least 4 hex characters.
    pub fn resolve(&self, text: &str) -> Result<ImageRecord> {
        if let Ok(id) = text.parse::<Digest>() {
            return self
                .db
                .get(&id)?
                .ok_or_else(|| ImageError::NotFound(text.to_string()));
        }
        if let Ok(r) = ImageRef::parse(text) {
            if let Some(id) = self.db.refs()?.get(&r.to_string()) {
                return self
                    .db
                    .get(id)?
                    .ok_or_else(|| ImageError::NotFound(text.to_string()));
            }
            if let Some(record) = self.resolve_pinned(&r)? {
                return Ok(record);
            }
        }
        let is_hex = text.len() >= 4 && text.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex {
            let matches: Vec<ImageRecord> = self
                .db
                .all()?
                .into_iter()
                .filter(|r| r.id.hex().starts_with(text))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches.into_iter().next().expect("one match")),
                _ => return Err(ImageError::Ambiguous(text.to_string())),
            }
        }
        ImageRef::parse(text)?;
        Err(ImageError::NotFound(text.to_string()))
    }

    /// The parsed configuration of an image.
    pub fn config(&self, image: &ImageRecord) -> Result<ImageConfiguration> {
        let data = self.blobs.read(&image.id)?;
        parse_config(&data, &image.id)
    }

    /// Adds an image from blobs already stored: unpacks its layers (each verified against the
    /// config's DiffIDs, each unpacked once), stores the manifest (the given one, or a new OCI
    /// manifest) and the record, and points `names` at it.
    pub(crate) fn register(
        &self,
        lock: &DbLock,
        config: &[u8],
        layers: Vec<NewLayer>,
        manifest: Option<(Vec<u8>, String)>,
        names: &[ImageRef],
    ) -> Result<ImageRecord> {
        let id = self.blobs.put(config)?;
        let parsed = parse_config(config, &id)?;
        let diff_ids = parsed
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse::<Digest>())
            .collect::<Result<Vec<_>>>()?;
        if diff_ids.len() != layers.len() {
            return Err(ImageError::BadArchive(format!(
                "image {id}: config lists {} layers, manifest {}",
                diff_ids.len(),
                layers.len()
            )));
        }
        let mut refs = Vec::with_capacity(layers.len());
        let mut parent: Option<Digest> = None;
        for (layer, diff_id) in layers.into_iter().zip(diff_ids) {
            let blobs = self.blobs.clone();
            let blob = layer.blob.clone();
            let (info, _) = self.layers.ensure(parent.as_ref(), &diff_id, move || {
                Ok(Box::new(blobs.open_blob(&blob)?))
            })?;
            parent = Some(info.chain_id.clone());
            refs.push(LayerRef {
                diff_id,
                chain_id: info.chain_id,
                blob: layer.blob,
                media_type: layer.media_type,
                blob_size: layer.size,
            });
        }
        let from_source = manifest.is_some();
        let (manifest_bytes, manifest_media_type) = match manifest {
            Some(m) => m,
            None => (
                build_manifest(&id, config.len() as u64, &refs)?,
                OCI_MANIFEST.to_string(),
            ),
        };
        let manifest = self.blobs.put(&manifest_bytes)?;
        let record = ImageRecord {
            id,
            manifest,
            manifest_media_type,
            config_size: config.len() as u64,
            layers: refs,
            added: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        };
        self.db.put(lock, &record)?;
        let mut table = self.db.refs()?;
        for name in names {
            table.insert(name.to_string(), record.id.clone());
            if from_source {
                table.insert(
                    name.with_digest(&record.manifest).to_string(),
                    record.id.clone(),
                );
            }
        }
        self.db.set_refs(lock, &table)?;
        Ok(record)
    }

    /// The ChainIDs and blobs every image and every container rootfs needs.
    fn live_set(&self) -> Result<(BTreeSet<Digest>, BTreeSet<Digest>)> {
        let mut layers = BTreeSet::new();
        let mut blobs = BTreeSet::new();
        for image in self.db.all()? {
            blobs.insert(image.id.clone());
            blobs.insert(image.manifest.clone());
            for l in &image.layers {
                layers.insert(l.chain_id.clone());
                blobs.insert(l.blob.clone());
            }
        }
        for record in rootfs::mount_records(&self.root.join("mounts"))? {
            layers.extend(record.layers);
        }
        Ok((layers, blobs))
    }

    /// Removes every layer and blob no image and no rootfs needs; returns the bytes freed.
    fn sweep(&self, _lock: &DbLock) -> Result<u64> {
        let (live_layers, live_blobs) = self.live_set()?;
        let mut freed = 0;
        for chain in self.layers.list()? {
            if !live_layers.contains(&chain) {
                freed += self.layers.remove(&chain)?;
            }
        }
        for blob in self.blobs.list()? {
            if !live_blobs.contains(&blob) {
                freed += self.blobs.remove(&blob)?;
            }
        }
        Ok(freed)
    }
}

fn parse_config(data: &[u8], id: &Digest) -> Result<ImageConfiguration> {
    ImageConfiguration::from_reader(data)
        .map_err(|e| ImageError::json(format!("image config {id}"), e))
}

/// An OCI manifest for a config and layers.
fn build_manifest(config: &Digest, config_size: u64, layers: &[LayerRef]) -> Result<Vec<u8>> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "mediaType": l.media_type,
                "digest": l.blob.to_string(),
                "size": l.blob_size,
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.to_string(), "size": config_size},
        "layers": layers,
    });
    serde_json::to_vec(&manifest).map_err(|e| ImageError::json("manifest", e))
}
