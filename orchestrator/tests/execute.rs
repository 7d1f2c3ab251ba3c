//! The executor against the recording fake: parallelism, dependency order, failure
//! propagation, and `depends_on` condition waits with their timeout.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{fake, load_project, plan_up, up};
use orchestrator::compose::testing::{FakeBackend, ManualClock};
use orchestrator::compose::{
    Action, Backend, ContainerState, ContainerStatus, DownOptions, ExecuteError, ExecuteOptions,
    Health, HealthStatus, PlanOptions, ProgressEvent, execute, execute_with_clock, plan_down,
};

fn options() -> ExecuteOptions {
    ExecuteOptions {
        parallelism: 0,
        wait_timeout: Duration::from_millis(300),
        poll_interval: Duration::from_millis(2),
    }
}

fn health(status: HealthStatus, output: &str) -> ContainerStatus {
    ContainerStatus {
        state: ContainerState::Running,
        health: Some(Health {
            status,
            last_output: output.into(),
        }),
    }
}

fn slow_fake(delay: Duration) -> FakeBackend {
    fake().with_delay(delay)
}

fn call(fake: &FakeBackend, op: &str) -> orchestrator::compose::testing::Call {
    fake.calls()
        .into_iter()
        .find(|c| c.op == op)
        .unwrap_or_else(|| panic!("no call {op}: {:?}", fake.ops()))
}

#[test]
fn independent_steps_run_in_parallel_and_dependents_wait() {
    let fake = slow_fake(Duration::from_millis(40));
    let project = load_project("wide.yaml", &[]);
    let plan = plan_up(&fake, &project, &PlanOptions::default());
    execute(&plan, &fake, &options(), |_| {}).unwrap();
    assert!(
        fake.max_in_flight() >= 4,
        "at most {} calls at once",
        fake.max_in_flight()
    );
    let top = call(&fake, "start demo-top-1");
    for dependency in ["a", "b", "c", "d"] {
        let start = call(&fake, &format!("start demo-{dependency}-1"));
        assert!(start.ended <= top.started, "{dependency} started after top");
    }
}

#[test]
fn parallelism_bounds_concurrent_calls() {
    let fake = slow_fake(Duration::from_millis(5));
    let plan = plan_up(
        &fake,
        &load_project("wide.yaml", &[]),
        &PlanOptions::default(),
    );
    let bounded = ExecuteOptions {
        parallelism: 1,
        ..options()
    };
    execute(&plan, &fake, &bounded, |_| {}).unwrap();
    assert_eq!(fake.max_in_flight(), 1);
    let waits = plan
        .ids()
        .filter(|id| matches!(plan.step(*id).action, Action::AwaitDependency(_)))
        .count();
    assert_eq!(waits, 4, "top waits for a, b, c and d");
    assert_eq!(
        fake.calls().len(),
        plan.len() - waits,
        "every other step is one call"
    );
}

#[test]
fn down_stops_a_level_in_parallel_in_reverse_dependency_order() {
    let fake = fake();
    let project = load_project("wide.yaml", &[]);
    up(&fake, &project, &PlanOptions::default());
    let slow = slow_fake(Duration::from_millis(60));
    slow.set_world(fake.world());
    let plan = plan_down(
        &project,
        &slow.observe("demo").unwrap(),
        &DownOptions::default(),
    )
    .unwrap();
    execute(&plan, &slow, &options(), |_| {}).unwrap();
    let top = call(&slow, "stop demo-top-1");
    let stops: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| call(&slow, &format!("stop demo-{s}-1")))
        .collect();
    assert!(
        stops.iter().all(|s| top.ended <= s.started),
        "dependents stop first"
    );
    let latest_start = stops.iter().map(|s| s.started).max().unwrap();
    let earliest_end = stops.iter().map(|s| s.ended).min().unwrap();
    assert!(latest_start < earliest_end, "the four stops overlap");
}

#[test]
fn a_failure_stops_its_dependants_and_names_the_container() {
    let fake = fake();
    fake.fail("start demo-a-1", "port 80 is already allocated");
    let plan = plan_up(
        &fake,
        &load_project("wide.yaml", &[]),
        &PlanOptions::default(),
    );
    let mut events = Vec::new();
    let err = execute(&plan, &fake, &options(), |p| events.push(p)).unwrap_err();
    let ExecuteError::Failed { failures, skipped } = &err;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].target, "demo-a-1");
    assert_eq!(
        err.to_string(),
        "start container demo-a-1: port 80 is already allocated (2 dependent actions not run)"
    );
    assert_eq!(*skipped, 2, "the wait for a and top's start");
    let ops = fake.ops();
    assert!(!ops.contains(&"start demo-top-1".to_string()), "{ops:?}");
    for other in ["b", "c", "d"] {
        assert!(
            ops.contains(&format!("start demo-{other}-1")),
            "{other} still starts: {ops:?}"
        );
    }
    let skipped_events: Vec<&str> = events
        .iter()
        .filter(|p| p.event == ProgressEvent::Skipped)
        .map(|p| p.action.as_str())
        .collect();
    assert_eq!(skipped_events.len(), 2);
    assert!(skipped_events.contains(&"start container demo-top-1"));
    assert!(
        events
            .iter()
            .any(|p| p.event == ProgressEvent::Failed("port 80 is already allocated".into()))
    );
}

