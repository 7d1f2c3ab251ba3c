//! Errors of the image store.

use std::path::PathBuf;

/// Every error the image store returns.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An I/O error on a named path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted ("read", "create", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A reference (`name[:tag][@digest]`) could not be parsed.
    #[error("invalid reference format {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A digest is not `sha256:<64 hex>`.
    #[error("invalid digest {0:?}")]
    InvalidDigest(String),
    /// Content does not match the digest it was announced with.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was verified.
        what: String,
        /// The announced digest.
        expected: String,
        /// The digest of the content.
        actual: String,
    },
    /// No image matches the reference or id.
    #[error("no such image: {0}")]
    NotFound(String),
    /// An id prefix matches several images.
    #[error("image id prefix {0} is ambiguous")]
    Ambiguous(String),
    /// The image cannot be removed.
    #[error("conflict: unable to remove {reference}: {reason}")]
    Conflict {
        /// The reference or id given.
        reference: String,
        /// Why.
        reason: String,
    },
    /// A layer archive is malformed or hostile.
    #[error("layer {layer}: {reason}")]
    BadLayer {
        /// The layer's diff id (or a description of the source).
        layer: String,
        /// What is wrong.
        reason: String,
    },
    /// An image archive or layout is malformed.
    #[error("image archive: {0}")]
    BadArchive(String),
    /// An image configuration or manifest is malformed.
    #[error("{what}: {reason}")]
    BadJson {
        /// The document involved.
        what: String,
        /// The parse error.
        reason: String,
    },
    /// A `--change` instruction is not understood.
    #[error("invalid change {change:?}: {reason}")]
    BadChange {
        /// The instruction as given.
        change: String,
        /// Why.
        reason: String,
    },
    /// Mounting or unmounting a container rootfs failed.
    #[error("rootfs {path}: {reason}")]
    Rootfs {
        /// The rootfs directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl ImageError {
    /// An [`ImageError::Io`] builder for `map_err`.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }

    /// An [`ImageError::BadJson`] for a document.
    pub(crate) fn json(what: impl Into<String>, err: impl ToString) -> Self {
        Self::BadJson {
            what: what.into(),
            reason: err.to_string(),
        }
    }
}

/// Result alias using [`ImageError`].
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

/// Writes a record atomically (temp, fsync, rename), with the store's error type.
pub(crate) fn write_record(path: &std::path::Path, data: &[u8]) -> Result<()> {
    crate::atomic::write_atomic(path, data).map_err(|e| match e {
        crate::Error::Io { op, path, source } => ImageError::Io { op, path, source },
        other => ImageError::Io {
            op: "write",
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}
