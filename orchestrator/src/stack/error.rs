//! What stops a compose project from becoming a stack.

/// A compose service that cannot become a cluster service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// The stack name is not usable as a service name prefix.
    #[error(
        "invalid stack name {0:?}: use letters, digits, '_', '.' or '-', starting with a letter or digit"
    )]
    Name(String),
    /// The project has no service to deploy.
    #[error("the compose file defines no service to deploy")]
    NoServices,
    /// A service without an image (a cluster cannot build).
    #[error("service {0}: an image is required (stack deploy does not build images)")]
    NoImage(String),
    /// A value the cluster cannot take.
    #[error("service {service}: invalid {key} {value:?}: {why}")]
    Value {
        /// The compose service.
        service: String,
        /// The compose key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What is wrong or expected.
        why: String,
    },
    /// `replicas` with a mode that has no replicas.
    #[error(
        "service {service}: replicas can only be used with replicated or replicated-job mode, not {mode}"
    )]
    ReplicasWithoutSlots {
        /// The compose service.
        service: String,
        /// The mode given.
        mode: &'static str,
    },
    /// A service joins a network the file does not define.
    #[error("service {service}: network {network} is not defined under the top-level networks")]
    UnknownNetwork {
        /// The compose service.
        service: String,
        /// The network's key.
        network: String,
    },
    /// The services' `depends_on` cannot be ordered.
    #[error("{0}")]
    Dependencies(String),
}

impl StackError {
    pub(super) fn value(
        service: &str,
        key: &'static str,
        value: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        StackError::Value {
            service: service.to_owned(),
            key,
            value: value.into(),
            why: why.into(),
        }
    }
}
