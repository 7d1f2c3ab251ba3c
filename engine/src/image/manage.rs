//! Listing, inspecting, tagging, removing and pruning images.

use serde::Serialize;

use super::db::ImageRecord;
use super::digest::Digest;
use super::error::{ImageError, Result};
use super::reference::ImageRef;
use super::{ImageStore, rootfs};
use crate::events::Action;

/// One row of `image ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// The image id.
    pub id: Digest,
    /// Tags, familiar form (`redis:latest`).
    pub repo_tags: Vec<String>,
    /// Digest references, familiar form (`redis@sha256:…`).
    pub repo_digests: Vec<String>,
    /// When the image was created (from its config), RFC 3339.
    pub created: Option<String>,
    /// The total size of its layers' uncompressed tar streams.
    pub size: u64,
}

/// `image inspect`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInspect {
    /// Tags, digests, creation time and size, as in the listing.
    #[serde(flatten)]
    pub summary: ImageSummary,
    /// The manifest digest.
    pub manifest: Digest,
    /// CPU architecture (`amd64`, ...).
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// The author, if recorded.
    pub author: Option<String>,
    /// The run config: Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts, Volumes, ...
    pub config: Option<oci_spec::image::Config>,
    /// The layers' DiffIDs, bottom first.
    pub diff_ids: Vec<Digest>,
}

/// One row of `image history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The image id for the newest row, `None` (`<missing>`) for the others.
    pub id: Option<Digest>,
    /// When the step ran.
    pub created: Option<String>,
    /// The command of the step.
    pub created_by: String,
    /// The size of the layer the step produced (0 for steps without one).
    pub size: u64,
    /// The step's comment.
    pub comment: String,
    /// Whether the step produced no layer.
    pub empty_layer: bool,
}

/// What `image rm` did, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Removed {
    /// A reference was removed (familiar form).
    Untagged(String),
    /// The image was deleted.
    Deleted(Digest),
}

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Deleted images.
    pub deleted: Vec<Digest>,
    /// Bytes freed in the blob and layer stores.
    pub space_reclaimed: u64,
}

