//! The error type of the in-container setup, with a helper to attach the thing involved.

/// An error while setting up the container from inside its namespaces.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was attempted, naming the path or object.
        what: String,
        /// The errno.
        source: nix::Error,
    },
    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted, naming the path or object.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The request cannot be satisfied (bad user, unsafe path, ...).
    #[error("{0}")]
    Invalid(String),
    /// A path inside the rootfs could not be resolved or created.
    #[error(transparent)]
    InRoot(#[from] crate::inroot::InRootError),
}

/// Attaches a description to a low-level error.
pub(crate) trait Context<T> {
    /// Maps the error into a [`SetupError`] described by `what()`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, SetupError>;
}

impl<T> Context<T> for Result<T, nix::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, SetupError> {
        self.map_err(|source| SetupError::Sys {
            what: what(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, SetupError> {
        self.map_err(|source| SetupError::Io {
            what: what(),
            source,
        })
    }
}
