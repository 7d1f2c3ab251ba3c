//! The update planner driven through whole updates: a fake cluster where nodes start what is
//! wanted and stop what is not, the planner and the reconciler committed pass after pass.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::swarm::ids::NodeId;
use crate::swarm::reconcile::fixtures::World;
use crate::swarm::service::UpdateState;
use crate::swarm::task::{Task, TaskSlot};
use crate::swarm::task_state::TaskState;
use crate::swarm::time::Timestamp;
use crate::swarm::update::{UpdatePlan, plan_update, request};
use crate::swarm::update_config::{FailureAction, UpdateOrder};

const SECOND: Duration = Duration::from_secs(1);

/// A replicated service of `replicas` tasks running image `v1` on n1..n3, at rest.
fn running(replicas: u64) -> World {
    let mut world = World::replicated(replicas).with_nodes(&["n1", "n2", "n3"]);
    world.service.spec.image = "v1".into();
    world.now = Timestamp(1_000);
    for slot in 1..=replicas {
        world.running(&format!("old{slot}"), slot, &format!("n{}", slot % 3 + 1));
    }
    world
}

/// The service's spec becomes `image` at a new version, as `service update` does.
fn update_to(world: &mut World, image: &str) {
    let service = &mut world.service;
    service.previous_spec = Some(service.spec.clone());
    service.spec.image = image.into();
    service.spec_version += 1;
    request::begin(service, false, world.now);
}

/// Plans the update and commits it, then reconciles and commits that.
fn pass(world: &mut World) -> UpdatePlan {
    let plan = plan_update(&world.service, &world.tasks, world.now);
    if let Some(service) = &plan.service {
        world.service = service.clone();
    }
    world.commit(&plan.reconciliation);
    let rec = world.reconcile();
    world.commit(&rec);
    plan
}

/// The nodes act: a wanted task that is not running starts (fails when `fails` says so),
/// an unwanted one stops.
fn nodes_act(world: &mut World, fails: impl Fn(&Task) -> bool) {
    let now = world.now;
    for task in &mut world.tasks {
        let state = task.status.state;
        if task.is_desired_running() && state < TaskState::Running {
            task.node.get_or_insert_with(|| NodeId::from("n1"));
            task.status.state = if fails(task) {
                task.status.error = Some("task: non-zero exit (1)".into());
                TaskState::Failed
            } else {
                TaskState::Running
            };
            task.status.timestamp = now;
        } else if !task.is_desired_running() && !state.is_terminal() {
            task.status.state = TaskState::Shutdown;
            task.status.timestamp = now;
        }
    }
}

/// Slots without a running task the managers want.
fn slots_down(world: &World) -> usize {
    let up: BTreeSet<&TaskSlot> = world
        .tasks
        .iter()
        .filter(|t| t.is_desired_running() && t.status.state == TaskState::Running)
        .map(|t| &t.slot)
        .collect();
    let crate::swarm::mode::Mode::Replicated { replicas } = world.service.spec.mode else {
        panic!("the tests update replicated services");
    };
    let replicas = replicas as usize;
    replicas - up.len()
}

fn state(world: &World) -> UpdateState {
    world
        .service
        .update_status
        .as_ref()
        .expect("a status")
        .state
}

fn message(world: &World) -> String {
    world
        .service
        .update_status
        .as_ref()
        .expect("a status")
        .message
        .clone()
}

/// Runs passes, letting the nodes act and time pass by `step`, until the update stops
/// moving; checks `each` after every planner commit.
fn drive(
    world: &mut World,
    step: Duration,
    fails: impl Fn(&Task) -> bool,
    mut each: impl FnMut(&World),
) {
    for _ in 0..500 {
        pass(world);
        each(world);
        if !world
            .service
            .update_status
            .as_ref()
            .is_some_and(|s| s.is_moving())
        {
            return;
        }
        nodes_act(world, &fails);
        world.now = world.now.after(step);
    }
    panic!(
        "the update never stopped moving: {:?}",
        world.service.update_status
    );
}

