//! A service's mounts (`services.*.volumes`): the short syntax `SOURCE:TARGET:MODE` and the long
//! one with `bind`, `volume`, `tmpfs` and `image` options.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::bytes::ByteSize;
use crate::model::lists;
use crate::model::mode::FileMode;
use crate::model::scalar::{self, Extensions};
use crate::model::short::ShortSyntax;

string_enum! {
    /// The kind of a mount.
    pub enum VolumeType ("volume type") {
        /// A host path.
        Bind = "bind",
        /// A named or anonymous volume.
        Volume = "volume",
        /// A tmpfs.
        Tmpfs = "tmpfs",
        /// A Windows named pipe.
        Npipe = "npipe",
        /// A cluster volume.
        Cluster = "cluster",
        /// The file system of an image.
        Image = "image",
    }
}

string_enum! {
    /// Mount propagation of a bind mount.
    pub enum Propagation ("propagation") {
        /// `shared`.
        Shared = "shared",
        /// `rshared`.
        RShared = "rshared",
        /// `slave`.
        Slave = "slave",
        /// `rslave`.
        RSlave = "rslave",
        /// `private`.
        Private = "private",
        /// `rprivate`.
        RPrivate = "rprivate",
    }
}

string_enum! {
    /// SELinux relabeling of a bind mount.
    pub enum SeLinux ("selinux option") {
        /// `z`: shared among containers.
        Shared = "z",
        /// `Z`: private to this container.
        Private = "Z",
    }
}

string_enum! {
    /// Recursive read-only behaviour of a bind mount.
    pub enum Recursive ("recursive option") {
        /// Submounts are mounted too (the default).
        Enabled = "enabled",
        /// Submounts are not mounted.
        Disabled = "disabled",
        /// Submounts stay writable in a read-only mount.
        Writable = "writable",
        /// Submounts are read-only too.
        ReadOnly = "readonly",
    }
}

/// Options of a bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindOptions {
    /// Mount propagation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<Propagation>,
    /// Create the host path when missing (true unless set to false).
    #[serde(default = "scalar::yes", deserialize_with = "scalar::scalar")]
    pub create_host_path: bool,
    /// Recursive read-only behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<Recursive>,
    /// SELinux relabeling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<SeLinux>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            propagation: None,
            create_host_path: true,
            recursive: None,
            selinux: None,
            extensions: Extensions::new(),
        }
    }
}

/// Options of a volume mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeOptions {
    /// Labels for a volume created for this mount.
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Do not copy the image's content into an empty volume.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub nocopy: bool,
    /// Mount only this path inside the volume.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub subpath: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TmpfsOptions {
    /// Size limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<ByteSize>,
    /// Permission bits of the mount point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Options of an image mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageOptions {
    /// Mount only this path of the image.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub subpath: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// One mount of a service, in the long syntax. Relative bind sources (`./data`, `~/x`) are kept
/// as written; the loader resolves them against the project directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ServiceVolume {
    /// The kind of mount.
    #[serde(rename = "type")]
    pub kind: VolumeType,
    /// Host path, volume name or image; `None` for anonymous volumes and tmpfs.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<String>,
    /// The path in the container.
    #[serde(
        default,
        deserialize_with = "scalar::scalar",
        skip_serializing_if = "String::is_empty"
    )]
    pub target: String,
    /// Mount read-only.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub read_only: bool,
    /// Consistency requirement (`cached`, `delegated`, `consistent`; platform specific).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consistency: Option<String>,
    /// Bind options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    /// Volume options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    /// Tmpfs options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
    /// Image options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOptions>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

short_or_long!(ServiceVolume);

impl ServiceVolume {
    /// A mount of the given kind with nothing else set.
    pub fn new(kind: VolumeType, source: Option<String>, target: impl Into<String>) -> Self {
        Self {
            kind,
            source,
            target: target.into(),
            read_only: false,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
            image: None,
            extensions: Extensions::new(),
        }
    }
}

const VOLUME_SYNTAX: &str = "expected [SOURCE:]TARGET[:MODE]";

impl ShortSyntax for ServiceVolume {
    const EXPECTING: &'static str = "a volume string such as ./data:/data:ro or a volume mapping";

    fn parse_short(text: &str) -> Result<Self, String> {
        parse_volume(text)
    }
}

/// Whether a short-syntax source is a host path rather than a volume name.
pub(super) fn is_host_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~']) || source.starts_with("\\\\")
}

/// Parses the short syntax: `TARGET` (anonymous volume), `SOURCE:TARGET` and
/// `SOURCE:TARGET:MODES` where MODES is a comma list of `ro`, `rw`, `z`, `Z`, `nocopy`, a
/// propagation mode, or a consistency (`cached`, `delegated`, `consistent`). A source starting with
/// `.`, `/` or `~` is a bind mount (created when missing); anything else names a volume.
pub fn parse_volume(text: &str) -> Result<ServiceVolume, String> {
    let error = |why: &str| format!("invalid volume {text:?}: {why}, {VOLUME_SYNTAX}");
    if text.is_empty() {
        return Err(error("empty volume"));
    }
    let parts: Vec<&str> = text.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(error("empty section between colons"));
    }
    let (source, target, modes) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, modes] => (Some(*source), *target, Some(*modes)),
        _ => return Err(error("too many colons")),
    };
    let kind = match source {
        Some(s) if is_host_path(s) => VolumeType::Bind,
        _ => VolumeType::Volume,
    };
    let mut volume = ServiceVolume::new(kind, source.map(str::to_owned), clean_path(target));
    if kind == VolumeType::Bind {
        volume.bind = Some(BindOptions::default());
    }
    for mode in modes.into_iter().flat_map(|m| m.split(',')) {
        match mode {
            "ro" => volume.read_only = true,
            "rw" => volume.read_only = false,
            "nocopy" => {
                volume
                    .volume
                    .get_or_insert_with(VolumeOptions::default)
                    .nocopy = true
            }
            "cached" | "delegated" | "consistent" => volume.consistency = Some(mode.to_owned()),
            _ => {
                let bind = volume.bind.get_or_insert_with(BindOptions::default);
                if let Ok(selinux) = mode.parse::<SeLinux>() {
                    bind.selinux = Some(selinux);
                } else if let Ok(propagation) = mode.parse::<Propagation>() {
                    bind.propagation = Some(propagation);
                } else {
                    return Err(format!(
                        "invalid volume {text:?}: unknown mode {mode:?}, expected ro, rw, z, Z, nocopy or a propagation such as rshared"
                    ));
                }
            }
        }
    }
    Ok(volume)
}

/// Lexically cleans a container path like Go's `path.Clean` (`/data/` -> `/data`).
pub(super) fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests;
