//! `up --wait`: every container of the services running and healthy, or completed
//! successfully, polled through the backend on the caller's clock.

use std::time::Duration;

use thiserror::Error;

use crate::compose::backend::Backend;
use crate::compose::clock::Clock;
use crate::compose::error::BackendError;
use crate::compose::observed::{ContainerState, HealthStatus, ObservedContainer};
use crate::compose::ops::select::service_containers;

/// Where one container stands for `--wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Running (and healthy, when it has a health check), or exited with code 0.
    Ready,
    /// Not yet: its state and health, as `running, starting`.
    Pending(String),
    /// Never will be: why.
    Failed(String),
}

/// Why `up --wait` gave up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WaitError {
    /// A container exited with a non-zero code or became unhealthy.
    #[error("{0}")]
    Failed(String),
    /// The timeout passed with containers not ready.
    #[error("timed out after {}s waiting for {}", .timeout.as_secs(), .pending.join(", "))]
    TimedOut {
        /// The timeout.
        timeout: Duration,
        /// The containers not ready, as `demo-web-1 (running, starting)`.
        pending: Vec<String>,
    },
    /// The backend could not be asked.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Where `container` stands for `--wait`.
pub fn readiness(container: &ObservedContainer) -> Readiness {
    let name = &container.name;
    let status = &container.status;
    let health = status.health.as_ref().map(|h| h.status);
    match (status.state, health) {
        (ContainerState::Exited { code: 0 }, _) => Readiness::Ready,
        (ContainerState::Exited { code }, _) => {
            Readiness::Failed(format!("container {name} exited ({code})"))
        }
        (_, Some(HealthStatus::Unhealthy)) => {
            Readiness::Failed(format!("container {name} is unhealthy"))
        }
        (ContainerState::Running, None | Some(HealthStatus::Healthy)) => Readiness::Ready,
        (state, None) => Readiness::Pending(state.to_string()),
        (state, Some(health)) => Readiness::Pending(format!("{state}, {health}")),
    }
}

/// Polls the service containers (one-offs left out) of `services` (every container of the
/// project when empty) every `poll` until all are [`Readiness::Ready`]; fails at the first
/// that cannot become ready, or once `timeout` has passed on `clock`.
pub fn wait_ready(
    backend: &dyn Backend,
    clock: &dyn Clock,
    project: &str,
    services: &[String],
    timeout: Duration,
    poll: Duration,
) -> Result<(), WaitError> {
    let deadline = clock.now() + timeout;
    loop {
        let observed = backend.observe_containers(project)?;
        let mut pending = Vec::new();
        for container in service_containers(&observed, project, services) {
            match readiness(container) {
                Readiness::Ready => {}
                Readiness::Pending(now) => pending.push(format!("{} ({now})", container.name)),
                Readiness::Failed(why) => return Err(WaitError::Failed(why)),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if clock.now() >= deadline {
            return Err(WaitError::TimedOut { timeout, pending });
        }
        clock.sleep(poll);
    }
}
