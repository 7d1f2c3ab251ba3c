//! The executor: runs a plan's DAG against a [`Backend`] with all the parallelism the graph
//! allows (bounded by `parallelism`), streaming [`Progress`] events. A failed step stops every
//! step that waits for it, directly or not; independent steps carry on.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use petgraph::Direction;
use petgraph::visit::Dfs;

use crate::compose::action::Action;
use crate::compose::backend::Backend;
use crate::compose::clock::{Clock, SystemClock};
use crate::compose::conditions::await_dependency;
use crate::compose::error::{ActionFailure, ExecuteError};
use crate::compose::plan::{Plan, StepId};
use crate::compose::progress::{Progress, ProgressEvent};

/// How to run a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteOptions {
    /// The most steps running at once; 0 for no limit (`--parallel`).
    pub parallelism: usize,
    /// How long a `depends_on` condition may take.
    pub wait_timeout: Duration,
    /// How often a condition is checked.
    pub poll_interval: Duration,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        Self {
            parallelism: 0,
            wait_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// What a completed execution has to say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Steps done.
    pub done: usize,
    /// Warnings (optional dependencies that failed).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// Runs `plan` against `backend` on the real clock; `events` hears about every step as it
/// starts and ends.
pub fn execute(
    plan: &Plan,
    backend: &dyn Backend,
    options: &ExecuteOptions,
    events: impl FnMut(Progress),
) -> Result<Report, ExecuteError> {
    execute_with_clock(plan, backend, options, &SystemClock, events)
}

/// [`execute`] with the clock the waits (`depends_on` conditions) read and sleep on.
pub fn execute_with_clock(
    plan: &Plan,
    backend: &dyn Backend,
    options: &ExecuteOptions,
    clock: &dyn Clock,
    mut events: impl FnMut(Progress),
) -> Result<Report, ExecuteError> {
    let graph = plan.graph();
    let mut states = vec![State::Waiting; plan.len()];
    let mut remaining: Vec<usize> = plan
        .ids()
        .map(|id| graph.edges_directed(id, Direction::Incoming).count())
        .collect();
    let mut ready: VecDeque<StepId> = plan.ids().filter(|id| remaining[id.index()] == 0).collect();
    let limit = if options.parallelism == 0 {
        usize::MAX
    } else {
        options.parallelism
    };
    let mut report = Report::default();
    let mut failures = Vec::new();
    let mut skipped = 0;
    let (sender, receiver) = mpsc::channel::<(StepId, Result<Option<String>, String>)>();
    let progress = |id: StepId, event: ProgressEvent| {
        let action = &plan.step(id).action;
        Progress {
            step: id,
            action: action.to_string(),
            target: action.target().to_string(),
            event,
        }
    };
    thread::scope(|scope| {
        let mut running = 0;
        loop {
            while running < limit {
                let Some(id) = ready.pop_front() else { break };
                states[id.index()] = State::Running;
                events(progress(id, ProgressEvent::Started));
                let sender = sender.clone();
                scope.spawn(move || {
                    let action = &plan.step(id).action;
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| run(action, backend, options, clock)))
                            .unwrap_or_else(|_| Err("the backend panicked".to_string()));
                    // The receiver lives until every worker is done.
                    let _ = sender.send((id, outcome));
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok((id, outcome)) = receiver.recv() else {
                break;
            };
            running -= 1;
            match outcome {
                Ok(warning) => {
                    states[id.index()] = State::Done;
                    report.done += 1;
                    let event = match warning {
                        Some(warning) => {
                            report.warnings.push(warning.clone());
                            ProgressEvent::Warning(warning)
                        }
                        None => ProgressEvent::Done,
                    };
                    events(progress(id, event));
                    for next in plan.dependants(id) {
                        remaining[next.index()] -= 1;
                        if remaining[next.index()] == 0 && states[next.index()] == State::Waiting {
                            ready.push_back(next);
                        }
                    }
                }
                Err(message) => {
                    states[id.index()] = State::Failed;
                    let action = &plan.step(id).action;
                    failures.push(ActionFailure {
                        action: action.to_string(),
                        target: action.target().to_string(),
                        message: message.clone(),
                    });
                    events(progress(id, ProgressEvent::Failed(message)));
                    let mut dfs = Dfs::new(graph, id);
                    while let Some(next) = dfs.next(graph) {
                        if states[next.index()] == State::Waiting {
                            states[next.index()] = State::Skipped;
                            skipped += 1;
                            events(progress(next, ProgressEvent::Skipped));
                        }
                    }
                }
            }
        }
    });
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(ExecuteError::Failed { failures, skipped })
    }
}

/// Runs one action: `Ok(Some(warning))` when it succeeded with a warning.
fn run(
    action: &Action,
    backend: &dyn Backend,
    options: &ExecuteOptions,
    clock: &dyn Clock,
) -> Result<Option<String>, String> {
    let done = match action {
        Action::CreateNetwork(spec) => backend.create_network(spec),
        Action::RemoveNetwork { name } => backend.remove_network(name),
        Action::CreateVolume(spec) => backend.create_volume(spec),
        Action::RemoveVolume { name } => backend.remove_volume(name),
        Action::PullImage { image } => backend.pull_image(image).map(drop),
        Action::BuildImage(spec) => backend.build_image(spec),
        Action::CreateContainer(spec) => backend.create_container(spec),
        Action::StartContainer { name } => backend.start_container(name),
        Action::StopContainer { name, timeout } => backend.stop_container(name, Some(*timeout)),
        Action::RemoveContainer {
            name,
            anonymous_volumes,
        } => backend.remove_container(name, *anonymous_volumes),
        Action::RenameContainer { from, to } => backend.rename_container(from, to),
        Action::RunPreStart(spec) => backend.run_pre_start(spec),
        Action::AwaitDependency(spec) => {
            return await_dependency(
                spec,
                backend,
                options.wait_timeout,
                options.poll_interval,
                clock,
            );
        }
    };
    done.map(|()| None).map_err(|e| e.to_string())
}
