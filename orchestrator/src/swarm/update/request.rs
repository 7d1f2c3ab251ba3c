//! What a user (or the failure action) asks of an update: start one, roll back, pause,
//! resume, cancel. Each is a function from the service to the service as it should be stored,
//! or the reason it does not apply.

use thiserror::Error;

use crate::swarm::service::{Service, UpdateState, UpdateStatus};
use crate::swarm::time::Timestamp;

/// A request that does not apply to the service as it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateRequestError {
    /// Rollback without a previous spec.
    #[error("service {0} has no previous spec to roll back to")]
    NoPreviousSpec(String),
    /// Pause without an update or rollback under way.
    #[error("service {0} has no update in progress to pause")]
    NothingToPause(String),
    /// Resume without a paused update or rollback.
    #[error("service {0} has no paused update to resume")]
    NothingToResume(String),
    /// Cancel without an update under way (a rollback is not cancelled).
    #[error("service {0} has no update in progress to cancel")]
    NothingToCancel(String),
}

/// `service` with a new spec version starting an update at `now` (the caller has set the
/// new spec, version and previous spec). A forced update replaces every task of an older
/// version, even one that runs the same spec.
pub fn begin(service: &mut Service, force: bool, now: Timestamp) {
    let mut status = UpdateStatus::new(UpdateState::Updating, now, "update in progress");
    status.force = force;
    service.update_status = Some(status);
}

/// The spec goes back to the previous one (which becomes the previous spec in turn) at a new
/// version, with the update in `state`. The task count stays as it is: scaling is not an
/// update.
fn swap_back(
    service: &Service,
    state: UpdateState,
    message: String,
    now: Timestamp,
) -> Result<Service, UpdateRequestError> {
    let Some(previous) = &service.previous_spec else {
        return Err(UpdateRequestError::NoPreviousSpec(service.name.clone()));
    };
    let mut next = service.clone();
    next.spec = previous.clone();
    next.spec.mode = service.spec.mode;
    next.previous_spec = Some(service.spec.clone());
    next.spec_version += 1;
    next.updated_at = now;
    next.update_status = Some(UpdateStatus::new(state, now, message));
    Ok(next)
}

/// `service rollback`, or the failure action `rollback` with `message` saying why.
pub fn rollback(
    service: &Service,
    message: impl Into<String>,
    now: Timestamp,
) -> Result<Service, UpdateRequestError> {
    swap_back(service, UpdateState::RollbackStarted, message.into(), now)
}

/// `service update --pause`: the update (or rollback) stops where it is.
pub fn pause(service: &Service, now: Timestamp) -> Result<Service, UpdateRequestError> {
    let mut next = service.clone();
    let status = next
        .update_status
        .as_mut()
        .ok_or_else(|| UpdateRequestError::NothingToPause(service.name.clone()))?;
    status.state = match status.state {
        UpdateState::Updating => UpdateState::Paused,
        UpdateState::RollbackStarted => UpdateState::RollbackPaused,
        _ => return Err(UpdateRequestError::NothingToPause(service.name.clone())),
    };
    status.message = format!("paused by request at {}", now.as_millis());
    Ok(next)
}

/// `service update --resume`: a paused update (or rollback) goes on, its failures forgotten.
/// The slots it was replacing keep their step's start (a task that ran meanwhile counts).
pub fn resume(service: &Service) -> Result<Service, UpdateRequestError> {
    let mut next = service.clone();
    let status = next
        .update_status
        .as_mut()
        .ok_or_else(|| UpdateRequestError::NothingToResume(service.name.clone()))?;
    let (state, message) = match status.state {
        UpdateState::Paused => (UpdateState::Updating, "update in progress"),
        UpdateState::RollbackPaused => (UpdateState::RollbackStarted, "rollback in progress"),
        _ => return Err(UpdateRequestError::NothingToResume(service.name.clone())),
    };
    status.state = state;
    status.message = message.to_owned();
    status.progress.failed.clear();
    Ok(next)
}

/// `service update --cancel`: the update stops and the tasks it already replaced go back to
/// the previous spec (with the rollback knobs; failures do not stop that).
pub fn cancel(service: &Service, now: Timestamp) -> Result<Service, UpdateRequestError> {
    let updating = service
        .update_status
        .as_ref()
        .is_some_and(|s| matches!(s.state, UpdateState::Updating | UpdateState::Paused));
    if !updating {
        return Err(UpdateRequestError::NothingToCancel(service.name.clone()));
    }
    swap_back(
        service,
        UpdateState::Cancelled,
        "update cancelled: the updated tasks return to the previous spec".to_owned(),
        now,
    )
}
