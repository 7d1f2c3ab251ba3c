//! The builder's error type.

use std::path::PathBuf;

/// A build error. Errors of a step are wrapped in [`BuildError::At`], which names the
/// Dockerfile line and the instruction.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse.
    #[error(transparent)]
    Parse(#[from] crate::parse::ParseError),
    /// A step failed.
    #[error("Dockerfile line {line}: {instruction}: {source}")]
    At {
        /// The 1-based line of the instruction.
        line: usize,
        /// The instruction (its first line).
        instruction: String,
        /// What went wrong.
        source: Box<BuildError>,
    },
    /// A RUN command exited with a non-zero code.
    #[error("the command exited with code {code}{}", output_suffix(.output))]
    RunFailed {
        /// The exit code (128 + signal number when killed).
        code: i32,
        /// Its output (stdout and stderr, interleaved).
        output: String,
    },
    /// A variable expansion failed.
    #[error(transparent)]
    Lex(#[from] crate::lex::LexError),
    /// The instruction or the options are not valid.
    #[error("{0}")]
    Invalid(String),
    /// Something this builder does not do.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// A file or directory operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] engine::image::ImageError),
    /// The step did not run because another stage of the build failed.
    #[error("cancelled: another stage failed")]
    Cancelled,
    /// The container engine failed.
    #[error(transparent)]
    Engine(#[from] engine::Error),
}

fn output_suffix(output: &str) -> String {
    if output.trim().is_empty() {
        String::new()
    } else {
        format!(":\n{}", output.trim_end())
    }
}

impl BuildError {
    /// An I/O error constructor for `map_err`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }

    /// This error, attributed to the instruction at `line`.
    pub fn at(self, line: usize, instruction: &str) -> Self {
        if matches!(self, Self::At { .. }) {
            return self;
        }
        Self::At {
            line,
            instruction: instruction
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
            source: Box::new(self),
        }
    }

    /// The innermost error (what a step failed with).
    pub fn cause(&self) -> &BuildError {
        match self {
            Self::At { source, .. } => source.cause(),
            other => other,
        }
    }
}

/// The builder's result type.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;
