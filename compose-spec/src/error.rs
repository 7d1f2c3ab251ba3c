//! The crate's one public error type.
//!
//! Every problem a user can cause becomes a [`Diagnostic`]: one line naming the file, the line and
//! column where the YAML has them, the key path (`services.web.ports[0]`) and what was expected.

use std::fmt;
use std::path::PathBuf;

use crate::path::KeyPath;
use crate::yaml::Mark;

/// The class of a [`Diagnostic`], so callers and tests can tell errors apart without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The YAML could not be parsed.
    Syntax,
    /// A mapping repeats a key.
    DuplicateKey,
    /// Alias expansion exceeded the node budget (an alias bomb).
    AliasLimit,
    /// The document does not match the compose JSON schema.
    Schema,
    /// A variable reference is malformed, or a required variable is missing.
    Interpolation,
    /// A `.env` or `env_file` could not be parsed.
    EnvFile,
    /// A service refers to a network, volume, secret, config or service that is not defined.
    UndefinedReference,
    /// A dependency cycle (depends_on, extends or include).
    Cycle,
    /// Two options that cannot be combined.
    Conflict,
    /// A value has the right type but invalid contents (port, volume, duration, size syntax …).
    InvalidValue,
    /// A compose file or env file could not be read, or a project name is invalid.
    Discovery,
    /// No compose file was given and none of the default names exists in the working directory
    /// or its parents: a command that only needs the project's name may go on without one.
    NoConfigFile,
}

/// One user-facing problem, located as precisely as the input allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What class of problem this is.
    pub kind: ErrorKind,
    /// Where in which file, when known.
    pub mark: Option<Mark>,
    /// The key path of the offending value, when known (`services.web.ports[0]`).
    pub path: KeyPath,
    /// What is wrong and what was expected, lower-case, no trailing period.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic with a location and a key path.
    pub fn new(
        kind: ErrorKind,
        mark: Option<Mark>,
        path: KeyPath,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            mark,
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, self.mark.as_ref(), &self.path, &self.message)
    }
}

/// `file:line:col: key.path: message`, leaving out the parts that are unknown.
fn write_located(
    f: &mut fmt::Formatter<'_>,
    mark: Option<&Mark>,
    path: &KeyPath,
    message: &str,
) -> fmt::Result {
    if let Some(mark) = mark {
        write!(f, "{mark}: ")?;
    }
    if !path.is_empty() {
        write!(f, "{path}: ")?;
    }
    f.write_str(message)
}

/// Errors of the compose loader.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {}", path.display(), describe_io(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is invalid.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl Error {
    /// Shorthand for an [`Error::Invalid`].
    pub fn invalid(
        kind: ErrorKind,
        mark: Option<Mark>,
        path: KeyPath,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid(Box::new(Diagnostic::new(kind, mark, path, message)))
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// This error placed where the file it failed to read was named: an [`Error::Io`] becomes
    /// `cannot read {what} {file}: {problem}` of `kind` at `mark` and `path` (the key naming the
    /// file, or none for a file named on the command line); other errors are returned as they
    /// are, since they carry their own location.
    pub fn reading(self, kind: ErrorKind, what: &str, mark: Option<Mark>, path: KeyPath) -> Self {
        match self {
            Error::Io { path: file, source } => Error::invalid(
                kind,
                mark,
                path,
                format!(
                    "cannot read {what} {}: {}",
                    file.display(),
                    describe_io(&source)
                ),
            ),
            other => other,
        }
    }

    /// The diagnostic, if this is a user input error.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            Error::Invalid(d) => Some(d),
            Error::Io { .. } => None,
        }
    }

    /// The error class; I/O errors count as [`ErrorKind::Discovery`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(d) => d.kind,
            Error::Io { .. } => ErrorKind::Discovery,
        }
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::Invalid(Box::new(d))
    }
}

/// An I/O error in the crate's wording: lower-case, without the OS error number.
pub(crate) fn describe_io(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory, not a file".to_string(),
        _ => {
            let text = err.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem that does not stop loading (an unset variable, a deprecated key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where in which file, when known.
    pub mark: Option<Mark>,
    /// The key path of the value concerned.
    pub path: KeyPath,
    /// What the user should know, lower-case, no trailing period.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, self.mark.as_ref(), &self.path, &self.message)
    }
}