/// Tasks of `image` per slot, over the whole history.
fn tasks_of(world: &World, image: &str) -> Vec<(u64, usize)> {
    let mut count = std::collections::BTreeMap::new();
    for t in world.tasks.iter().filter(|t| t.spec.image == image) {
        if let TaskSlot::Slot(n) = t.slot {
            *count.entry(n).or_insert(0) += 1;
        }
    }
    count.into_iter().collect()
}

#[test]
fn stop_first_never_has_more_than_parallelism_slots_down() {
    for parallelism in [1, 2, 3] {
        let mut world = running(6);
        world.service.task_history_limit = 10;
        world.service.spec.update_config.parallelism = parallelism;
        update_to(&mut world, "v2");
        let mut most_down = 0;
        drive(
            &mut world,
            SECOND,
            |_| false,
            |w| {
                most_down = most_down.max(slots_down(w));
                let in_flight = w
                    .service
                    .update_status
                    .as_ref()
                    .unwrap()
                    .progress
                    .in_flight
                    .len();
                assert!(
                    in_flight as u64 <= parallelism,
                    "{in_flight} slots in flight"
                );
            },
        );
        assert_eq!(
            most_down as u64, parallelism,
            "at most {parallelism} slots down, and that many used"
        );
        assert_eq!(state(&world), UpdateState::Completed);
        assert_eq!(message(&world), "update completed");
        assert_eq!(
            tasks_of(&world, "v2"),
            (1..=6).map(|n| (n, 1)).collect::<Vec<_>>(),
            "each slot updated once"
        );
        assert!(
            world
                .tasks
                .iter()
                .filter(|t| t.is_desired_running())
                .all(|t| t.spec.image == "v2")
        );
    }
}

#[test]
fn parallelism_zero_replaces_every_slot_at_once() {
    let mut world = running(4);
    world.service.spec.update_config.parallelism = 0;
    update_to(&mut world, "v2");
    let plan = pass(&mut world);
    assert_eq!(plan.reconciliation.creations.len(), 4);
    assert_eq!(plan.reconciliation.shutdowns.len(), 4);
}

#[test]
fn start_first_starts_the_new_task_before_stopping_the_old() {
    let mut world = running(3);
    world.service.spec.update_config.order = UpdateOrder::StartFirst;
    update_to(&mut world, "v2");
    let plan = plan_update(&world.service, &world.tasks, world.now);
    let rec = &plan.reconciliation;
    assert!(rec.shutdowns.is_empty(), "{:?}", rec.shutdowns);
    assert_eq!(rec.creations.len(), 1);
    assert_eq!(
        rec.creations[0].replaces.as_ref().unwrap().task.as_str(),
        "old1"
    );
    assert_eq!(rec.creations[0].preferred_node, Some(NodeId::from("n2")));
    let mut most_down = 0;
    drive(
        &mut world,
        SECOND,
        |_| false,
        |w| most_down = most_down.max(slots_down(w)),
    );
    assert_eq!(
        most_down, 0,
        "start-first never leaves a slot without a running task"
    );
    assert_eq!(state(&world), UpdateState::Completed);
}

#[test]
fn a_slot_counts_as_updated_only_after_the_monitor_period() {
    let mut world = running(2);
    world.service.spec.update_config.monitor = Duration::from_secs(10);
    update_to(&mut world, "v2");
    pass(&mut world);
    nodes_act(&mut world, |_| false);
    world.now = world.now.after(SECOND);
    let plan = pass(&mut world);
    assert!(
        plan.reconciliation.creations.is_empty(),
        "slot 2 waits for slot 1's monitor"
    );
    let running_at = world
        .tasks
        .iter()
        .find(|t| t.spec.image == "v2")
        .unwrap()
        .status
        .timestamp;
    assert_eq!(
        plan.reconciliation.requeue_at,
        Some(running_at.after(Duration::from_secs(10)))
    );
    world.now = running_at.after(Duration::from_secs(10));
    let plan = pass(&mut world);
    assert_eq!(plan.reconciliation.creations.len(), 1);
    assert_eq!(plan.reconciliation.creations[0].slot, TaskSlot::Slot(2));
}

