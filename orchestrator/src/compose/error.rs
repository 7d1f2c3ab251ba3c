//! Errors of planning and execution.

use thiserror::Error;

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// `depends_on` forms a cycle.
    #[error("dependency cycle through service {service}")]
    DependencyCycle {
        /// A service on the cycle.
        service: String,
    },
    /// A service named on the command line is not in the project.
    #[error("no such service: {service}")]
    NoSuchService {
        /// The name given.
        service: String,
    },
    /// `container_name` with more than one container.
    #[error(
        "service {service} has container_name {container_name} and cannot be scaled to {scale} containers"
    )]
    ContainerNameScaled {
        /// The service.
        service: String,
        /// Its container name.
        container_name: String,
        /// The scale asked for.
        scale: u64,
    },
    /// Two services brought up together ask for the same `container_name`.
    #[error(
        "container name \"{container_name}\" is already in use by service \"{other}\": service \"{service}\" cannot have it too"
    )]
    ContainerNameConflict {
        /// The service asking second (in name order).
        service: String,
        /// The service asking first.
        other: String,
        /// The name both ask for.
        container_name: String,
    },
    /// More containers than a service may have on one host
    /// ([`compose_spec::validate::MAX_SCALE`]).
    #[error(
        "service {service} cannot be scaled to {scale} containers: a service may have at most {max} on one host"
    )]
    ScaleTooLarge {
        /// The service.
        service: String,
        /// The scale asked for.
        scale: u64,
        /// The limit.
        max: u64,
    },
    /// A service's `secrets:` or `configs:` cannot be mounted (undefined, external, unset
    /// variable, bad owner id).
    #[error("service {service}: {message}")]
    ServiceFile {
        /// The service.
        service: String,
        /// What is wrong, naming the secret or config.
        message: String,
    },
    /// An external network does not exist.
    #[error("network {name} declared as external, but could not be found")]
    ExternalNetworkMissing {
        /// The network's engine name.
        name: String,
    },
    /// An external volume does not exist.
    #[error("volume {name} declared as external, but could not be found")]
    ExternalVolumeMissing {
        /// The volume's engine name.
        name: String,
    },
    /// A project volume's definition changed and nobody said it may be recreated.
    #[error(
        "volume {name} exists but does not match its definition in the compose file: recreating \
         it loses its data; run up with -y to recreate it"
    )]
    VolumeDiverged {
        /// The volume's engine name.
        name: String,
    },
    /// A network or volume to be replaced is used by a container this plan does not remove.
    #[error(
        "{kind} {name} changed and must be recreated, but container {container} uses it and is \
         not part of this up: bring up the whole project or remove that container"
    )]
    ReplacedResourceInUse {
        /// `network` or `volume`.
        kind: &'static str,
        /// The engine name.
        name: String,
        /// A container using it.
        container: String,
    },
    /// `--no-deps` leaves out a service whose container another one shares (`network_mode`,
    /// `ipc`, `volumes_from`), and that container does not exist.
    #[error("service {service}: cannot share {what} with service {donor}: container missing")]
    DonorMissing {
        /// The service sharing.
        service: String,
        /// What it shares (`network namespace`, `IPC namespace`, `volume`).
        what: &'static str,
        /// The service whose container it shares.
        donor: String,
    },
    /// The image is missing and may not be pulled.
    #[error("image {image} of service {service} is not present locally and {why}")]
    ImageUnavailable {
        /// The service.
        service: String,
        /// The image reference.
        image: String,
        /// Why it cannot be pulled (`pull_policy is never`, `must be built`).
        why: String,
    },
    /// A service's `build:` cannot be planned.
    #[error("service {service}: {message}")]
    Build {
        /// The service.
        service: String,
        /// What is wrong.
        message: String,
    },
    /// A config hash could not be computed.
    #[error("cannot compute the config hash of service {service}")]
    Hash {
        /// The service.
        service: String,
    },
}

/// What kind of failure a backend call met, from the backend's own error codes (never from
/// its message's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendErrorKind {
    /// The object named does not exist.
    NotFound,
    /// The object exists already, or is in a state that does not allow the call.
    Conflict,
    /// The request was refused as invalid.
    Invalid,
    /// The backend could not be reached or is not ready.
    Unavailable,
    /// Any other failure.
    Other,
}

/// A failed backend call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct BackendError {
    /// What kind of failure it was.
    pub kind: BackendErrorKind,
    /// What went wrong, one line.
    pub message: String,
}

impl BackendError {
    /// An error of `kind` with this message.
    pub fn new(kind: BackendErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An error of no particular kind with this message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(BackendErrorKind::Other, message)
    }
}

/// One action that failed during execution.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{action}: {message}")]
pub struct ActionFailure {
    /// The action, as the plan shows it (`start container demo-web-1`).
    pub action: String,
    /// The object it is about (container name, network, dependency service).
    pub target: String,
    /// What went wrong.
    pub message: String,
}

/// Why an execution did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExecuteError {
    /// Some actions failed; the actions waiting for them were not run.
    #[error("{}", summary(.failures, *.skipped))]
    Failed {
        /// The failed actions, in the order they failed.
        failures: Vec<ActionFailure>,
        /// How many actions were not run because something they wait for failed.
        skipped: usize,
    },
}

fn summary(failures: &[ActionFailure], skipped: usize) -> String {
    let mut text = failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if skipped > 0 {
        text.push_str(&format!(
            " ({skipped} dependent action{} not run)",
            if skipped == 1 { "" } else { "s" }
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_one_line() {
        let err = ExecuteError::Failed {
            failures: vec![ActionFailure {
                action: "start container demo-db-1".into(),
                target: "demo-db-1".into(),
                message: "port 5432 is already in use".into(),
            }],
            skipped: 2,
        };
        assert_eq!(
            err.to_string(),
            "start container demo-db-1: port 5432 is already in use (2 dependent actions not run)"
        );
    }
}
