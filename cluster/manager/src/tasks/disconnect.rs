//! `--stop-on-disconnect`: which of a node's tasks to stop because the node has heard from no
//! manager for too long. Pure: the caller gives the assignment set and how long ago the last
//! word from a manager came (a session opened, an assignment message or a beat); the session
//! (`tasks::session`) keeps that clock and hands the decisions to the runner.
//!
//! A healthy session hears a beat every [`SESSION_BEAT`]: a task is only stopped once the
//! node has been silent for at least [`MIN_SILENCE`] (two missed beats) as well as for its
//! service's duration, so a beat arriving a little late never stops anything.

use std::time::Duration;

use crate::dispatcher::server::SESSION_BEAT;
use crate::dispatcher::sets::NodeSet;
use orchestrator::swarm::{DesiredState, TaskId};

/// The shortest silence that stops a task, whatever its service's duration.
pub const MIN_SILENCE: Duration = Duration::from_secs(2 * SESSION_BEAT.as_secs());

/// A task to stop, with the error its report carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutOff {
    /// The task.
    pub task: TaskId,
    /// Why it stopped, as `service ps` shows it.
    pub reason: String,
}

/// The silence after which the task with this `--stop-on-disconnect` duration stops.
fn threshold(duration: Duration) -> Duration {
    duration.max(MIN_SILENCE)
}

/// The error a task stopped after `duration` of silence reports.
pub fn reason(duration: Duration) -> String {
    format!(
        "stopped: no manager reachable for {} (stop-on-disconnect)",
        humantime::format_duration(duration)
    )
}

/// The tasks of `set` the node stops now, `silent` after its last word from a manager: those
/// the managers want running (a task already told to stop, or finished, stops as it is
/// told) whose service stops them after a silence no longer than `silent`.
pub fn due(set: &NodeSet, silent: Duration) -> Vec<CutOff> {
    set.values()
        .filter(|a| a.desired_state == DesiredState::Running && !a.finished)
        .filter_map(|a| {
            let duration = a.spec.stop_on_disconnect?;
            (threshold(duration) <= silent).then(|| CutOff {
                task: a.task_id.clone(),
                reason: reason(duration),
            })
        })
        .collect()
}

/// The silence at which the next task of `set` becomes due, when one will (the smallest
/// threshold beyond `silent`).
pub fn next_due(set: &NodeSet, silent: Duration) -> Option<Duration> {
    set.values()
        .filter(|a| a.desired_state == DesiredState::Running && !a.finished)
        .filter_map(|a| a.spec.stop_on_disconnect.map(threshold))
        .filter(|t| *t > silent)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::Assignment;
    use orchestrator::swarm::{ServiceSpec, TaskSlot};

    fn task(id: &str, stop_on_disconnect: Option<u64>) -> Assignment {
        Assignment {
            task_id: id.into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot: TaskSlot::Slot(1),
            desired_state: DesiredState::Running,
            finished: false,
            spec_version: 1,
            registry_auth: None,
            files: Vec::new(),
            networks: Vec::new(),
            spec: std::sync::Arc::new(ServiceSpec {
                image: "busybox".into(),
                stop_on_disconnect: stop_on_disconnect.map(Duration::from_secs),
                ..ServiceSpec::default()
            }),
        }
    }

    fn set(tasks: Vec<Assignment>) -> NodeSet {
        tasks.into_iter().map(|a| (a.task_id.clone(), a)).collect()
    }

    fn ids(due: &[CutOff]) -> Vec<&str> {
        due.iter().map(|c| c.task.as_str()).collect()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn tasks_stop_once_the_silence_reaches_their_service_s_duration() {
        let tasks = set(vec![
            task("keep", None),
            task("t5", Some(5)),
            task("t10", Some(10)),
        ]);
        let cases: [(u64, &[&str]); 5] = [
            (0, &[]),
            (4, &[]),
            (5, &["t5"]),
            (9, &["t5"]),
            (600, &["t10", "t5"]),
        ];
        for (silent, expected) in cases {
            assert_eq!(ids(&due(&tasks, secs(silent))), expected, "after {silent}s");
        }
        assert_eq!(
            due(&tasks, secs(5))[0].reason,
            "stopped: no manager reachable for 5s (stop-on-disconnect)"
        );
    }

    #[test]
    fn the_next_wake_is_the_next_threshold_and_none_once_all_passed() {
        let tasks = set(vec![
            task("keep", None),
            task("t5", Some(5)),
            task("t10", Some(10)),
        ]);
        assert_eq!(next_due(&tasks, secs(0)), Some(secs(5)));
        assert_eq!(next_due(&tasks, secs(5)), Some(secs(10)));
        assert_eq!(next_due(&tasks, secs(10)), None);
        assert_eq!(next_due(&set(vec![task("keep", None)]), secs(0)), None);
    }

    #[test]
    fn a_duration_shorter_than_two_beats_waits_for_two_missed_beats() {
        let tasks = set(vec![task("t1", Some(1))]);
        assert!(
            due(&tasks, SESSION_BEAT).is_empty(),
            "a late beat stops nothing"
        );
        assert_eq!(next_due(&tasks, secs(0)), Some(MIN_SILENCE));
        assert_eq!(ids(&due(&tasks, MIN_SILENCE)), ["t1"]);
        assert_eq!(
            due(&tasks, MIN_SILENCE)[0].reason,
            "stopped: no manager reachable for 1s (stop-on-disconnect)",
            "the reason names the service's own setting"
        );
    }

    #[test]
    fn tasks_told_to_stop_or_finished_are_left_to_their_orders() {
        let mut down = task("down", Some(1));
        down.desired_state = DesiredState::Shutdown;
        let mut done = task("done", Some(1));
        done.finished = true;
        let tasks = set(vec![down, done]);
        assert!(due(&tasks, secs(600)).is_empty());
        assert_eq!(next_due(&tasks, secs(0)), None);
    }
}
