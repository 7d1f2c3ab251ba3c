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

/// Result alias using [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
