//! The actor of one task: runs the task's [state machine](crate::tasks::machine) against the
//! agent — makes each call the machine asks for, feeds the outcome back, and reports every
//! state change. Orders (a new desired state, or unassignment) come through a watch channel;
//! a pull or a wait in progress gives way to them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::dispatcher::{Assignment, StatusReport};
use crate::tasks::engine::{EngineError, Health, TaskEngine};
use crate::tasks::machine::{Effect, Found, Input, Phase, Report, step};
use crate::tasks::translate::{container_name, create_request};
use orchestrator::swarm::{DesiredState, NodeId, TaskStatus, Timestamp};

/// Wait before an agent call that could not reach the agent is made again.
const RETRY: Duration = Duration::from_secs(1);
/// Time between two looks at a container's health.
const HEALTH_POLL: Duration = Duration::from_millis(500);

/// What the runner wants of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Order {
    /// Run it as assigned (its desired state says whether to run or stop).
    Assigned(Box<Assignment>),
    /// It is no longer this node's: remove its container and end.
    Unassigned,
    /// The node has heard from no manager past the service's `--stop-on-disconnect`: stop
    /// it and report it failed with this error.
    CutOff(String),
}

/// The orders the actor has already acted on (each means something once).
#[derive(Debug, Default)]
struct Told {
    shutdown: bool,
    unassigned: bool,
    cut_off: bool,
}

/// The inputs an order change means, given what the actor was already told.
fn order_input(order: &Order, told: &mut Told) -> Option<Input> {
    match order {
        Order::Unassigned if !told.unassigned => {
            told.unassigned = true;
            Some(Input::Unassigned)
        }
        Order::Assigned(a) if a.desired_state == DesiredState::Shutdown && !told.shutdown => {
            told.shutdown = true;
            Some(Input::Shutdown)
        }
        Order::CutOff(reason) if !told.cut_off => {
            told.cut_off = true;
            Some(Input::CutOff(reason.clone()))
        }
        _ => None,
    }
}

fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Timestamp::from_millis(millis)
}