#[test]
fn the_delay_separates_steps() {
    let mut world = running(2);
    world.service.spec.update_config.delay = Duration::from_secs(30);
    world.service.spec.update_config.monitor = Duration::ZERO;
    update_to(&mut world, "v2");
    pass(&mut world);
    nodes_act(&mut world, |_| false);
    let plan = pass(&mut world);
    let done_at = world
        .service
        .update_status
        .as_ref()
        .unwrap()
        .progress
        .last_done_at
        .unwrap();
    assert!(plan.reconciliation.creations.is_empty());
    assert_eq!(
        plan.reconciliation.requeue_at,
        Some(done_at.after(Duration::from_secs(30)))
    );
    world.now = done_at.after(Duration::from_secs(30));
    assert_eq!(pass(&mut world).reconciliation.creations.len(), 1);
}

#[test]
fn a_failing_task_pauses_the_update_with_the_reason() {
    let mut world = running(4);
    update_to(&mut world, "bad");
    drive(&mut world, SECOND, |t| t.spec.image == "bad", |_| {});
    assert_eq!(state(&world), UpdateState::Paused);
    let message = message(&world);
    assert!(
        message.starts_with(
            "update paused due to failure of task new1 (slot 1): task: non-zero exit (1)"
        ),
        "{message}"
    );
    let bad_slots: BTreeSet<&TaskSlot> = world
        .tasks
        .iter()
        .filter(|t| t.spec.image == "bad")
        .map(|t| &t.slot)
        .collect();
    assert_eq!(bad_slots.len(), 1, "only the first slot was tried");
    world.now = world.now.after(Duration::from_secs(600));
    assert!(
        plan_update(&world.service, &world.tasks, world.now).is_empty(),
        "a paused update waits"
    );
}

#[test]
fn a_step_past_its_deadline_counts_as_failed() {
    let mut world = running(2);
    world.service.spec.update_config.deadline = Duration::from_secs(60);
    update_to(&mut world, "v2");
    let started = world.now;
    let plan = pass(&mut world);
    assert_eq!(
        plan.reconciliation.requeue_at,
        Some(started.after(Duration::from_secs(60)))
    );
    // The new task never starts.
    world.now = started.after(Duration::from_secs(59));
    assert!(pass(&mut world).is_empty());
    world.now = started.after(Duration::from_secs(60));
    pass(&mut world);
    assert_eq!(state(&world), UpdateState::Paused);
    assert!(
        message(&world).contains("not running and healthy 60s after its update started"),
        "{}",
        message(&world)
    );
}

#[test]
fn failure_action_rollback_returns_to_the_previous_spec() {
    let mut world = running(3);
    world.service.task_history_limit = 10;
    world.service.spec.update_config.failure_action = FailureAction::Rollback;
    update_to(&mut world, "bad");
    for _ in 0..20 {
        pass(&mut world);
        if state(&world) != UpdateState::Updating {
            break;
        }
        nodes_act(&mut world, |t| t.spec.image == "bad");
        world.now = world.now.after(SECOND);
    }
    assert_eq!(
        state(&world),
        UpdateState::RollbackStarted,
        "{}",
        message(&world)
    );
    assert_eq!(world.service.spec.image, "v1");
    assert_eq!(world.service.spec_version, 3);
    assert!(message(&world).starts_with("update rolled back due to failure of task"));
    drive(&mut world, SECOND, |t| t.spec.image == "bad", |_| {});
    assert_eq!(
        state(&world),
        UpdateState::RollbackCompleted,
        "{}",
        message(&world)
    );
    assert!(
        world
            .tasks
            .iter()
            .filter(|t| t.is_desired_running())
            .all(|t| t.spec.image == "v1")
    );
    // Only the slot the update reached was replaced back; the others kept their tasks.
    let running: BTreeSet<&str> = world
        .tasks
        .iter()
        .filter(|t| t.is_desired_running())
        .map(|t| t.id.as_str())
        .collect();
    assert!(
        running.contains("old2") && running.contains("old3"),
        "{running:?}"
    );
}

