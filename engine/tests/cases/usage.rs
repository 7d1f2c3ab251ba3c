//! cpu quota throttling and top.

use std::time::{Duration, Instant};

use engine::spec::Resources;

use super::TestResult;
use crate::support::Env;

pub(crate) fn cpu_quota_and_top() -> TestResult {
    let env = Env::new();
    let mut spec = env.spec("while :; do :; done");
    spec.resources = Resources::default().with_cpus(0.2);
    let record = env.start("c1", &spec);
    std::thread::sleep(Duration::from_millis(300));
    let first = env.runtime.stats("c1")?;
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    let second = env.runtime.stats("c1")?;
    let wall = t.elapsed();
    assert!(
        second.cpu_throttled_periods > first.cpu_throttled_periods,
        "no throttling: {first:?} -> {second:?}"
    );
    let used = Duration::from_nanos(second.cpu_usage_ns - first.cpu_usage_ns);
    assert!(
        used < wall.mul_f64(0.3),
        "a busy loop limited to 0.2 cpus used {used:?} in {wall:?}"
    );
    assert!(used > wall.mul_f64(0.1), "the loop barely ran: {used:?}");
    let top = env.runtime.top("c1")?;
    assert_eq!(top.len(), 1, "{top:?}");
    let p = &top[0];
    assert_eq!(p.pid, record.pid.ok_or("no pid")?);
    assert_eq!((p.user.as_str(), p.tty.as_str()), ("root", "?"));
    assert_eq!(p.cmd, "sh -c while :; do :; done");
    assert!(p.state == 'R' || p.state == 'S', "{p:?}");
    assert_eq!(p.columns().len(), engine::runtime::TOP_TITLES.len());
    Ok(())
}
