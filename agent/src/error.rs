//! Errors of the agent's operations and their gRPC status codes.

use tonic::{Code, Status};

/// An error of one agent request; mapped to a gRPC status at the API boundary.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The engine refused or failed the operation.
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// No container matches the reference.
    #[error("no such container: {0}")]
    NotFound(String),
    /// The reference is a prefix of several container ids.
    #[error("multiple containers match {0:?}: use more of the id or the name")]
    Ambiguous(String),
    /// The container name is taken.
    #[error("container name {name:?} is already in use by container {id}")]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The container that has it.
        id: String,
    },
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The agent's own metadata could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AgentError {
    /// The gRPC status code for this error.
    pub fn code(&self) -> Code {
        use engine::RuntimeError as R;
        match self {
            AgentError::NotFound(_) => Code::NotFound,
            AgentError::Ambiguous(_) | AgentError::Invalid(_) => Code::InvalidArgument,
            AgentError::NameInUse { .. } => Code::AlreadyExists,
            AgentError::Io { .. } | AgentError::Internal(_) => Code::Internal,
            AgentError::Engine(e) => match e {
                engine::Error::Spec(_) => Code::InvalidArgument,
                engine::Error::State(engine::state::StateError::Transition { .. }) => {
                    Code::FailedPrecondition
                }
                engine::Error::Runtime(r) => match r {
                    R::InvalidId(_) | R::Unsupported { .. } => Code::InvalidArgument,
                    R::AlreadyExists(_) => Code::AlreadyExists,
                    R::NotFound(_) => Code::NotFound,
                    R::Conflict { .. } => Code::FailedPrecondition,
                    R::Timeout { .. } => Code::DeadlineExceeded,
                    _ => Code::Internal,
                },
                _ => Code::Internal,
            },
        }
    }
}

impl From<AgentError> for Status {
    fn from(err: AgentError) -> Status {
        Status::new(err.code(), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let cases = [
            (AgentError::NotFound("x".into()), Code::NotFound),
            (AgentError::Ambiguous("a".into()), Code::InvalidArgument),
            (
                AgentError::NameInUse {
                    name: "web".into(),
                    id: "abc".into(),
                },
                Code::AlreadyExists,
            ),
            (
                AgentError::Engine(engine::RuntimeError::NotFound("c".into()).into()),
                Code::NotFound,
            ),
            (
                AgentError::Engine(
                    engine::RuntimeError::Conflict {
                        id: "c".into(),
                        state: "running",
                        action: "remove",
                    }
                    .into(),
                ),
                Code::FailedPrecondition,
            ),
        ];
        for (err, code) in cases {
            let status = Status::from(err);
            assert_eq!(status.code(), code, "{}", status.message());
        }
    }
}