#[test]
fn conditions_are_awaited_in_order() {
    let fake = fake();
    fake.script(
        "db",
        vec![
            health(HealthStatus::Starting, ""),
            health(HealthStatus::Starting, ""),
            health(HealthStatus::Healthy, "PONG"),
        ],
    );
    fake.script(
        "migrate",
        vec![
            ContainerStatus::new(ContainerState::Running),
            ContainerStatus::new(ContainerState::Exited { code: 0 }),
        ],
    );
    fake.script("cache", vec![health(HealthStatus::Healthy, "PONG")]);
    let plan = plan_up(
        &fake,
        &load_project("conditions.yaml", &[]),
        &PlanOptions::default(),
    );
    let report = execute(&plan, &fake, &options(), |_| {}).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        fake.world()
            .containers
            .iter()
            .find(|c| c.name == "demo-web-1")
            .unwrap()
            .status
            .state,
        ContainerState::Running
    );
}

#[test]
fn a_health_timeout_names_the_dependency_and_its_last_output() {
    let fake = fake();
    fake.script(
        "db",
        vec![health(
            HealthStatus::Starting,
            "Could not connect to Redis at 127.0.0.1:6379: Connection refused",
        )],
    );
    fake.script(
        "migrate",
        vec![ContainerStatus::new(ContainerState::Exited { code: 0 })],
    );
    fake.script("cache", vec![health(HealthStatus::Healthy, "PONG")]);
    let plan = plan_up(
        &fake,
        &load_project("conditions.yaml", &[]),
        &PlanOptions::default(),
    );
    // A minute's timeout polled every second, on a clock that moves only when slept on.
    let clock = ManualClock::new();
    let patient = ExecuteOptions {
        wait_timeout: Duration::from_secs(60),
        poll_interval: Duration::from_secs(1),
        ..options()
    };
    let err = execute_with_clock(&plan, &fake, &patient, &clock, |_| {}).unwrap_err();
    assert_eq!(clock.elapsed(), Duration::from_secs(60));
    assert_eq!(
        clock.sleeps(),
        60,
        "one status poll per second until the deadline"
    );
    assert_eq!(
        err.to_string(),
        "wait for db to be healthy (demo-db-1) before starting web: timed out after 60s waiting \
         for dependency db to be healthy: container demo-db-1 is starting, last health check \
         output: Could not connect to Redis at 127.0.0.1:6379: Connection refused \
         (1 dependent action not run)"
    );
    assert!(!fake.ops().contains(&"start demo-web-1".to_string()));
}

#[test]
fn a_failed_completion_fails_and_an_optional_dependency_only_warns() {
    let fake = fake();
    fake.script("db", vec![health(HealthStatus::Healthy, "PONG")]);
    fake.script(
        "migrate",
        vec![ContainerStatus::new(ContainerState::Exited { code: 3 })],
    );
    fake.script(
        "cache",
        vec![health(HealthStatus::Unhealthy, "OOM command not allowed")],
    );
    let plan = plan_up(
        &fake,
        &load_project("conditions.yaml", &[]),
        &PlanOptions::default(),
    );
    let err = execute(&plan, &fake, &options(), |_| {}).unwrap_err();
    let ExecuteError::Failed { failures, .. } = &err;
    let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        ["dependency migrate failed to complete successfully: container demo-migrate-1 exited (3)"]
    );

    let fake = common::fake();
    fake.script("db", vec![health(HealthStatus::Healthy, "PONG")]);
    fake.script(
        "migrate",
        vec![ContainerStatus::new(ContainerState::Exited { code: 0 })],
    );
    fake.script(
        "cache",
        vec![health(HealthStatus::Unhealthy, "OOM command not allowed")],
    );
    let plan = plan_up(
        &fake,
        &load_project("conditions.yaml", &[]),
        &PlanOptions::default(),
    );
    let report = execute(&plan, &fake, &options(), |_| {}).unwrap();
    assert_eq!(
        report.warnings,
        [
            "dependency cache failed to be healthy: container demo-cache-1 is unhealthy, last health \
          check output: OOM command not allowed (optional dependency of web)"
        ]
    );
    assert!(fake.ops().contains(&"start demo-web-1".to_string()));
}
