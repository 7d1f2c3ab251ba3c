//! `image load`: `docker save` archives (the legacy `manifest.json` layout and the OCI layout
//! Docker writes since v25) and OCI image layouts, as a tar stream (plain, gzip or zstd) or a
//! directory.
//!
//! The archive is read once: every `blobs/sha256/<hex>` entry goes straight into the blob
//! store, verified against its name; legacy `layer.tar` entries are stored under their
//! computed digest; small metadata files stay in memory. Then each image is registered (its
//! layers verified against the config's DiffIDs). On any error, the blobs staged by the load
//! are swept again, so a failed load stores nothing.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use oci_spec::image::{Arch, Os};
use serde_json::Value;

use super::compress::{Compression, decompress};
use super::db::DbLock;
use super::digest::Digest;
use super::error::{ImageError, Result};
use super::{ImageRef, ImageStore, NewLayer};
use crate::events::Action;

/// Metadata files larger than this are not kept in memory.
const MAX_METADATA: u64 = 16 << 20;
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// One image a load added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The image id.
    pub id: Digest,
    /// The references it was tagged with, familiar form (empty when untagged).
    pub names: Vec<String>,
}

#[derive(Default)]
struct Staged {
    files: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
}

impl Staged {
    fn resolve<'a>(&'a self, mut path: &'a str) -> &'a str {
        for _ in 0..16 {
            match self.links.get(path) {
                Some(next) => path = next,
                None => break,
            }
        }
        path
    }

    fn blob(&self, path: &str) -> Result<(Digest, u64)> {
        self.blobs
            .get(self.resolve(path))
            .cloned()
            .ok_or_else(|| ImageError::BadArchive(format!("missing file {path}")))
    }
}

fn bad(msg: impl Into<String>) -> ImageError {
    ImageError::BadArchive(msg.into())
}

