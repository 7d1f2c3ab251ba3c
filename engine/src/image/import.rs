//! `image import`: a tar stream (plain, gzip or zstd) or a directory becomes a one-layer image,
//! with run-config changes given as Dockerfile instructions (like `docker import --change`).

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use oci_spec::image::{Arch, Config, Os};

use super::change::{apply_changes, parse_change};
use super::compress::{Compression, decompress};
use super::error::{ImageError, Result};
use super::{ImageRecord, ImageRef, ImageStore, NewLayer};
use crate::events::Action;

/// Where an import reads the filesystem from.
pub enum ImportSource<'a> {
    /// A tar stream (plain, gzip or zstd), e.g. a file or stdin.
    Tar(&'a mut dyn Read),
    /// A directory on the host; its content becomes the image's root.
    Dir(&'a Path),
}

/// Options of [`ImageStore::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The reference to tag the image with (`name[:tag]`); untagged when `None`.
    pub reference: Option<String>,
    /// Dockerfile instructions applied to the run config (`CMD ["sh"]`, `ENV A=1`, ...).
    pub changes: Vec<String>,
    /// The history comment.
    pub message: Option<String>,
}

impl ImageStore {
    /// Imports a filesystem as a one-layer image. The layer is stored as an uncompressed tar
    /// blob (so that its digest is its DiffID) and unpacked once.
    pub fn import(&self, source: ImportSource<'_>, options: &ImportOptions) -> Result<ImageRecord> {
        let name = options
            .reference
            .as_deref()
            .map(ImageRef::parse)
            .transpose()?;
        if name.as_ref().is_some_and(|n| n.digest().is_some()) {
            return Err(ImageError::InvalidReference {
                reference: options.reference.clone().unwrap_or_default(),
                reason: "an imported image cannot be named by digest".into(),
            });
        }
        let changes = options
            .changes
            .iter()
            .map(|c| parse_change(c))
            .collect::<Result<Vec<_>>>()?;
        let lock = self.db.lock()?;
        let (diff_id, size) = match source {
            ImportSource::Tar(reader) => {
                let (_, mut plain) = decompress(reader).map_err(|e| ImageError::BadLayer {
                    layer: "import".into(),
                    reason: format!("decompress: {e}"),
                })?;
                self.blobs.put_reader(&mut plain, None)?
            }
            ImportSource::Dir(dir) => {
                let mut writer = self.blobs.writer()?;
                let mut builder = tar::Builder::new(&mut writer);
                builder.mode(tar::HeaderMode::Complete);
                builder.follow_symlinks(false);
                builder
                    .append_dir_all(".", dir)
                    .and_then(|()| builder.finish())
                    .map_err(ImageError::io("archive", dir))?;
                drop(builder);
                writer.commit(None)?
            }
        };
        let mut run = Config::default();
        apply_changes(&mut run, &changes);
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let comment = options
            .message
            .clone()
            .unwrap_or_else(|| "Imported".to_string());
        let config = serde_json::json!({
            "architecture": Arch::default(),
            "os": Os::default(),
            "created": now,
            "config": run,
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
            "history": [{"created": now, "created_by": "bosun image import", "comment": comment}],
        });
        let config =
            serde_json::to_vec(&config).map_err(|e| ImageError::json("image config", e))?;
        let layer = NewLayer {
            blob: diff_id,
            media_type: Compression::None.layer_media_type().to_string(),
            size,
        };
        let names: Vec<ImageRef> = name.into_iter().collect();
        let record = self.register(&lock, &config, vec![layer], None, &names)?;
        let id = record.id.to_string();
        self.event(&id, Action::Import, &id);
        Ok(record)
    }
}