impl ImageStore {
    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let refs = self.db.refs()?;
        self.db
            .all()?
            .into_iter()
            .map(|image| self.summary(&image, &refs))
            .collect()
    }

    fn summary(
        &self,
        image: &ImageRecord,
        refs: &std::collections::BTreeMap<String, Digest>,
    ) -> Result<ImageSummary> {
        let mut repo_tags = Vec::new();
        let mut repo_digests = Vec::new();
        for (name, id) in refs {
            if id != &image.id {
                continue;
            }
            let Ok(r) = ImageRef::parse(name) else {
                continue;
            };
            if r.digest().is_some() {
                repo_digests.push(r.familiar());
            } else {
                repo_tags.push(r.familiar());
            }
        }
        let mut size = 0;
        for layer in &image.layers {
            size += self.layers.get(&layer.chain_id)?.map_or(0, |l| l.size);
        }
        let created = self.config(image)?.created().clone();
        Ok(ImageSummary {
            id: image.id.clone(),
            repo_tags,
            repo_digests,
            created,
            size,
        })
    }

    /// Details of one image.
    pub fn inspect(&self, text: &str) -> Result<ImageInspect> {
        let image = self.resolve(text)?;
        let config = self.config(&image)?;
        Ok(ImageInspect {
            summary: self.summary(&image, &self.db.refs()?)?,
            manifest: image.manifest.clone(),
            architecture: config.architecture().to_string(),
            os: config.os().to_string(),
            author: config.author().clone(),
            config: config.config().clone(),
            diff_ids: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
        })
    }

    /// The build history of an image, newest first.
    pub fn history(&self, text: &str) -> Result<Vec<HistoryEntry>> {
        let image = self.resolve(text)?;
        let config = self.config(&image)?;
        let mut sizes = image.layers.iter();
        let mut out = Vec::new();
        for h in config.history().clone().unwrap_or_default() {
            let empty_layer = h.empty_layer().unwrap_or(false);
            let size = if empty_layer {
                0
            } else {
                match sizes.next() {
                    Some(l) => self.layers.get(&l.chain_id)?.map_or(0, |i| i.size),
                    None => 0,
                }
            };
            out.push(HistoryEntry {
                id: None,
                created: h.created().clone(),
                created_by: h.created_by().clone().unwrap_or_default(),
                size,
                comment: h.comment().clone().unwrap_or_default(),
                empty_layer,
            });
        }
        out.reverse();
        if let Some(first) = out.first_mut() {
            first.id = Some(image.id.clone());
        }
        Ok(out)
    }

    /// Points `target` (`name[:tag]`) at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let image = self.resolve(source)?;
        let target_ref = ImageRef::parse(target)?;
        if target_ref.digest().is_some() {
            return Err(ImageError::InvalidReference {
                reference: target.to_string(),
                reason: "a tag cannot contain a digest".into(),
            });
        }
        let lock = self.db.lock()?;
        let mut refs = self.db.refs()?;
        refs.insert(target_ref.to_string(), image.id.clone());
        self.db.set_refs(&lock, &refs)?;
        self.event(&image.id.to_string(), Action::Tag, &target_ref.familiar());
        Ok(())
    }

    /// Whether a container uses the image: the caller's predicate, or a rootfs of this store.
    fn used(&self, id: &Digest, in_use: &dyn Fn(&Digest) -> bool) -> Result<bool> {
        if in_use(id) {
            return Ok(true);
        }
        let records = rootfs::mount_records(&self.root.join("mounts"))?;
        Ok(records.iter().any(|r| &r.image == id))
    }

    /// `image rm`: removing a tag of an image that has others only untags it; removing the
    /// last tag, or the image by id, deletes it. An image in use (`in_use`, or a rootfs of this
    /// store) or, by id, one with several tags, is refused unless `force`. A forced removal of
    /// an image in use deletes its record; the layers stay while a rootfs needs them.
    pub fn remove(
        &self,
        text: &str,
        force: bool,
        in_use: &dyn Fn(&Digest) -> bool,
    ) -> Result<Vec<Removed>> {
        let image = self.resolve(text)?;
        let lock = self.db.lock()?;
        let mut refs = self.db.refs()?;
        let by_ref = ImageRef::parse(text)
            .ok()
            .map(|r| r.to_string())
            .filter(|r| refs.get(r) == Some(&image.id));
        let conflict = |reason: String| ImageError::Conflict {
            reference: text.to_string(),
            reason,
        };
        let tags: Vec<String> = refs
            .iter()
            .filter(|(k, v)| **v == image.id && !k.contains('@'))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        if let Some(name) = &by_ref
            && tags.iter().any(|t| t != name)
        {
            refs.remove(name);
            self.db.set_refs(&lock, &refs)?;
            out.push(Removed::Untagged(familiar(name)));
            self.removed_events(&image.id, &out);
            return Ok(out);
        }
        if by_ref.is_none() && tags.len() > 1 && !force {
            return Err(conflict(format!(
                "image is referenced in multiple repositories ({} tags; use force)",
                tags.len()
            )));
        }
        if !force && self.used(&image.id, in_use)? {
            return Err(conflict(format!(
                "image {} is being used by a container (use force)",
                image.id.short()
            )));
        }
        let mine: Vec<String> = refs
            .iter()
            .filter(|(_, v)| **v == image.id)
            .map(|(k, _)| k.clone())
            .collect();
        for name in mine {
            refs.remove(&name);
            out.push(Removed::Untagged(familiar(&name)));
        }
        self.db.set_refs(&lock, &refs)?;
        self.db.delete(&lock, &image.id)?;
        out.push(Removed::Deleted(image.id.clone()));
        self.sweep(&lock)?;
        self.removed_events(&image.id, &out);
        Ok(out)
    }

    /// Docker's events of a removal of image `id`: `untag` for each name, `delete` for the
    /// image.
    fn removed_events(&self, id: &Digest, removed: &[Removed]) {
        let id = id.to_string();
        for r in removed {
            match r {
                Removed::Untagged(name) => self.event(&id, Action::Untag, name),
                Removed::Deleted(_) => self.event(&id, Action::Delete, &id),
            }
        }
    }

    /// `image prune`: deletes dangling (untagged) images, or with `all` every image, that no
    /// container uses, then the layers and blobs nothing needs.
    pub fn prune(&self, all: bool, in_use: &dyn Fn(&Digest) -> bool) -> Result<PruneReport> {
        let lock = self.db.lock()?;
        let mut refs = self.db.refs()?;
        let mut report = PruneReport::default();
        for image in self.db.all()? {
            let tagged = refs.values().any(|v| *v == image.id);
            if (tagged && !all) || self.used(&image.id, in_use)? {
                continue;
            }
            refs.retain(|_, v| *v != image.id);
            self.db.delete(&lock, &image.id)?;
            let id = image.id.to_string();
            self.event(&id, Action::Delete, &id);
            report.deleted.push(image.id);
        }
        self.db.set_refs(&lock, &refs)?;
        report.space_reclaimed = self.sweep(&lock)?;
        Ok(report)
    }
}

fn familiar(name: &str) -> String {
    ImageRef::parse(name).map_or_else(|_| name.to_string(), |r| r.familiar())
}
