//! Restart policies applied to real containers.

use std::time::Duration;

use engine::ContainerState;
use engine::restart::{Decision, RestartPolicy};

use super::TestResult;
use crate::support::Env;

pub(crate) fn policies_and_backoff() -> TestResult {
    let env = Env::new();
    let mut spec = env.spec("echo run; exit 3");
    spec.restart = RestartPolicy::OnFailure {
        max_retries: Some(2),
    };
    env.run("c1", &spec);
    let mut delays = Vec::new();
    while let Decision::RestartAfter(delay) = env.runtime.restart_decision("c1")? {
        delays.push(delay);
        std::thread::sleep(delay);
        env.runtime.restart("c1", None)?;
        env.runtime.wait("c1", Some(Duration::from_secs(10)))?;
    }
    let ms = Duration::from_millis;
    assert_eq!(
        delays,
        [ms(100), ms(200)],
        "doubling backoff, then the limit"
    );
    let record = env.runtime.state("c1")?;
    assert_eq!(record.restart.restart_count, 2);
    assert_eq!(
        record.state,
        ContainerState::Exited {
            code: 3,
            oom_killed: false
        }
    );
    assert_eq!(env.stdout("c1"), "run\nrun\nrun\n", "three runs, one log");
    // `always` restarts a clean exit; a manual stop suppresses it.
    let mut spec = env.spec("sleep 30");
    spec.restart = RestartPolicy::Always;
    env.start("c2", &spec);
    env.runtime.kill("c2", nix::sys::signal::Signal::SIGKILL)?;
    env.runtime.wait("c2", Some(Duration::from_secs(5)))?;
    assert_eq!(
        env.runtime.restart_decision("c2")?,
        Decision::RestartAfter(ms(100))
    );
    env.runtime.restart("c2", None)?;
    assert_eq!(env.runtime.state("c2")?.state, ContainerState::Running);
    env.runtime.stop("c2", Some(ms(100)))?;
    assert!(env.runtime.state("c2")?.manually_stopped);
    assert_eq!(env.runtime.restart_decision("c2")?, Decision::Stay);
    // A user's restart clears the manual stop.
    env.runtime.restart("c2", None)?;
    let record = env.runtime.state("c2")?;
    assert!(record.state == ContainerState::Running && !record.manually_stopped);
    assert_eq!(record.restart.restart_count, 1);
    Ok(())
}
