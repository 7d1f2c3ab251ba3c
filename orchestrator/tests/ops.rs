//! The commands over existing containers (`start`, `stop`, `restart`, `kill`, `rm`, `pause`,
//! `unpause`), the image commands and `up --wait`, decided from the observed state and run on
//! the recording fake.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{PROJECT, fake, load_project, up};
use orchestrator::compose::ops::{
    self, Batch, ContainerOp, Readiness, WaitError, images_to_remove, images_to_transfer,
    readiness, run_batch,
};
use orchestrator::compose::testing::{FakeBackend, ManualClock};
use orchestrator::compose::{
    Backend, ContainerState, ContainerStatus, Health, HealthStatus, ObservedContainer, PlanOptions,
    labels,
};

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn state(fake: &FakeBackend, name: &str) -> ContainerState {
    fake.world()
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
        .status
        .state
}

/// Sets the state of the named containers in the fake's world.
fn set_state(fake: &FakeBackend, names: &[&str], state: ContainerState) {
    let mut world = fake.world();
    for c in &mut world.containers {
        if names.contains(&c.name.as_str()) {
            c.status = ContainerStatus::new(state);
        }
    }
    fake.set_world(world);
}

/// Adds a copy of `from` named `name`, with `label` set to `value`.
fn add_copy(fake: &FakeBackend, from: &str, name: &str, label: &str, value: &str) {
    let mut world = fake.world();
    let mut copy: ObservedContainer = world
        .containers
        .iter()
        .find(|c| c.name == from)
        .unwrap()
        .clone();
    copy.name = name.to_string();
    copy.id = format!("{name}-id");
    copy.labels.insert(label.to_string(), value.to_string());
    world.containers.push(copy);
    fake.set_world(world);
}

fn observe(fake: &FakeBackend) -> orchestrator::compose::Observed {
    fake.observe(PROJECT).unwrap()
}

const EXITED: ContainerState = ContainerState::Exited { code: 0 };

#[test]
fn start_runs_the_stopped_dependencies_first_service_by_service() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    set_state(&fake, &["demo-db-1", "demo-web-1"], EXITED);
    // api still runs: nothing to start there. worker is not a dependency of web.
    set_state(&fake, &["demo-worker-1"], ContainerState::Created);
    let batches = ops::start(&project, &observe(&fake), &strings(&["web"])).unwrap();
    assert_eq!(
        batches,
        vec![
            Batch::new(ContainerOp::Start, strings(&["demo-db-1"])),
            Batch::new(ContainerOp::Start, strings(&["demo-web-1"])),
        ]
    );
    for batch in &batches {
        assert!(run_batch(&fake, batch).iter().all(|o| o.result.is_ok()));
    }
    assert_eq!(state(&fake, "demo-db-1"), ContainerState::Running);
    assert_eq!(state(&fake, "demo-web-1"), ContainerState::Running);
    assert_eq!(state(&fake, "demo-worker-1"), ContainerState::Created);
    let ops = fake.ops();
    let at = |op: &str| ops.iter().position(|o| o == op).unwrap();
    assert!(at("start demo-db-1") < at("start demo-web-1"));
    // With none named, every stopped service container starts.
    let all = ops::start(&project, &observe(&fake), &[]).unwrap();
    assert_eq!(
        all,
        vec![Batch::new(ContainerOp::Start, strings(&["demo-worker-1"]))]
    );
}

#[test]
fn stop_takes_every_container_of_the_model_stopped_ones_too_and_no_one_off_or_orphan() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    set_state(&fake, &["demo-worker-2"], EXITED);
    add_copy(
        &fake,
        "demo-web-1",
        "demo-web-run-1",
        labels::ONEOFF,
        labels::TRUE,
    );
    // A service of another file of the same project: an orphan of this model.
    add_copy(
        &fake,
        "demo-web-1",
        "demo-other-1",
        labels::SERVICE,
        "other",
    );
    let timeout = Some(Duration::from_secs(3));
    let batch = ops::stop(&project, &observe(&fake), &[], timeout);
    assert_eq!(batch.op, ContainerOp::Stop { timeout });
    let all = [
        "demo-api-1",
        "demo-db-1",
        "demo-web-1",
        "demo-worker-1",
        "demo-worker-2",
    ];
    assert_eq!(batch.containers, strings(&all));
    let named = ops::stop(&project, &observe(&fake), &strings(&["worker"]), None);
    assert_eq!(
        named.containers,
        strings(&["demo-worker-1", "demo-worker-2"])
    );
    let outcomes = run_batch(&fake, &batch);
    let names: Vec<&str> = outcomes.iter().map(|o| o.container.as_str()).collect();
    assert_eq!(names, all);
    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    for name in all {
        assert_eq!(state(&fake, name), EXITED, "{name}");
    }
    assert_eq!(state(&fake, "demo-other-1"), ContainerState::Running);
    assert_eq!(state(&fake, "demo-web-run-1"), ContainerState::Running);
}

