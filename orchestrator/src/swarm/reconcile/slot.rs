//! What every mode does with one slot (or one node of a global service) that has tasks the
//! managers want running: retire the tasks a newer one replaces once it runs, give up tasks
//! lost with their node, move tasks off drained or unfit nodes (the replacement first), and
//! restart stopped tasks as the restart policy says.

use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::pass::{Fitness, Pass};
use crate::swarm::restart::{RestartDecision, decide};
use crate::swarm::task::{Replaces, Task, TaskSlot};
use crate::swarm::task_state::TaskState;

/// What a mode allows in a slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// A task may be replaced on another node (replicated modes).
    pub movable: bool,
    /// New tasks may be created (false for a global task on a paused node).
    pub can_create: bool,
    /// Tasks run to completion: a completed task is done.
    pub is_job: bool,
}

/// Where a slot stands after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A task is on its way or runs (counts against a job's concurrency).
    Active,
    /// The job task of the slot completed.
    Done,
    /// Its task stopped and is not restarted (now).
    Stopped,
}

/// The slot's current task: the live one no other live one replaces; the latest created
/// among several (then by id).
pub(crate) fn newest<'t>(live: &[&'t Task]) -> Option<&'t Task> {
    live.iter()
        .copied()
        .filter(|t| {
            !live
                .iter()
                .any(|other| other.replaces.as_ref().is_some_and(|r| r.task == t.id))
        })
        .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        .or_else(|| live.iter().copied().max_by_key(|t| (t.created_at, &t.id)))
}

/// Settles the slot whose tasks with desired state running are `live` (not empty).
pub(crate) fn settle(
    pass: &mut Pass<'_>,
    slot: &TaskSlot,
    live: &[&Task],
    rules: Rules,
) -> Outcome {
    let Some(current) = newest(live) else {
        return Outcome::Stopped;
    };
    retire_older(pass, current, live, rules);
    // A replacement of the current task takes over what it was replacing.
    let carried = current.replaces.clone().filter(|r| {
        live.iter()
            .any(|t| t.id == r.task && t.id != current.id && !pass.is_shut(&t.id))
    });
    let state = current.status.state;
    if rules.is_job && state == TaskState::Complete {
        return Outcome::Done;
    }
    if !state.is_terminal() {
        return settle_placed(pass, slot, current, carried, rules);
    }
    if !rules.can_create {
        return Outcome::Stopped;
    }
    let policy = &current.spec.restart_policy;
    let stopped_at = current.status.timestamp;
    match decide(
        policy,
        pass.history,
        slot,
        state,
        stopped_at,
        rules.is_job,
        pass.now,
    ) {
        RestartDecision::Restart { not_before } => {
            pass.shut_down(current, ShutdownReason::Restarted);
            pass.record_restart(slot);
            let not_before = (not_before > pass.now).then_some(not_before);
            pass.create(slot.clone(), CreateReason::Restart, not_before, carried);
            Outcome::Active
        }
        RestartDecision::NotWanted => Outcome::Stopped,
        RestartDecision::Exhausted { until } => {
            pass.requeue(until);
            Outcome::Stopped
        }
    }
}

/// Shuts down the older live tasks of the slot: all of them once `current` runs (or, for a
/// job, completed); before that only those that do not run (nothing is lost by stopping
/// them) or whose node is lost.
fn retire_older(pass: &mut Pass<'_>, current: &Task, live: &[&Task], rules: Rules) {
    let ran = current.status.state == TaskState::Running
        || (rules.is_job && current.status.state == TaskState::Complete);
    for old in live.iter().filter(|t| t.id != current.id) {
        let reason = if ran {
            current
                .replaces
                .as_ref()
                .filter(|r| r.task == old.id)
                .map_or(ShutdownReason::Superseded, |r| r.reason.clone())
        } else if old.status.state != TaskState::Running {
            ShutdownReason::Superseded
        } else if let (Some(Fitness::Lost), Some(node)) = (pass.task_fitness(old), &old.node) {
            ShutdownReason::NodeDown { node: node.clone() }
        } else {
            continue;
        };
        pass.shut_down(old, reason);
    }
}

/// The current task has not stopped: act on its node's fitness.
fn settle_placed(
    pass: &mut Pass<'_>,
    slot: &TaskSlot,
    current: &Task,
    carried: Option<Replaces>,
    rules: Rules,
) -> Outcome {
    let (Some(node), Some(fitness)) = (&current.node, pass.task_fitness(current)) else {
        return Outcome::Active;
    };
    let reason = match fitness {
        Fitness::Held | Fitness::Eligible => return Outcome::Active,
        Fitness::Lost => {
            pass.shut_down(current, ShutdownReason::NodeDown { node: node.clone() });
            if !(rules.movable && rules.can_create) {
                return Outcome::Stopped;
            }
            pass.create(slot.clone(), CreateReason::Lost, None, carried);
            return Outcome::Active;
        }
        Fitness::Drained => ShutdownReason::NodeDrained { node: node.clone() },
        Fitness::Unfit => ShutdownReason::ConstraintsNotMet { node: node.clone() },
    };
    if !(rules.movable && rules.can_create) {
        pass.shut_down(current, reason);
        return Outcome::Stopped;
    }
    if current.status.state == TaskState::Running {
        // Start the replacement first; this task stops once it runs.
        let replaces = Replaces {
            task: current.id.clone(),
            reason,
        };
        pass.create(
            slot.clone(),
            CreateReason::Replacement,
            None,
            Some(replaces),
        );
    } else {
        pass.shut_down(current, reason);
        pass.create(slot.clone(), CreateReason::Replacement, None, carried);
    }
    Outcome::Active
}