/// A clean relative path inside the archive, `None` for the root or paths climbing out.
fn clean(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl ImageStore {
    /// Loads every image of an archive stream.
    pub fn load(&self, reader: &mut dyn Read) -> Result<Vec<Loaded>> {
        let lock = self.db.lock()?;
        let result = self
            .stage_tar(reader)
            .and_then(|staged| self.load_staged(&lock, &staged));
        match &result {
            Ok(loaded) => {
                for image in loaded {
                    let id = image.id.to_string();
                    self.event(&id, Action::Load, image.names.first().unwrap_or(&id));
                }
            }
            Err(_) => {
                let _ = self.sweep(&lock);
            }
        }
        result
    }

    /// Loads every image of an OCI layout (or unpacked `docker save`) directory.
    #[cfg(feature = "testing")]
    pub fn load_dir(&self, dir: &Path) -> Result<Vec<Loaded>> {
        let lock = self.db.lock()?;
        let result = self
            .stage_dir(dir)
            .and_then(|staged| self.load_staged(&lock, &staged));
        if result.is_err() {
            let _ = self.sweep(&lock);
        }
        result
    }

    fn stage_file(
        &self,
        staged: &mut Staged,
        path: String,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<()> {
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let expected = Digest::from_hex(hex)?;
            let stored = self
                .blobs
                .put_reader(reader, Some(&expected))
                .map_err(|e| match e {
                    ImageError::DigestMismatch {
                        expected, actual, ..
                    } => ImageError::DigestMismatch {
                        what: format!("archive file {path}"),
                        expected,
                        actual,
                    },
                    other => other,
                })?;
            staged.blobs.insert(path, stored);
        } else if path.ends_with(".tar") {
            let stored = self.blobs.put_reader(reader, None)?;
            staged.blobs.insert(path, stored);
        } else if size <= MAX_METADATA {
            let mut data = Vec::new();
            reader
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("read {path}: {e}")))?;
            staged.files.insert(path, data);
        }
        Ok(())
    }

    fn stage_tar(&self, reader: &mut dyn Read) -> Result<Staged> {
        let (_, plain) = decompress(reader).map_err(|e| bad(format!("decompress: {e}")))?;
        let mut archive = tar::Archive::new(plain);
        let mut staged = Staged::default();
        for entry in archive.entries().map_err(|e| bad(format!("read: {e}")))? {
            let mut entry = entry.map_err(|e| bad(format!("read: {e}")))?;
            let raw = entry
                .path()
                .map_err(|e| bad(format!("entry path: {e}")))?
                .into_owned();
            let Some(path) = clean(&raw) else { continue };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    self.stage_file(&mut staged, path, size, &mut entry)?;
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let Some(target) = entry.link_name().ok().flatten() else {
                        continue;
                    };
                    let base = if entry.header().entry_type() == tar::EntryType::Link {
                        PathBuf::new()
                    } else {
                        Path::new(&path)
                            .parent()
                            .map(Path::to_path_buf)
                            .unwrap_or_default()
                    };
                    if let Some(t) = clean(&base.join(target)) {
                        staged.links.insert(path, t);
                    }
                }
                _ => {}
            }
        }
        Ok(staged)
    }

    #[cfg(feature = "testing")]
    fn stage_dir(&self, dir: &Path) -> Result<Staged> {
        let mut staged = Staged::default();
        let mut pending = vec![PathBuf::new()];
        while let Some(rel) = pending.pop() {
            let full = dir.join(&rel);
            for entry in std::fs::read_dir(&full).map_err(ImageError::io("read dir", &full))? {
                let entry = entry.map_err(ImageError::io("read dir", &full))?;
                let rel = rel.join(entry.file_name());
                let meta = std::fs::metadata(entry.path())
                    .map_err(ImageError::io("stat", entry.path()))?;
                if meta.is_dir() {
                    pending.push(rel);
                } else if meta.is_file() {
                    let Some(path) = clean(&rel) else { continue };
                    let mut file = std::fs::File::open(entry.path())
                        .map_err(ImageError::io("open", entry.path()))?;
                    self.stage_file(&mut staged, path, meta.len(), &mut file)?;
                }
            }
        }
        Ok(staged)
    }

    fn read_staged(&self, staged: &Staged, path: &str) -> Result<Vec<u8>> {
        let path = staged.resolve(path);
        if let Some(data) = staged.files.get(path) {
            return Ok(data.clone());
        }
        let (digest, _) = staged.blob(path)?;
        self.blobs.read(&digest)
    }

    fn load_staged(&self, lock: &DbLock, staged: &Staged) -> Result<Vec<Loaded>> {
        let legacy: Vec<Value> = match staged.files.get("manifest.json") {
            Some(data) => {
                serde_json::from_slice(data).map_err(|e| ImageError::json("manifest.json", e))?
            }
            None => Vec::new(),
        };
        let mut out = Vec::new();
        if staged.blobs.contains_key("index.json") || staged.files.contains_key("index.json") {
            let index = self.read_staged(staged, "index.json")?;
            let mut manifests = Vec::new();
            collect_manifests(self, &index, &mut manifests, 0)?;
            if manifests.is_empty() {
                return Err(bad(
                    "index.json lists no image manifest for this platform: expected at least one",
                ));
            }
            for (digest, media_type, mut names) in manifests {
                let manifest = self.blobs.read(&digest)?;
                let parsed: Value = serde_json::from_slice(&manifest)
                    .map_err(|e| ImageError::json(format!("manifest {digest}"), e))?;
                let config_digest: Digest = str_at(&parsed, &["config", "digest"])?.parse()?;
                // A docker-save archive also names the image in manifest.json.
                for entry in &legacy {
                    let config_path = entry
                        .get("Config")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if config_path.ends_with(config_digest.hex()) {
                        names.extend(repo_tags(entry)?);
                    }
                }
                let layers = parsed
                    .get("layers")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad(format!("manifest {digest} has no layers")))?
                    .iter()
                    .map(|l| {
                        let blob: Digest = str_at(l, &["digest"])?.parse()?;
                        if !self.blobs.contains(&blob) {
                            return Err(bad(format!("missing layer blob {blob}")));
                        }
                        Ok(NewLayer {
                            size: self.blobs.size(&blob)?,
                            blob,
                            media_type: str_at(l, &["mediaType"])?.to_string(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let config = self.blobs.read(&config_digest)?;
                let media_type = parsed
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or(media_type);
                dedup(&mut names);
                let record =
                    self.register(lock, &config, layers, Some((manifest, media_type)), &names)?;
                out.push(Loaded {
                    id: record.id,
                    names: names.iter().map(ImageRef::familiar).collect(),
                });
            }
        } else if !legacy.is_empty() {
            for entry in &legacy {
                let config_path = str_at(entry, &["Config"])?;
                let config = self.read_staged(staged, config_path)?;
                let mut layers = Vec::new();
                for layer in entry
                    .get("Layers")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("manifest.json entry has no Layers"))?
                {
                    let path = layer
                        .as_str()
                        .ok_or_else(|| bad("layer path is not a string"))?;
                    let (blob, size) = staged.blob(path)?;
                    let mut magic = [0u8; 4];
                    let n = self.blobs.open_blob(&blob)?.read(&mut magic).unwrap_or(0);
                    layers.push(NewLayer {
                        blob,
                        media_type: Compression::detect(&magic[..n])
                            .layer_media_type()
                            .to_string(),
                        size,
                    });
                }
                let mut names = repo_tags(entry)?;
                dedup(&mut names);
                let record = self.register(lock, &config, layers, None, &names)?;
                out.push(Loaded {
                    id: record.id,
                    names: names.iter().map(ImageRef::familiar).collect(),
                });
            }
        } else if staged.files.contains_key("manifest.json") {
            return Err(bad(
                "manifest.json lists no image: expected at least one entry with Config and Layers",
            ));
        } else {
            return Err(bad("neither index.json nor manifest.json found"));
        }
        Ok(out)
    }
}

fn dedup(names: &mut Vec<ImageRef>) {
    let mut seen = BTreeSet::new();
    names.retain(|n| seen.insert(n.to_string()));
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str> {
    let mut v = value;
    for key in path {
        v = v
            .get(key)
            .ok_or_else(|| bad(format!("missing field {}", path.join("."))))?;
    }
    v.as_str()
        .ok_or_else(|| bad(format!("field {} is not a string", path.join("."))))
}

fn repo_tags(entry: &Value) -> Result<Vec<ImageRef>> {
    entry
        .get("RepoTags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(ImageRef::parse)
                .collect::<Result<Vec<_>>>()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// Walks an index (nested indexes too), keeping the manifests of this platform (or without a
/// platform) with the names their annotations give.
fn collect_manifests(
    store: &ImageStore,
    index: &[u8],
    out: &mut Vec<(Digest, String, Vec<ImageRef>)>,
    depth: usize,
) -> Result<()> {
    if depth > 4 {
        return Err(bad("indexes nested too deeply"));
    }
    let index: Value =
        serde_json::from_slice(index).map_err(|e| ImageError::json("image index", e))?;
    let arch = serde_json::to_value(Arch::default()).unwrap_or(Value::Null);
    let os = serde_json::to_value(Os::default()).unwrap_or(Value::Null);
    for desc in index
        .get("manifests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(platform) = desc.get("platform")
            && (platform.get("architecture") != Some(&arch) || platform.get("os") != Some(&os))
        {
            continue;
        }
        let digest: Digest = str_at(desc, &["digest"])?.parse()?;
        let media_type = desc
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !store.blobs.contains(&digest) {
            return Err(bad(format!("missing manifest blob {digest}")));
        }
        if INDEX_TYPES.contains(&media_type) {
            let nested = store.blobs.read(&digest)?;
            collect_manifests(store, &nested, out, depth + 1)?;
            continue;
        }
        let annotations = desc.get("annotations");
        let mut names = Vec::new();
        let full = annotations
            .and_then(|a| a.get("io.containerd.image.name"))
            .and_then(Value::as_str);
        let short = annotations
            .and_then(|a| a.get("org.opencontainers.image.ref.name"))
            .and_then(Value::as_str)
            .filter(|n| n.contains('/') || n.contains(':'));
        if let Some(name) = full.or(short) {
            names.push(ImageRef::parse(name)?);
        }
        match out.iter_mut().find(|(d, _, _)| *d == digest) {
            Some((_, _, existing)) => existing.extend(names),
            None => out.push((digest, media_type.to_string(), names)),
        }
    }
    Ok(())
}