#[test]
fn a_batch_runs_its_containers_at_once_and_a_failure_spares_the_others() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    let fake = FakeBackend::new(fake.world()).with_delay(Duration::from_millis(100));
    fake.fail("stop demo-worker-1", "cannot stop it");
    let batch = ops::stop(&project, &observe(&fake), &[], None);
    let outcomes = run_batch(&fake, &batch);
    assert_eq!(fake.max_in_flight(), 5);
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.container.as_str())
        .collect();
    assert_eq!(failed, ["demo-worker-1"]);
    assert_eq!(state(&fake, "demo-worker-2"), EXITED);
    assert_eq!(state(&fake, "demo-worker-1"), ContainerState::Running);
}

#[test]
fn restart_takes_the_dependents_that_declared_restart_true() {
    let fake = fake();
    let project = load_project("restart.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    set_state(&fake, &["demo-api-1"], EXITED);
    let batches = ops::restart(&project, &observe(&fake), &strings(&["db"]), false, None).unwrap();
    let op = ContainerOp::Restart { timeout: None };
    assert_eq!(
        batches,
        vec![
            Batch::new(op, strings(&["demo-db-1"])),
            Batch::new(op, strings(&["demo-api-1"])),
        ]
    );
    for batch in &batches {
        assert!(run_batch(&fake, batch).iter().all(|o| o.result.is_ok()));
    }
    // A stopped container is restarted too; web (no `restart: true`) is left alone.
    assert_eq!(state(&fake, "demo-api-1"), ContainerState::Running);
    assert!(!fake.ops().contains(&"restart demo-web-1".to_string()));
    let alone = ops::restart(&project, &observe(&fake), &strings(&["db"]), true, None).unwrap();
    assert_eq!(alone, vec![Batch::new(op, strings(&["demo-db-1"]))]);
}

#[test]
fn rm_takes_the_stopped_containers_and_their_anonymous_volumes() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    set_state(&fake, &["demo-worker-1"], EXITED);
    set_state(&fake, &["demo-worker-2"], ContainerState::Created);
    let anonymous: Vec<String> = fake
        .world()
        .containers
        .iter()
        .filter(|c| c.name.starts_with("demo-worker"))
        .flat_map(|c| {
            c.anonymous_volumes()
                .map(|(_, v)| v.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(anonymous.len(), 2);
    let batch = ops::remove(&project, &observe(&fake), &[], true);
    assert_eq!(
        batch.op,
        ContainerOp::Remove {
            anonymous_volumes: true
        }
    );
    assert_eq!(
        batch.containers,
        strings(&["demo-worker-1", "demo-worker-2"])
    );
    assert!(run_batch(&fake, &batch).iter().all(|o| o.result.is_ok()));
    let world = fake.world();
    assert_eq!(world.containers.len(), 3);
    assert!(world.volumes.iter().all(|v| !anonymous.contains(&v.name)));
    assert!(ops::remove(&project, &observe(&fake), &[], true).is_empty());
}

#[test]
fn kill_pause_and_unpause_act_on_the_live_containers() {
    let fake = fake();
    let project = load_project("restart.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    let web = strings(&["web"]);
    let pause = ops::pause(&project, &observe(&fake), &web);
    assert_eq!(
        pause,
        Batch::new(ContainerOp::Pause, strings(&["demo-web-1"]))
    );
    assert!(run_batch(&fake, &pause)[0].result.is_ok());
    assert_eq!(state(&fake, "demo-web-1"), ContainerState::Paused);
    // A paused container is live: unpause and kill both take it.
    let unpause = ops::unpause(&project, &observe(&fake), &web);
    assert_eq!(unpause.containers, strings(&["demo-web-1"]));
    assert!(run_batch(&fake, &unpause)[0].result.is_ok());
    assert_eq!(state(&fake, "demo-web-1"), ContainerState::Running);
    set_state(&fake, &["demo-db-1"], EXITED);
    let kill = ops::kill(&project, &observe(&fake), &[], 9);
    assert_eq!(kill.op, ContainerOp::Kill { signal: 9 });
    assert_eq!(kill.containers, strings(&["demo-api-1", "demo-web-1"]));
    assert!(run_batch(&fake, &kill).iter().all(|o| o.result.is_ok()));
    assert_eq!(
        state(&fake, "demo-web-1"),
        ContainerState::Exited { code: 137 }
    );
}

#[test]
fn the_done_words_are_composes() {
    let words: Vec<&str> = [
        ContainerOp::Start,
        ContainerOp::Stop { timeout: None },
        ContainerOp::Restart { timeout: None },
        ContainerOp::Kill { signal: 9 },
        ContainerOp::Remove {
            anonymous_volumes: false,
        },
        ContainerOp::Pause,
        ContainerOp::Unpause,
    ]
    .into_iter()
    .map(ContainerOp::done_word)
    .collect();
    assert_eq!(
        words,
        [
            "Started",
            "Stopped",
            "Restarted",
            "Killed",
            "Removed",
            "Paused",
            "Unpaused"
        ]
    );
}

#[test]
fn pull_push_and_rmi_pick_the_services_images() {
    let project = load_project("chain.yaml", &[]);
    assert_eq!(
        images_to_transfer(&project, &[]),
        strings(&["api:1", "nginx:1", "redis:6"])
    );
    assert_eq!(
        images_to_transfer(&project, &strings(&["worker", "api"])),
        strings(&["api:1"])
    );
    let fake = fake();
    for image in images_to_transfer(&project, &[]) {
        assert_eq!(fake.pull_image(&image).unwrap(), common::digest(&image));
        assert_eq!(fake.push_image(&image).unwrap(), common::digest(&image));
    }
    let build = load_project("build.yaml", &[]);
    let local: Vec<String> = images_to_remove(&build, false).into_iter().collect();
    assert_eq!(local, strings(&["demo-api", "demo-worker"]));
    let all: Vec<String> = images_to_remove(&build, true).into_iter().collect();
    assert_eq!(
        all,
        strings(&[
            "demo-api",
            "demo-worker",
            "redis:7",
            "registry.example/web:2"
        ])
    );
}

fn with_health(state: ContainerState, health: Option<HealthStatus>) -> ContainerStatus {
    ContainerStatus {
        state,
        health: health.map(|status| Health {
            status,
            last_output: String::new(),
        }),
    }
}

#[test]
fn readiness_follows_state_and_health() {
    use ContainerState::{Created, Exited, Running};
    use HealthStatus::{Healthy, Starting, Unhealthy};
    let fake = fake();
    let project = load_project("restart.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    let mut container = fake.world().containers[0].clone();
    container.name = "demo-web-1".into();
    let mut judge = |state, health| {
        container.status = with_health(state, health);
        readiness(&container)
    };
    assert_eq!(judge(Running, None), Readiness::Ready);
    assert_eq!(
        judge(Running, Some(Starting)),
        Readiness::Pending("running, starting".into())
    );
    assert_eq!(judge(Running, Some(Healthy)), Readiness::Ready);
    assert_eq!(judge(Exited { code: 0 }, None), Readiness::Ready);
    assert_eq!(judge(Created, None), Readiness::Pending("created".into()));
    assert_eq!(
        judge(Exited { code: 2 }, None),
        Readiness::Failed("container demo-web-1 exited (2)".into())
    );
    assert_eq!(
        judge(Running, Some(Unhealthy)),
        Readiness::Failed("container demo-web-1 is unhealthy".into())
    );
}

#[test]
fn wait_ready_polls_until_ready_fails_or_times_out() {
    let fake = fake();
    let project = load_project("restart.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    let poll = Duration::from_millis(200);
    let timeout = Duration::from_secs(2);
    let clock = ManualClock::new();
    ops::wait_ready(&fake, &clock, PROJECT, &[], timeout, poll).unwrap();
    assert_eq!(clock.sleeps(), 0);

    let mut world = fake.world();
    for c in &mut world.containers {
        if c.name == "demo-db-1" {
            c.status = with_health(ContainerState::Running, Some(HealthStatus::Starting));
        }
    }
    fake.set_world(world);
    let err = ops::wait_ready(&fake, &clock, PROJECT, &[], timeout, poll).unwrap_err();
    assert_eq!(
        err,
        WaitError::TimedOut {
            timeout,
            pending: strings(&["demo-db-1 (running, starting)"]),
        }
    );
    assert_eq!(
        err.to_string(),
        "timed out after 2s waiting for demo-db-1 (running, starting)"
    );
    assert_eq!(clock.sleeps(), 10);
    // Only the named services count.
    let web = strings(&["web"]);
    ops::wait_ready(&fake, &ManualClock::new(), PROJECT, &web, timeout, poll).unwrap();

    set_state(&fake, &["demo-api-1"], ContainerState::Exited { code: 3 });
    let err = ops::wait_ready(&fake, &ManualClock::new(), PROJECT, &[], timeout, poll);
    assert_eq!(
        err,
        Err(WaitError::Failed("container demo-api-1 exited (3)".into()))
    );
}
