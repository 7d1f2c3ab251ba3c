//! `deploy.update_config` and `deploy.rollback_config` → the knobs of the service's rolling
//! updates and rollbacks; what a key leaves out keeps Docker's default (and Bosun's 5 minute
//! deadline per step).

use compose_spec::model as compose;

use super::error::StackError;
use crate::swarm::{FailureAction, FailureRatio, UpdateConfig, UpdateOrder};

/// The knobs `given` sets over the defaults; `key` names it in errors.
pub(super) fn update_config(
    service: &str,
    key: &'static str,
    given: Option<&compose::UpdateConfig>,
) -> Result<UpdateConfig, StackError> {
    let mut out = UpdateConfig::default();
    let Some(given) = given else {
        return Ok(out);
    };
    if let Some(parallelism) = given.parallelism {
        out.parallelism = parallelism;
    }
    if let Some(delay) = given.delay {
        out.delay = delay.as_std();
    }
    if let Some(monitor) = given.monitor {
        out.monitor = monitor.as_std();
    }
    if let Some(order) = given.order {
        out.order = match order {
            compose::UpdateOrder::StartFirst => UpdateOrder::StartFirst,
            compose::UpdateOrder::StopFirst => UpdateOrder::StopFirst,
        };
    }
    if let Some(action) = given.failure_action {
        out.failure_action = match action {
            compose::UpdateFailureAction::Continue => FailureAction::Continue,
            compose::UpdateFailureAction::Rollback => FailureAction::Rollback,
            compose::UpdateFailureAction::Pause => FailureAction::Pause,
        };
    }
    if let Some(ratio) = given.max_failure_ratio {
        out.max_failure_ratio = FailureRatio::try_from(ratio).map_err(|_| {
            StackError::value(
                service,
                key,
                ratio.to_string(),
                "max_failure_ratio must be between 0 and 1",
            )
        })?;
    }
    Ok(out)
}