#[test]
fn a_rollback_that_fails_pauses_instead_of_rolling_back() {
    let mut world = running(2);
    world.service.spec.rollback_config.failure_action = FailureAction::Rollback;
    update_to(&mut world, "v2");
    world.service.spec.update_config.failure_action = FailureAction::Rollback;
    world.service.spec.rollback_config.failure_action = FailureAction::Rollback;
    drive(&mut world, SECOND, |_| false, |_| {});
    assert_eq!(state(&world), UpdateState::Completed);
    world.service =
        request::rollback(&world.service, "manually requested rollback", world.now).unwrap();
    drive(&mut world, SECOND, |t| t.spec.image == "v1", |_| {});
    assert_eq!(state(&world), UpdateState::RollbackPaused);
    assert!(
        message(&world).ends_with("(a rollback is never rolled back)"),
        "{}",
        message(&world)
    );
    assert_eq!(
        world.service.spec.image, "v1",
        "the spec stays where the rollback put it"
    );
}

#[test]
fn continue_goes_on_past_failures_and_counts_them() {
    let mut world = running(3);
    world.service.spec.update_config.failure_action = FailureAction::Continue;
    world.service.spec.restart_policy.condition = crate::swarm::restart::RestartCondition::None;
    update_to(&mut world, "v2");
    drive(
        &mut world,
        SECOND,
        |t| t.spec.image == "v2" && t.slot == TaskSlot::Slot(2),
        |_| {},
    );
    assert_eq!(state(&world), UpdateState::Completed);
    assert_eq!(message(&world), "update completed with 1 failed slot(s)");
}

#[test]
fn the_failure_ratio_tolerates_failures_up_to_it() {
    let mut world = running(4);
    world.service.spec.update_config.max_failure_ratio = "0.25".parse().unwrap();
    world.service.spec.restart_policy.condition = crate::swarm::restart::RestartCondition::None;
    update_to(&mut world, "v2");
    let fails =
        |t: &Task| t.spec.image == "v2" && matches!(t.slot, TaskSlot::Slot(1) | TaskSlot::Slot(3));
    drive(&mut world, SECOND, fails, |_| {});
    assert_eq!(state(&world), UpdateState::Paused);
    let status = world.service.update_status.as_ref().unwrap();
    assert_eq!(
        status.progress.failed.len(),
        2,
        "the first failure (1 of 4) was tolerated"
    );
}

#[test]
fn replanning_its_own_output_is_a_no_op() {
    for order in [UpdateOrder::StopFirst, UpdateOrder::StartFirst] {
        for parallelism in [0, 1, 2] {
            let mut world = running(5);
            world.service.spec.update_config.order = order;
            world.service.spec.update_config.parallelism = parallelism;
            update_to(&mut world, "v2");
            for _ in 0..40 {
                let plan = plan_update(&world.service, &world.tasks, world.now);
                if let Some(service) = &plan.service {
                    world.service = service.clone();
                }
                let now = world.now;
                world.commit(&plan.reconciliation);
                world.now = now;
                let again = plan_update(&world.service, &world.tasks, world.now);
                assert!(again.is_empty(), "{order} x{parallelism}: {again:?}");
                world.now = now.after(Duration::from_millis(1));
                let rec = world.reconcile();
                world.commit(&rec);
                nodes_act(&mut world, |_| false);
                world.now = world.now.after(SECOND);
            }
            assert_eq!(
                state(&world),
                UpdateState::Completed,
                "{order} x{parallelism}"
            );
        }
    }
}

