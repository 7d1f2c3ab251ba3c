//! Waiting for a `depends_on` condition: polls the dependency's containers through the backend
//! until they meet it, fail it for good, or the timeout passes, on the caller's clock.

use std::time::Duration;

use compose_spec::model::DependsOnCondition;

use crate::compose::action::{AwaitSpec, condition_text};
use crate::compose::backend::Backend;
use crate::compose::clock::Clock;
use crate::compose::observed::{ContainerState, ContainerStatus, HealthStatus};

/// Where one container stands against a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Met,
    /// Not yet; what it is doing now.
    Pending(String),
    /// Never will be; why.
    Failed(String),
}

fn judge(container: &str, condition: DependsOnCondition, status: &ContainerStatus) -> Verdict {
    use ContainerState::{Created, Exited};
    match condition {
        DependsOnCondition::ServiceStarted => match status.state {
            Created => Verdict::Pending(format!("container {container} is created")),
            _ => Verdict::Met,
        },
        DependsOnCondition::ServiceHealthy => match (&status.health, status.state) {
            (_, Exited { code }) => {
                Verdict::Failed(format!("container {container} exited ({code})"))
            }
            (None, _) => Verdict::Failed(format!("container {container} has no healthcheck")),
            (Some(h), _) if h.status == HealthStatus::Healthy => Verdict::Met,
            (Some(h), _) if h.status == HealthStatus::Unhealthy => Verdict::Failed(format!(
                "container {container} is unhealthy{}",
                last_output(&h.last_output)
            )),
            (Some(h), _) => Verdict::Pending(format!(
                "container {container} is {}{}",
                h.status,
                last_output(&h.last_output)
            )),
        },
        DependsOnCondition::ServiceCompletedSuccessfully => match status.state {
            Exited { code: 0 } => Verdict::Met,
            Exited { code } => Verdict::Failed(format!("container {container} exited ({code})")),
            state => Verdict::Pending(format!("container {container} is {state}")),
        },
    }
}

fn last_output(output: &str) -> String {
    let output = output.trim();
    if output.is_empty() {
        String::new()
    } else {
        format!(", last health check output: {output}")
    }
}

/// Waits for the condition. `Ok(None)` when met, `Ok(Some(warning))` when an optional
/// dependency failed, `Err` naming the dependency (and the last health output) otherwise.
pub fn await_dependency(
    spec: &AwaitSpec,
    backend: &dyn Backend,
    timeout: Duration,
    poll: Duration,
    clock: &dyn Clock,
) -> Result<Option<String>, String> {
    let deadline = clock.now() + timeout;
    let failure = loop {
        let mut pending = None;
        let mut failed = None;
        for container in &spec.containers {
            let status = match backend.container_status(container) {
                Ok(status) => status,
                Err(e) => {
                    failed = Some(format!("container {container}: {e}"));
                    break;
                }
            };
            match judge(container, spec.condition, &status) {
                Verdict::Met => {}
                Verdict::Pending(now) => {
                    pending.get_or_insert(now);
                }
                Verdict::Failed(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = failed {
            break format!(
                "dependency {} failed {}: {why}",
                spec.dependency,
                condition_text(spec.condition)
            );
        }
        let Some(now) = pending else {
            return Ok(None);
        };
        if clock.now() >= deadline {
            break format!(
                "timed out after {:?} waiting for dependency {} {}: {now}",
                timeout,
                spec.dependency,
                condition_text(spec.condition)
            );
        }
        clock.sleep(poll.min(deadline.saturating_duration_since(clock.now())));
    };
    if spec.required {
        Err(failure)
    } else {
        Ok(Some(format!(
            "{failure} (optional dependency of {})",
            spec.dependent
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::observed::Health;

    fn health(status: HealthStatus, output: &str) -> ContainerStatus {
        ContainerStatus {
            state: ContainerState::Running,
            health: Some(Health {
                status,
                last_output: output.into(),
            }),
        }
    }

    #[test]
    fn verdicts() {
        use DependsOnCondition::*;
        let running = ContainerStatus::new(ContainerState::Running);
        let exited = |code| ContainerStatus::new(ContainerState::Exited { code });
        let cases = [
            (ServiceStarted, running.clone(), Verdict::Met),
            (
                ServiceStarted,
                ContainerStatus::new(ContainerState::Created),
                Verdict::Pending("container c is created".into()),
            ),
            (
                ServiceHealthy,
                health(HealthStatus::Healthy, ""),
                Verdict::Met,
            ),
            (
                ServiceHealthy,
                health(HealthStatus::Starting, "connection refused\n"),
                Verdict::Pending(
                    "container c is starting, last health check output: connection refused".into(),
                ),
            ),
            (
                ServiceHealthy,
                health(HealthStatus::Unhealthy, "no"),
                Verdict::Failed("container c is unhealthy, last health check output: no".into()),
            ),
            (
                ServiceHealthy,
                running.clone(),
                Verdict::Failed("container c has no healthcheck".into()),
            ),
            (ServiceCompletedSuccessfully, exited(0), Verdict::Met),
            (
                ServiceCompletedSuccessfully,
                exited(3),
                Verdict::Failed("container c exited (3)".into()),
            ),
            (
                ServiceCompletedSuccessfully,
                running,
                Verdict::Pending("container c is running".into()),
            ),
        ];
        for (condition, status, want) in cases {
            assert_eq!(
                judge("c", condition, &status),
                want,
                "{condition} {status:?}"
            );
        }
    }
}
