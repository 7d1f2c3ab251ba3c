//! Healthchecks run through exec.

use std::time::Duration;

use engine::ExecSpec;
use engine::events::Action;
use engine::health::{HealthConfig, HealthStatus, HealthTest};

use super::TestResult;
use crate::support::Env;

pub(crate) fn real_probes() -> TestResult {
    let env = Env::new();
    let mut spec = env.spec("sleep 30");
    spec.healthcheck = Some(HealthConfig {
        test: HealthTest::CmdShell("echo probing; test -e /ok".into()),
        retries: 2,
        interval: Duration::from_millis(50),
        ..HealthConfig::default()
    });
    env.start("c1", &spec);
    let status = |env: &Env| env.runtime.state("c1").map(|r| r.health.map(|h| h.status));
    assert_eq!(status(&env)?, Some(HealthStatus::Starting));
    assert_eq!(
        env.runtime.probe_health("c1")?,
        Some(HealthStatus::Starting)
    );
    assert_eq!(
        env.runtime.probe_health("c1")?,
        Some(HealthStatus::Unhealthy)
    );
    let touch = ExecSpec::new(["touch", "/ok"]);
    assert_eq!(env.runtime.exec("c1", &touch, None)?.code, 0);
    assert_eq!(env.runtime.probe_health("c1")?, Some(HealthStatus::Healthy));
    let health = env.runtime.state("c1")?.health.ok_or("no health")?;
    let codes: Vec<i32> = health.log.iter().map(|p| p.exit_code).collect();
    assert_eq!(codes, [1, 1, 0]);
    assert!(
        health
            .log
            .iter()
            .all(|p| p.output == "probing\n" && p.end >= p.start)
    );
    let events: Vec<String> = env
        .runtime
        .events()
        .read(None, None)?
        .into_iter()
        .filter(|e| e.action == Action::HealthStatus)
        .filter_map(|e| e.attributes.get("health_status").cloned())
        .collect();
    assert_eq!(events, ["unhealthy", "healthy"]);
    // The scheduled loop keeps probing until the container stops.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| -> TestResult {
        let runner = s.spawn(|| env.runtime.run_healthchecks("c1", &stop));
        std::thread::sleep(Duration::from_millis(400));
        env.runtime.stop("c1", Some(Duration::from_millis(100)))?;
        runner.join().map_err(|_| "health loop panicked")??;
        Ok(())
    })?;
    let health = env.runtime.state("c1")?.health.ok_or("no health")?;
    assert_eq!(health.log.len(), 5, "the loop probed: {health:?}");
    // A probe outliving its timeout fails with Docker's message; NONE disables checks.
    let mut spec = env.spec("sleep 30");
    spec.healthcheck = Some(HealthConfig {
        test: HealthTest::Cmd(vec!["sleep".into(), "5".into()]),
        timeout: Duration::from_millis(200),
        retries: 1,
        ..HealthConfig::default()
    });
    env.start("slow", &spec);
    assert_eq!(
        env.runtime.probe_health("slow")?,
        Some(HealthStatus::Unhealthy)
    );
    let log = env.runtime.state("slow")?.health.ok_or("no health")?.log;
    assert_eq!(log[0].exit_code, -1);
    assert_eq!(log[0].output, "Health check exceeded timeout (200ms)");
    let mut spec = env.spec("sleep 30");
    spec.healthcheck = Some(HealthConfig::default());
    env.start("none", &spec);
    assert_eq!(env.runtime.probe_health("none")?, None);
    assert_eq!(env.runtime.state("none")?.health, None);
    Ok(())
}
