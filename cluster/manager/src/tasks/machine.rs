//! One task's life on its node, as a pure state machine: [`step`] takes the phase and what
//! happened ([`Input`]) and returns the next phase, the status to report (if it changed) and
//! the one call to make on the agent next ([`Effect`]). The actor that runs it
//! (`tasks::actor`) makes the calls and feeds their outcomes back.

use orchestrator::swarm::TaskState;

/// Where the task is on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Nothing done yet.
    New,
    /// The image is being pulled.
    Pulling,
    /// The container is being created.
    Creating,
    /// The container exists and is being started.
    Starting(String),
    /// The container started; the task waits for its healthcheck to pass (a container
    /// without one passes at once) before it counts as running.
    Checking(String),
    /// The container became unhealthy: the task failed and its container is stopped.
    Failing(String),
    /// The container runs; the actor waits for it to exit.
    Running(String),
    /// The managers want it stopped: stopping the container.
    Stopping(String),
    /// No manager reachable past the service's `--stop-on-disconnect`: stopping the
    /// container, to report the task failed with `reason`.
    StoppingCutOff {
        /// The container.
        id: String,
        /// The error to report.
        reason: String,
    },
    /// Removing the container (after a shutdown, or because the task is no longer assigned).
    Removing(String),
    /// Nothing more to do; the container, if any, is kept as history.
    Done(Option<String>),
}

/// A container of the task the node already has (found by its task label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Created, never started.
    Created(String),
    /// Running.
    Running(String),
    /// Exited with this code.
    Exited(String, i32),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The task arrived (after a restart, with the container found for it).
    Begin {
        /// Its container, when one exists.
        found: Option<Found>,
        /// The store already holds a terminal state for it.
        finished: bool,
        /// The managers already want it shut down.
        shutdown: bool,
    },
    /// The image is there.
    Pulled,
    /// The pull failed.
    PullFailed(String),
    /// The container was created.
    Created(String),
    /// Creating failed.
    CreateFailed(String),
    /// The container started.
    Started,
    /// Its healthcheck passes (or it has none).
    Healthy,
    /// Its healthcheck fails.
    Unhealthy,
    /// Starting failed.
    StartFailed(String),
    /// The container exited with this code.
    Exited(i32),
    /// The container is gone while the task ran (removed behind the node's back).
    Lost,
    /// The managers want it shut down.
    Shutdown,
    /// The container stopped.
    Stopped,
    /// The container was removed.
    Removed,
    /// The task is no longer assigned to this node: remove its container.
    Unassigned,
    /// The node has heard from no manager for longer than the service's
    /// `--stop-on-disconnect`: stop the task and report it failed with this error.
    CutOff(String),
}

/// The one agent call to make next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Pull the image if it is missing.
    Pull,
    /// Create the container.
    Create,
    /// Start it.
    Start(String),
    /// Wait for its healthcheck to pass (or for it to exit).
    AwaitHealthy(String),
    /// Wait for it to exit (or to become unhealthy).
    Wait(String),
    /// Stop it with its grace period.
    Stop(String),
    /// Remove it.
    Remove(String),
}

/// A status to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The state.
    pub state: TaskState,
    /// A short message.
    pub message: String,
    /// The error, for failed and rejected tasks.
    pub error: Option<String>,
    /// The exit code, once the container exited.
    pub exit_code: Option<i32>,
}

impl Report {
    fn new(state: TaskState, message: &str) -> Self {
        Report {
            state,
            message: message.to_owned(),
            error: None,
            exit_code: None,
        }
    }

    fn error(state: TaskState, message: &str, error: String) -> Self {
        Report {
            error: Some(error),
            ..Report::new(state, message)
        }
    }

