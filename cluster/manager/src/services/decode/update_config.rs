//! The update and rollback knobs as the user wrote them (`--update-*`, `--rollback-*`) over
//! the current ones, and the check that a start-first update can work at all.

use orchestrator::swarm::{ServiceSpec, UpdateConfig, UpdateOrder};

use super::{SpecError, duration, invalid};
use crate::services::proto;

/// Which knobs: the flags' names differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knobs {
    /// `--update-*`.
    Update,
    /// `--rollback-*`.
    Rollback,
}

impl Knobs {
    fn flags(self) -> [&'static str; 7] {
        match self {
            Knobs::Update => [
                "--update-parallelism",
                "--update-delay",
                "--update-order",
                "--update-failure-action",
                "--update-monitor",
                "--update-max-failure-ratio",
                "--update-deadline",
            ],
            Knobs::Rollback => [
                "--rollback-parallelism",
                "--rollback-delay",
                "--rollback-order",
                "--rollback-failure-action",
                "--rollback-monitor",
                "--rollback-max-failure-ratio",
                "--rollback-deadline",
            ],
        }
    }
}

/// `base` with the knobs `wire` sets.
pub fn update_config(
    knobs: Knobs,
    wire: Option<&proto::UpdateConfigRequest>,
    base: UpdateConfig,
) -> Result<UpdateConfig, SpecError> {
    let Some(wire) = wire else {
        return Ok(base);
    };
    let [_, delay, order, action, monitor, ratio, deadline] = knobs.flags();
    let mut out = base;
    if let Some(count) = &wire.parallelism {
        out.parallelism = count.value;
    }
    if let Some(value) = duration(delay, &wire.delay)? {
        out.delay = value;
    }
    if !wire.order.is_empty() {
        out.order = wire
            .order
            .parse()
            .map_err(|_| invalid(order, &wire.order, "expected stop-first or start-first"))?;
    }
    if !wire.failure_action.is_empty() {
        out.failure_action = wire.failure_action.parse().map_err(|_| {
            invalid(
                action,
                &wire.failure_action,
                "expected pause, continue or rollback",
            )
        })?;
    }
    if let Some(value) = duration(monitor, &wire.monitor)? {
        out.monitor = value;
    }
    if !wire.max_failure_ratio.is_empty() {
        out.max_failure_ratio = wire.max_failure_ratio.parse().map_err(|_| {
            invalid(
                ratio,
                &wire.max_failure_ratio,
                "expected a number between 0 and 1",
            )
        })?;
    }
    if let Some(value) = duration(deadline, &wire.deadline)? {
        if value.is_zero() {
            return Err(invalid(deadline, &wire.deadline, "must be more than 0s"));
        }
        out.deadline = value;
    }
    Ok(out)
}

/// A start-first update (or rollback) cannot start a task's replacement on a node where the
/// old task holds a host-mode port (moby#36934): refused up front instead of hanging.
pub fn check_start_first(spec: &ServiceSpec) -> Result<(), SpecError> {
    let start_first = spec.update_config.order == UpdateOrder::StartFirst
        || spec.rollback_config.order == UpdateOrder::StartFirst;
    match spec.ports.iter().find_map(|p| p.host_port()) {
        Some((port, _)) if start_first => Err(SpecError::StartFirstHostPort(port)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use orchestrator::swarm::FailureAction;

    #[test]
    fn set_knobs_replace_the_current_ones_and_the_rest_stay() {
        let wire = proto::UpdateConfigRequest {
            parallelism: Some(proto::Count { value: 2 }),
            delay: "10s".into(),
            order: "start-first".into(),
            failure_action: "rollback".into(),
            max_failure_ratio: "0.5".into(),
            deadline: "1m".into(),
            ..Default::default()
        };
        let config = update_config(Knobs::Update, Some(&wire), UpdateConfig::default()).unwrap();
        assert_eq!(config.parallelism, 2);
        assert_eq!(config.delay, Duration::from_secs(10));
        assert_eq!(config.order, UpdateOrder::StartFirst);
        assert_eq!(config.failure_action, FailureAction::Rollback);
        assert_eq!(config.monitor, Duration::from_secs(5));
        assert_eq!(config.deadline, Duration::from_secs(60));
        assert_eq!(config.max_failure_ratio.to_string(), "0.5");
    }

    #[test]
    fn mistakes_name_the_flag() {
        let wire = proto::UpdateConfigRequest {
            order: "random".into(),
            ..Default::default()
        };
        let err = update_config(Knobs::Rollback, Some(&wire), UpdateConfig::default());
        assert_eq!(
            err.unwrap_err().to_string(),
            "invalid --rollback-order \"random\": expected stop-first or start-first"
        );
        let wire = proto::UpdateConfigRequest {
            max_failure_ratio: "2".into(),
            ..Default::default()
        };
        let err = update_config(Knobs::Update, Some(&wire), UpdateConfig::default());
        assert_eq!(
            err.unwrap_err().to_string(),
            "invalid --update-max-failure-ratio \"2\": expected a number between 0 and 1"
        );
    }

    #[test]
    fn start_first_with_a_host_port_is_refused() {
        let mut spec = ServiceSpec {
            image: "nginx".into(),
            ports: vec![super::super::publish("mode=host,target=80,published=8080").unwrap()],
            ..ServiceSpec::default()
        };
        assert!(check_start_first(&spec).is_ok());
        spec.update_config.order = UpdateOrder::StartFirst;
        assert_eq!(
            check_start_first(&spec).unwrap_err().to_string(),
            "start-first updates cannot be used with host-mode published port 8080: the new task could not bind it beside the old one; use stop-first"
        );
    }
}