/// Makes `effect` on the agent; the input its outcome means. Calls that failed because the
/// agent was unreachable are made again until it answers.
async fn perform<E: TaskEngine>(
    engine: &E,
    effect: &Effect,
    assignment: &Assignment,
    node: &NodeId,
) -> Input {
    loop {
        let outcome = match effect {
            Effect::Pull => match engine
                .ensure_image(&assignment.spec.image, assignment.registry_auth.as_ref())
                .await
            {
                Ok(()) => Ok(Input::Pulled),
                Err(EngineError::Unreachable(e)) => Err(e),
                Err(err) => Ok(Input::PullFailed(err.to_string())),
            },
            Effect::Create => {
                let request = match create_request(assignment, node) {
                    Ok(request) => request,
                    Err(err) => return Input::CreateFailed(err.to_string()),
                };
                match engine.create(request).await {
                    Ok(id) => Ok(Input::Created(id)),
                    Err(EngineError::Unreachable(e)) => Err(e),
                    // A create whose answer was lost made the container already.
                    Err(err) => match engine.find(&container_name(assignment)).await {
                        Ok(Some(id)) => Ok(Input::Created(id)),
                        _ => Ok(Input::CreateFailed(err.to_string())),
                    },
                }
            }
            Effect::Start(id) => match engine.start(id).await {
                Ok(()) => Ok(Input::Started),
                Err(EngineError::Unreachable(e)) => Err(e),
                Err(EngineError::NotFound(_)) => Ok(Input::Lost),
                Err(err) => Ok(Input::StartFailed(err.to_string())),
            },
            Effect::AwaitHealthy(id) => tokio::select! {
                waited = engine.wait(id) => exited(waited),
                health = watch_health(engine, id, true) => health,
            },
            Effect::Wait(id) => tokio::select! {
                waited = engine.wait(id) => exited(waited),
                health = watch_health(engine, id, false) => health,
            },
            Effect::Stop(id) => match engine.stop(id).await {
                Ok(()) => Ok(Input::Stopped),
                Err(EngineError::NotFound(_)) => Ok(Input::Lost),
                Err(err) => Err(err.to_string()),
            },
            Effect::Remove(id) => match engine.remove(id).await {
                Ok(()) | Err(EngineError::NotFound(_)) => Ok(Input::Removed),
                Err(err) => Err(err.to_string()),
            },
        };
        match outcome {
            Ok(input) => return input,
            Err(cause) => {
                tracing::warn!(task = %assignment.task_id, ?effect, %cause, "agent call failed; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// The input a container's wait means.
fn exited(waited: Result<i32, EngineError>) -> Result<Input, String> {
    match waited {
        Ok(code) => Ok(Input::Exited(code)),
        Err(EngineError::NotFound(_)) => Ok(Input::Lost),
        Err(err) => Err(err.to_string()),
    }
}

/// Watches container `id`'s healthcheck: while `starting`, until it passes (at once without
/// one) or fails; afterwards, until it fails (never without one).
async fn watch_health<E: TaskEngine>(
    engine: &E,
    id: &str,
    starting: bool,
) -> Result<Input, String> {
    loop {
        match engine.health(id).await {
            Ok(Health::None) if starting => return Ok(Input::Healthy),
            Ok(Health::None) => std::future::pending::<()>().await,
            Ok(Health::Healthy) if starting => return Ok(Input::Healthy),
            Ok(Health::Unhealthy) => return Ok(Input::Unhealthy),
            Ok(Health::Starting | Health::Healthy) => {}
            Err(EngineError::NotFound(_)) => return Ok(Input::Lost),
            Err(err) => return Err(err.to_string()),
        }
        tokio::time::sleep(HEALTH_POLL).await;
    }
}

/// Runs one task until it is unassigned and its container is gone. `found` is the container
/// the node already had for it (after a restart of the node daemon).
pub(crate) async fn run<E: TaskEngine>(
    engine: Arc<E>,
    node: NodeId,
    found: Option<Found>,
    mut orders: watch::Receiver<Order>,
    reports: mpsc::UnboundedSender<StatusReport>,
) {
    let Order::Assigned(first) = orders.borrow_and_update().clone() else {
        return;
    };
    let mut assignment = *first;
    let mut told = Told {
        shutdown: assignment.desired_state == DesiredState::Shutdown,
        ..Told::default()
    };
    let mut phase = Phase::New;
    let mut input = Input::Begin {
        found,
        finished: assignment.finished,
        shutdown: told.shutdown,
    };
    loop {
        let next = step(phase, input);
        phase = next.phase;
        if let Some(report) = next.report
            && !told.unassigned
        {
            send(&reports, &assignment, report);
        }
        input = match next.effect {
            // A pull or a wait may take long: a new order interrupts it.
            Some(effect @ (Effect::Pull | Effect::AwaitHealthy(_) | Effect::Wait(_))) => {
                tokio::select! {
                    input = perform(engine.as_ref(), &effect, &assignment, &node) => input,
                    order = next_order(&mut orders, &mut told) => match order {
                        Some(input) => input,
                        None => return,
                    },
                }
            }
            Some(effect) => perform(engine.as_ref(), &effect, &assignment, &node).await,
            None if told.unassigned && crate::tasks::machine::container(&phase).is_none() => {
                return;
            }
            None => match next_order(&mut orders, &mut told).await {
                Some(input) => input,
                None => return,
            },
        };
        if let Order::Assigned(latest) = &*orders.borrow() {
            assignment = (**latest).clone();
        }
    }
}

/// Waits for an order that means something to the machine; `None` when the runner is gone.
async fn next_order(orders: &mut watch::Receiver<Order>, told: &mut Told) -> Option<Input> {
    loop {
        orders.changed().await.ok()?;
        let order = orders.borrow_and_update().clone();
        if let Some(input) = order_input(&order, told) {
            return Some(input);
        }
    }
}

fn send(reports: &mpsc::UnboundedSender<StatusReport>, assignment: &Assignment, report: Report) {
    tracing::info!(task = %assignment.task_id, state = %report.state, error = ?report.error, "task state");
    let _ = reports.send(StatusReport {
        task_id: assignment.task_id.clone(),
        status: TaskStatus {
            state: report.state,
            message: report.message,
            error: report.error,
            timestamp: now(),
            exit_code: report.exit_code,
        },
    });
}
