//! Unpacked layers keyed by ChainID, shared between images: `layers/<chainid>/diff` holds one
//! layer's changes in overlayfs form, `layers/<chainid>/layer.json` its metadata, and
//! `layers/l/<link>` a short symlink to the diff directory that keeps overlay mount options
//! short.
//!
//! A layer is unpacked into a temporary directory and renamed into place once complete and
//! verified against its DiffID, so a present layer directory is always whole. Layers are
//! never reference-counted here: the store sweeps those no image or rootfs needs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::blobs::sync_dir;
use super::digest::Digest;
use super::error::{ImageError, Result, write_record};
use super::extract::extract_layer;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
const LINK_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Metadata of one unpacked layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The layer's ChainID (its key in the store).
    pub chain_id: Digest,
    /// The digest of its uncompressed tar stream.
    pub diff_id: Digest,
    /// The ChainID of the layer below, if any.
    pub parent: Option<Digest>,
    /// The size of the uncompressed tar stream.
    pub size: u64,
    /// The short name under `layers/l/`.
    pub link: String,
}

/// The unpacked-layer directory of an image store.
#[derive(Debug, Clone)]
pub struct LayerStore {
    root: PathBuf,
}

impl LayerStore {
    /// A layer store under `root` (`<data_root>/image/layers`); creates its directories.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [root.join("l"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(ImageError::io("create", &dir))?;
        }
        Ok(Self { root })
    }

    /// The directory holding the short links.
    pub(crate) fn links_dir(&self) -> PathBuf {
        self.root.join("l")
    }

    /// The directory of an unpacked layer's content.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.root.join(chain_id.hex()).join("diff")
    }

    /// The metadata of an unpacked layer, `None` when it is not unpacked.
    pub fn get(&self, chain_id: &Digest) -> Result<Option<LayerInfo>> {
        let path = self.root.join(chain_id.hex()).join("layer.json");
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| ImageError::json(path.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImageError::io("read", path)(e)),
        }
    }

    /// Makes sure the layer `diff_id` on top of `parent` is unpacked; `open` yields its
    /// (possibly compressed) tar stream and is only called when it is not. Returns the layer's
    /// metadata and whether it was unpacked by this call.
    pub fn ensure(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        open: impl FnOnce() -> Result<Box<dyn Read>>,
    ) -> Result<(LayerInfo, bool)> {
        let chain_id = Digest::chain(parent, diff_id);
        if let Some(info) = self.get(&chain_id)? {
            return Ok((info, false));
        }
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()));
        let result = self.unpack_into(&tmp, parent, diff_id, &chain_id, open);
        let _ = fs::remove_dir_all(&tmp);
        result
    }

    fn unpack_into(
        &self,
        tmp: &Path,
        parent: Option<&Digest>,
        diff_id: &Digest,
        chain_id: &Digest,
        open: impl FnOnce() -> Result<Box<dyn Read>>,
    ) -> Result<(LayerInfo, bool)> {
        let diff = tmp.join("diff");
        fs::create_dir_all(&diff).map_err(ImageError::io("create", &diff))?;
        let extracted = extract_layer(open()?, &diff, &diff_id.to_string())?;
        if extracted.diff_id != *diff_id {
            return Err(ImageError::DigestMismatch {
                what: "layer content (diff id)".into(),
                expected: diff_id.to_string(),
                actual: extracted.diff_id.to_string(),
            });
        }
        let info = LayerInfo {
            chain_id: chain_id.clone(),
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            size: extracted.tar_size,
            link: link_name(chain_id),
        };
        let record =
            serde_json::to_vec_pretty(&info).map_err(|e| ImageError::json("layer record", e))?;
        write_record(&tmp.join("layer.json"), &record)?;
        let dest = self.root.join(chain_id.hex());
        if let Err(e) = fs::rename(tmp, &dest) {
            // Another unpack of the same layer won the race: use its result.
            if let Some(existing) = self.get(chain_id)? {
                return Ok((existing, false));
            }
            return Err(ImageError::io("rename", dest)(e));
        }
        sync_dir(&self.root)?;
        self.ensure_link(&info)?;
        Ok((info, true))
    }

    /// Creates the short link of a layer if it is missing.
    fn ensure_link(&self, info: &LayerInfo) -> Result<()> {
        let link = self.links_dir().join(&info.link);
        let target = PathBuf::from("..").join(info.chain_id.hex()).join("diff");
        match fs::read_link(&link) {
            Ok(existing) if existing == target => Ok(()),
            Ok(existing) => Err(ImageError::Rootfs {
                path: link,
                reason: format!("short link collides with {}", existing.display()),
            }),
            Err(_) => {
                std::os::unix::fs::symlink(&target, &link).map_err(ImageError::io("symlink", link))
            }
        }
    }

    /// The ChainIDs of every unpacked layer.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(ImageError::io("read dir", &self.root))? {
            let entry = entry.map_err(ImageError::io("read dir", &self.root))?;
            if let Ok(d) = Digest::from_hex(&entry.file_name().to_string_lossy()) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes an unpacked layer and its link; returns the tar size it stood for.
    pub fn remove(&self, chain_id: &Digest) -> Result<u64> {
        let info = self.get(chain_id)?;
        if let Some(info) = &info {
            let _ = fs::remove_file(self.links_dir().join(&info.link));
        }
        let dir = self.root.join(chain_id.hex());
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(info.map_or(0, |i| i.size)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(ImageError::io("remove", dir)(e)),
        }
    }
}

/// The short link name of a layer: 10 base32 characters of its ChainID.
fn link_name(chain_id: &Digest) -> String {
    let hex = &chain_id.hex()[..16];
    let mut bits = u64::from_str_radix(hex, 16).unwrap_or(0);
    let mut out = String::with_capacity(10);
    for _ in 0..10 {
        out.push(char::from(LINK_ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(name: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn a_layer_is_unpacked_once_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::open(dir.path()).unwrap();
        let tar = tar_with("hello.txt", b"hi");
        let diff_id = Digest::of(&tar);
        let t = tar.clone();
        let (info, fresh) = store
            .ensure(None, &diff_id, || Ok(Box::new(std::io::Cursor::new(t))))
            .unwrap();
        assert!(fresh);
        assert_eq!(info.chain_id, diff_id);
        assert_eq!(
            fs::read(store.diff_dir(&diff_id).join("hello.txt")).unwrap(),
            b"hi"
        );
        let linked = store.links_dir().join(&info.link).join("hello.txt");
        assert_eq!(fs::read(linked).unwrap(), b"hi");
        let (_, fresh) = store
            .ensure(None, &diff_id, || {
                panic!("an unpacked layer must not be read again")
            })
            .unwrap();
        assert!(!fresh);
        let wrong = Digest::of(b"not the tar");
        let err = store
            .ensure(None, &wrong, || Ok(Box::new(std::io::Cursor::new(tar))))
            .unwrap_err();
        assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
        assert_eq!(store.list().unwrap(), vec![diff_id.clone()]);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        store.remove(&diff_id).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(store.links_dir()).unwrap().count(), 0);
    }
}
