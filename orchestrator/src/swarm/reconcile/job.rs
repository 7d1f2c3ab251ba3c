//! Replicated jobs: slots `1..=total_completions`, each run until one of its tasks completes,
//! at most `max_concurrent` slots at a time. Failed tasks are retried in their slot as the
//! restart policy says. Only tasks of the current spec version count: a new spec runs the job
//! again.

use std::collections::{BTreeMap, BTreeSet};

use crate::swarm::reasons::{CreateReason, ShutdownReason};
use crate::swarm::reconcile::pass::Pass;
use crate::swarm::reconcile::slot::{self, Outcome, Rules};
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::task_state::TaskState;

const RULES: Rules = Rules {
    movable: true,
    can_create: true,
    is_job: true,
};

pub(super) fn reconcile(pass: &mut Pass<'_>, tasks: &[&Task], total: u64, max_concurrent: u64) {
    let version = pass.service.spec_version;
    let mut done: BTreeSet<u64> = BTreeSet::new();
    let mut live: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().copied() {
        let TaskSlot::Slot(number) = task.slot else {
            if task.is_desired_running() {
                pass.shut_down(task, ShutdownReason::ModeChanged);
            }
            continue;
        };
        let current = task.spec_version == version;
        if current && task.status.state == TaskState::Complete {
            done.insert(number);
        }
        if !task.is_desired_running() {
            continue;
        }
        if !current {
            pass.shut_down(task, ShutdownReason::JobSpecChanged);
        } else if number > total {
            pass.shut_down(task, ShutdownReason::ScaledDown { to: total });
        } else {
            live.entry(number).or_default().push(task);
        }
    }
    let mut active: u64 = 0;
    for (number, tasks) in &live {
        if done.contains(number) {
            continue;
        }
        if slot::settle(pass, &TaskSlot::Slot(*number), tasks, RULES) == Outcome::Active {
            active += 1;
        }
    }
    let mut number = 0;
    while active < max_concurrent.max(1) && number < total {
        number += 1;
        if !done.contains(&number) && !live.contains_key(&number) {
            pass.create(TaskSlot::Slot(number), CreateReason::Missing, None, None);
            active += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::swarm::mode::Mode;
    use crate::swarm::reasons::ShutdownReason;
    use crate::swarm::reconcile::fixtures::World;
    use crate::swarm::task::TaskSlot;
    use crate::swarm::task_state::TaskState;
    use crate::swarm::time::Timestamp;

    fn job(total: u64, max: u64) -> World {
        World::with_mode(Mode::ReplicatedJob {
            total_completions: total,
            max_concurrent: max,
        })
        .with_nodes(&["n1"])
    }

    fn slots(rec: &crate::swarm::reconcile::Reconciliation) -> Vec<TaskSlot> {
        rec.creations.iter().map(|c| c.slot.clone()).collect()
    }

    #[test]
    fn runs_at_most_max_concurrent() {
        let world = job(5, 2);
        assert_eq!(
            slots(&world.reconcile()),
            vec![TaskSlot::Slot(1), TaskSlot::Slot(2)]
        );
    }

    #[test]
    fn completed_slots_free_room_for_the_next() {
        let mut world = job(4, 2);
        world.stopped("a", 1, "n1", TaskState::Complete, Timestamp(0));
        world.running("b", 2, "n1");
        let rec = world.reconcile();
        assert_eq!(slots(&rec), vec![TaskSlot::Slot(3)]);
        assert!(rec.shutdowns.is_empty());
    }

    #[test]
    fn a_failed_job_task_is_retried_in_its_slot() {
        let mut world = job(2, 1);
        world.stopped("a", 1, "n1", TaskState::Failed, Timestamp(0));
        let rec = world.reconcile();
        assert_eq!(slots(&rec), vec![TaskSlot::Slot(1)]);
        assert_eq!(rec.shutdowns[0].reason, ShutdownReason::Restarted);
    }

    #[test]
    fn a_finished_job_does_nothing_and_a_new_spec_runs_it_again() {
        let mut world = job(2, 2);
        world.stopped("a", 1, "n1", TaskState::Complete, Timestamp(0));
        world.stopped("b", 2, "n1", TaskState::Complete, Timestamp(0));
        assert!(world.reconcile().is_empty());
        world.service.spec_version = 2;
        let rec = world.reconcile();
        assert_eq!(slots(&rec), vec![TaskSlot::Slot(1), TaskSlot::Slot(2)]);
        assert!(
            rec.shutdowns
                .iter()
                .all(|s| s.reason == ShutdownReason::JobSpecChanged)
        );
        assert_eq!(rec.shutdowns.len(), 2);
    }
}
