//! The crate's public error type, aggregating the per-module errors.

use std::path::PathBuf;

/// Every error the engine returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An invalid container specification.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// A state record could not be read or written, or a transition is not allowed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// A lifecycle operation failed.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// An image store operation failed (boxed: the error is large).
    #[error(transparent)]
    Image(Box<crate::image::ImageError>),
    /// A volume operation failed (boxed: the error is large).
    #[error(transparent)]
    Volume(Box<crate::volume::VolumeError>),
    /// A network operation failed (boxed: the error is large).
    #[error(transparent)]
    Network(Box<crate::network::NetworkError>),
    /// An I/O error on a named path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted ("read", "create dir", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<crate::image::ImageError> for Error {
    fn from(err: crate::image::ImageError) -> Self {
        Error::Image(Box::new(err))
    }
}

impl From<crate::volume::VolumeError> for Error {
    fn from(err: crate::volume::VolumeError) -> Self {
        Error::Volume(Box::new(err))
    }
}

impl From<crate::network::NetworkError> for Error {
    fn from(err: crate::network::NetworkError) -> Self {
        Error::Network(Box::new(err))
    }
}

/// Result alias using [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