#[test]
fn a_new_leader_continues_from_the_stored_progress() {
    // The planner keeps nothing between runs: a run on the records alone is a new leader's.
    let mut world = running(4);
    world.service.task_history_limit = 10;
    world.service.spec.update_config.parallelism = 2;
    update_to(&mut world, "v2");
    pass(&mut world);
    nodes_act(&mut world, |_| false);
    world.now = world.now.after(Duration::from_secs(6));
    let stored = serde_json::to_string(&world.service).unwrap();
    world.service = serde_json::from_str(&stored).unwrap();
    drive(&mut world, SECOND, |_| false, |_| {});
    assert_eq!(state(&world), UpdateState::Completed);
    assert_eq!(
        tasks_of(&world, "v2"),
        (1..=4).map(|n| (n, 1)).collect::<Vec<_>>()
    );
}

#[test]
fn pause_resume_and_cancel() {
    let mut world = running(4);
    world.service.task_history_limit = 10;
    update_to(&mut world, "v2");
    pass(&mut world);
    world.service = request::pause(&world.service, world.now).unwrap();
    assert_eq!(state(&world), UpdateState::Paused);
    nodes_act(&mut world, |_| false);
    world.now = world.now.after(Duration::from_secs(60));
    assert!(
        pass(&mut world).service.is_none(),
        "nothing moves while paused"
    );
    assert!(request::pause(&world.service, world.now).is_err());
    world.service = request::resume(&world.service).unwrap();
    assert_eq!(state(&world), UpdateState::Updating);
    world.now = world.now.after(Duration::from_secs(6));
    pass(&mut world);
    nodes_act(&mut world, |_| false);
    assert_eq!(tasks_of(&world, "v2").len(), 2);

    world.service = request::cancel(&world.service, world.now).unwrap();
    assert_eq!(state(&world), UpdateState::Cancelled);
    assert_eq!(world.service.spec.image, "v1");
    drive(&mut world, SECOND, |_| false, |_| {});
    assert_eq!(state(&world), UpdateState::Cancelled);
    assert!(
        world
            .service
            .update_status
            .as_ref()
            .unwrap()
            .completed_at
            .is_some()
    );
    assert!(
        world
            .tasks
            .iter()
            .filter(|t| t.is_desired_running())
            .all(|t| t.spec.image == "v1")
    );
    assert_eq!(
        request::cancel(&world.service, world.now)
            .unwrap_err()
            .to_string(),
        "service web has no update in progress to cancel"
    );
}

#[test]
fn a_slot_scaled_away_mid_step_leaves_the_update() {
    let mut world = running(3);
    world.service.spec.update_config.parallelism = 2;
    update_to(&mut world, "v2");
    pass(&mut world);
    // Scaled down to 1: the reconciler takes the slots whose task does not run yet.
    world.service.spec.mode = crate::swarm::mode::Mode::Replicated { replicas: 1 };
    pass(&mut world);
    nodes_act(&mut world, |_| false);
    drive(&mut world, SECOND, |_| false, |_| {});
    assert_eq!(state(&world), UpdateState::Completed, "{}", message(&world));
    let status = world.service.update_status.as_ref().unwrap();
    assert!(status.progress.done.len() <= 1, "{status:?}");
}

#[test]
fn only_a_change_of_the_tasks_makes_slots_dirty() {
    let mut world = running(2);
    world.service.spec.update_config.parallelism = 5;
    assert!(plan_update(&world.service, &world.tasks, world.now).is_empty());
    request::begin(&mut world.service, true, world.now);
    world.service.spec_version += 1;
    let plan = pass(&mut world);
    assert_eq!(
        plan.reconciliation.creations.len(),
        2,
        "a forced update replaces every task"
    );
}