    fn exited(code: i32) -> Self {
        if code == 0 {
            Report {
                exit_code: Some(0),
                ..Report::new(TaskState::Complete, "finished")
            }
        } else {
            Report {
                exit_code: Some(code),
                ..Report::error(
                    TaskState::Failed,
                    "exited",
                    format!("task: non-zero exit ({code})"),
                )
            }
        }
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The next phase.
    pub phase: Phase,
    /// What to report, if the state changed.
    pub report: Option<Report>,
    /// What to do next; none means wait for the next input.
    pub effect: Option<Effect>,
}

fn to(phase: Phase, report: Option<Report>, effect: Option<Effect>) -> Step {
    Step {
        phase,
        report,
        effect,
    }
}

/// The container the task has in `phase`, if any.
pub fn container(phase: &Phase) -> Option<&str> {
    match phase {
        Phase::Starting(id)
        | Phase::Checking(id)
        | Phase::Failing(id)
        | Phase::Running(id)
        | Phase::Stopping(id)
        | Phase::StoppingCutOff { id, .. }
        | Phase::Removing(id)
        | Phase::Done(Some(id)) => Some(id),
        _ => None,
    }
}

/// The next step from `phase` on `input`. Inputs that do not apply to the phase leave it
/// as it is (a late outcome after a shutdown, a second shutdown).
pub fn step(phase: Phase, input: Input) -> Step {
    use Input as I;
    use Phase as P;
    use TaskState as S;
    match (phase, input) {
        (
            P::New,
            I::Begin {
                found,
                finished,
                shutdown,
            },
        ) => match found {
            None if shutdown || finished => {
                let report = shutdown.then(|| Report::new(S::Shutdown, "shutdown"));
                to(P::Done(None), report, None)
            }
            None => to(
                P::Pulling,
                Some(Report::new(S::Preparing, "preparing")),
                Some(Effect::Pull),
            ),
            Some(Found::Exited(id, code)) => {
                to(P::Done(Some(id)), Some(Report::exited(code)), None)
            }
            Some(Found::Created(id) | Found::Running(id)) if shutdown => {
                to(P::Stopping(id.clone()), None, Some(Effect::Stop(id)))
            }
            Some(Found::Created(id)) => to(
                P::Starting(id.clone()),
                Some(Report::new(S::Starting, "starting")),
                Some(Effect::Start(id)),
            ),
            Some(Found::Running(id)) => to(
                P::Running(id.clone()),
                Some(Report::new(S::Running, "running")),
                Some(Effect::Wait(id)),
            ),
        },
        (P::Pulling, I::Pulled) => to(P::Creating, None, Some(Effect::Create)),
        (P::Pulling, I::PullFailed(err)) => to(
            P::Done(None),
            Some(Report::error(S::Rejected, "pull failed", err)),
            None,
        ),
        (P::Creating, I::Created(id)) => to(
            P::Starting(id.clone()),
            Some(Report::new(S::Starting, "starting")),
            Some(Effect::Start(id)),
        ),
        (P::Creating, I::CreateFailed(err)) => to(
            P::Done(None),
            Some(Report::error(S::Rejected, "create failed", err)),
            None,
        ),
        (P::Starting(id), I::Started) => to(
            P::Checking(id.clone()),
            None,
            Some(Effect::AwaitHealthy(id)),
        ),
        (P::Checking(id), I::Healthy) => to(
            P::Running(id.clone()),
            Some(Report::new(S::Running, "running")),
            Some(Effect::Wait(id)),
        ),
        (P::Checking(id) | P::Running(id), I::Unhealthy) => to(
            P::Failing(id.clone()),
            Some(Report::error(
                S::Failed,
                "unhealthy",
                "task: unhealthy container".to_owned(),
            )),
            Some(Effect::Stop(id)),
        ),
        (P::Checking(id), I::Exited(code)) => {
            to(P::Done(Some(id)), Some(Report::exited(code)), None)
        }
        (P::Failing(id), I::Stopped | I::Exited(_)) => to(P::Done(Some(id)), None, None),
        (P::Failing(_), I::Lost) => to(P::Done(None), None, None),
        (P::Failing(id), I::Unassigned) => {
            to(P::Stopping(id.clone()), None, Some(Effect::Stop(id)))
        }
        (P::Starting(id), I::StartFailed(err)) => to(
            P::Done(Some(id)),
            Some(Report::error(S::Failed, "start failed", err)),
            None,
        ),
        (P::Running(id), I::Exited(code)) => {
            to(P::Done(Some(id)), Some(Report::exited(code)), None)
        }
        (P::Running(_) | P::Starting(_) | P::Checking(_), I::Lost) => to(
            P::Done(None),
            Some(Report::error(
                S::Failed,
                "container lost",
                "the task's container was removed".to_owned(),
            )),
            None,
        ),
        // Shut down before a container exists: nothing to stop.
        (P::New | P::Pulling | P::Creating, I::Shutdown) => to(
            P::Done(None),
            Some(Report::new(S::Shutdown, "shutdown")),
            None,
        ),
        (P::Starting(id) | P::Checking(id) | P::Running(id), I::Shutdown) => {
            to(P::Stopping(id.clone()), None, Some(Effect::Stop(id)))
        }
        // A task that ended on its own stays as it ended; its container is kept as history.
        (P::Done(c), I::Shutdown) => to(P::Done(c), None, None),
        (P::Stopping(id), I::Stopped | I::Exited(_)) => to(
            P::Removing(id.clone()),
            Some(Report::new(S::Shutdown, "shutdown")),
            Some(Effect::Remove(id)),
        ),
        (P::Stopping(_) | P::Removing(_), I::Lost) => to(
            P::Done(None),
            Some(Report::new(S::Shutdown, "shutdown")),
            None,
        ),
        (P::Removing(_), I::Removed) => to(P::Done(None), None, None),
        // Cut off from the managers: stopped with its grace period and kept as history; the
        // failure waits in the reports until a manager takes it.
        (P::New | P::Pulling | P::Creating, I::CutOff(reason)) => to(
            P::Done(None),
            Some(Report::error(S::Failed, "stopped", reason)),
            None,
        ),
        (P::Starting(id) | P::Checking(id) | P::Running(id), I::CutOff(reason)) => to(
            P::StoppingCutOff {
                id: id.clone(),
                reason,
            },
            None,
            Some(Effect::Stop(id)),
        ),
        (P::StoppingCutOff { id, reason }, I::Stopped | I::Exited(_)) => to(
            P::Done(Some(id)),
            Some(Report::error(S::Failed, "stopped", reason)),
            None,
        ),
        (P::StoppingCutOff { reason, .. }, I::Lost) => to(
            P::Done(None),
            Some(Report::error(S::Failed, "stopped", reason)),
            None,
        ),
        // No longer assigned: whatever runs is stopped and removed, and nothing is reported.
        (
            P::Starting(id)
            | P::Checking(id)
            | P::Running(id)
            | P::Stopping(id)
            | P::StoppingCutOff { id, .. },
            I::Unassigned,
        ) => to(P::Stopping(id.clone()), None, Some(Effect::Stop(id))),
        (P::Done(Some(id)) | P::Removing(id), I::Unassigned) => {
            to(P::Removing(id.clone()), None, Some(Effect::Remove(id)))
        }
        (P::New | P::Pulling | P::Creating | P::Done(None), I::Unassigned) => {
            to(P::Done(None), None, None)
        }
        (phase, _) => to(phase, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(found: Option<Found>) -> Input {
        Input::Begin {
            found,
            finished: false,
            shutdown: false,
        }
    }

    /// Runs `inputs` from `New` and returns the states reported and the final step.
    fn run(inputs: Vec<Input>) -> (Vec<TaskState>, Step) {
        let mut phase = Phase::New;
        let mut states = Vec::new();
        let mut last = None;
        for input in inputs {
            let step = step(phase, input);
            states.extend(step.report.as_ref().map(|r| r.state));
            phase = step.phase.clone();
            last = Some(step);
        }
        (states, last.expect("at least one input"))
    }

    #[test]
    fn a_task_runs_and_completes() {
        let (states, last) = run(vec![
            begin(None),
            Input::Pulled,
            Input::Created("c1".into()),
            Input::Started,
            Input::Healthy,
            Input::Exited(0),
        ]);
        use TaskState::*;
        assert_eq!(states, [Preparing, Starting, Running, Complete]);
        assert_eq!(last.phase, Phase::Done(Some("c1".into())));
        assert_eq!(last.report.unwrap().exit_code, Some(0));
    }

    #[test]
    fn a_non_zero_exit_fails_with_its_code() {
        let (_, last) = run(vec![
            begin(None),
            Input::Pulled,
            Input::Created("c1".into()),
            Input::Started,
            Input::Healthy,
            Input::Exited(3),
        ]);
        let report = last.report.unwrap();
        assert_eq!(report.state, TaskState::Failed);
        assert_eq!(report.exit_code, Some(3));
        assert_eq!(report.error.as_deref(), Some("task: non-zero exit (3)"));
    }

    #[test]
    fn a_failed_pull_or_create_rejects_with_the_error() {
        let (states, last) = run(vec![begin(None), Input::PullFailed("no such image".into())]);
        assert_eq!(states, [TaskState::Preparing, TaskState::Rejected]);
        assert_eq!(last.report.unwrap().error.as_deref(), Some("no such image"));
        let (_, last) = run(vec![
            begin(None),
            Input::Pulled,
            Input::CreateFailed("name in use".into()),
        ]);
        assert_eq!(last.report.unwrap().state, TaskState::Rejected);
        assert_eq!(last.phase, Phase::Done(None));
    }

    #[test]
    fn shutdown_stops_then_removes_then_reports() {
        let (states, last) = run(vec![
            begin(Some(Found::Running("c1".into()))),
            Input::Shutdown,
            Input::Stopped,
        ]);
        assert_eq!(states, [TaskState::Running, TaskState::Shutdown]);
        assert_eq!(last.effect, Some(Effect::Remove("c1".into())));
        let after = step(last.phase, Input::Removed);
        assert_eq!(after.phase, Phase::Done(None));
        assert_eq!(step(after.phase, Input::Shutdown).report, None);
    }

    #[test]
    fn shutdown_before_a_container_exists_ends_at_once() {
        let (states, last) = run(vec![begin(None), Input::Shutdown, Input::Pulled]);
        assert_eq!(states, [TaskState::Preparing, TaskState::Shutdown]);
        assert_eq!(last.phase, Phase::Done(None));
        assert_eq!(last.effect, None, "a late pull outcome creates nothing");
    }

    #[test]
    fn a_restarted_node_adopts_what_it_finds() {
        let step_of = |found, finished, shutdown| {
            step(
                Phase::New,
                Input::Begin {
                    found,
                    finished,
                    shutdown,
                },
            )
        };
        let running = step_of(Some(Found::Running("c1".into())), false, false);
        assert_eq!(running.effect, Some(Effect::Wait("c1".into())));
        let exited = step_of(Some(Found::Exited("c1".into(), 2)), false, false);
        assert_eq!(exited.report.unwrap().state, TaskState::Failed);
        let created = step_of(Some(Found::Created("c1".into())), false, false);
        assert_eq!(created.effect, Some(Effect::Start("c1".into())));
        let unwanted = step_of(Some(Found::Running("c1".into())), false, true);
        assert_eq!(unwanted.effect, Some(Effect::Stop("c1".into())));
        // A task the store says ended, whose container is gone, is never started again.
        let ended = step_of(None, true, false);
        assert_eq!(
            (ended.phase, ended.effect, ended.report),
            (Phase::Done(None), None, None)
        );
    }

    #[test]
    fn unassigned_tasks_lose_their_containers_silently() {
        let s = step(Phase::Running("c1".into()), Input::Unassigned);
        assert_eq!(
            (s.effect, s.report),
            (Some(Effect::Stop("c1".into())), None)
        );
        let s = step(Phase::Done(Some("c1".into())), Input::Unassigned);
        assert_eq!(s.effect, Some(Effect::Remove("c1".into())));
        let s = step(Phase::Pulling, Input::Unassigned);
        assert_eq!((s.phase, s.effect), (Phase::Done(None), None));
    }

    #[test]
    fn a_cut_off_task_stops_and_fails_with_the_reason_keeping_its_container() {
        let reason = "stopped: no manager reachable for 3s (stop-on-disconnect)";
        let (states, last) = run(vec![
            begin(Some(Found::Running("c1".into()))),
            Input::CutOff(reason.into()),
        ]);
        assert_eq!(states, [TaskState::Running]);
        assert_eq!(last.effect, Some(Effect::Stop("c1".into())));
        let stopped = step(last.phase, Input::Stopped);
        assert_eq!(stopped.phase, Phase::Done(Some("c1".into())));
        assert_eq!(stopped.effect, None);
        let report = stopped.report.unwrap();
        assert_eq!(report.state, TaskState::Failed);
        assert_eq!(report.error.as_deref(), Some(reason));
        // Back in touch, a shutdown changes nothing more; unassigned, the container goes.
        let shut = step(stopped.phase, Input::Shutdown);
        assert_eq!((shut.report, shut.effect), (None, None));
        let gone = step(shut.phase, Input::Unassigned);
        assert_eq!(gone.effect, Some(Effect::Remove("c1".into())));
    }

    #[test]
    fn a_cut_off_before_the_container_runs_fails_at_once_and_twice_is_once() {
        let (states, last) = run(vec![
            begin(None),
            Input::CutOff("cut".into()),
            Input::Pulled,
            Input::CutOff("cut".into()),
        ]);
        assert_eq!(states, [TaskState::Preparing, TaskState::Failed]);
        assert_eq!((last.phase, last.effect), (Phase::Done(None), None));
        let stopping = step(Phase::Stopping("c1".into()), Input::CutOff("cut".into()));
        assert_eq!(
            (stopping.phase, stopping.report, stopping.effect),
            (Phase::Stopping("c1".into()), None, None),
            "a shutdown under way ends as a shutdown"
        );
        let lost = step(
            Phase::StoppingCutOff {
                id: "c1".into(),
                reason: "cut".into(),
            },
            Input::Lost,
        );
        assert_eq!(lost.report.unwrap().error.as_deref(), Some("cut"));
    }

    #[test]
    fn a_container_removed_behind_the_nodes_back_fails_the_task() {
        let s = step(Phase::Running("c1".into()), Input::Lost);
        assert_eq!(s.report.unwrap().state, TaskState::Failed);
        assert_eq!(s.phase, Phase::Done(None));
    }

    #[test]
    fn a_task_with_a_healthcheck_runs_once_healthy_and_fails_when_unhealthy() {
        let start = vec![
            begin(None),
            Input::Pulled,
            Input::Created("c1".into()),
            Input::Started,
        ];
        let (states, last) = run(start.clone());
        assert_eq!(states, [TaskState::Preparing, TaskState::Starting]);
        assert_eq!(last.effect, Some(Effect::AwaitHealthy("c1".into())));

        let mut never_healthy = start.clone();
        never_healthy.push(Input::Unhealthy);
        let (states, last) = run(never_healthy.clone());
        assert_eq!(states.last(), Some(&TaskState::Failed));
        let report = last.report.unwrap();
        assert_eq!(report.error.as_deref(), Some("task: unhealthy container"));
        assert_eq!(last.effect, Some(Effect::Stop("c1".into())));
        never_healthy.push(Input::Stopped);
        let (states, last) = run(never_healthy);
        assert_eq!(
            states.last(),
            Some(&TaskState::Failed),
            "nothing reported after the failure"
        );
        assert_eq!(last.phase, Phase::Done(Some("c1".into())));

        let mut later = start;
        later.extend([Input::Healthy, Input::Unhealthy]);
        let (states, _) = run(later);
        use TaskState::*;
        assert_eq!(states, [Preparing, Starting, Running, Failed]);
    }
}
