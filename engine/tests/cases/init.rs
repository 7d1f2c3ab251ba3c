//! The built-in init (`init: true`).

use std::time::{Duration, Instant};

use engine::{ContainerState, ExecSpec};

use super::TestResult;
use crate::support::Env;

fn exited(code: i32) -> ContainerState {
    ContainerState::Exited {
        code,
        oom_killed: false,
    }
}

/// The states of the container's processes, as `(comm, state)` pairs, seen from inside.
fn process_states(
    env: &Env,
    id: &str,
) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let script = "for f in /proc/[0-9]*/stat; do cat $f 2>/dev/null; echo; done";
    let out = env.runtime.exec(
        id,
        &ExecSpec::new(["sh", "-c", script]),
        Some(Duration::from_secs(10)),
    )?;
    let text = String::from_utf8(out.stdout)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (head, rest) = l.rsplit_once(") ")?;
            let comm = head.split_once(" (")?.1.to_string();
            Some((comm, rest.split(' ').next()?.to_string()))
        })
        .collect())
}

pub(crate) fn forwards_and_reaps() -> TestResult {
    let env = Env::new();
    // PID 1 is the init; the entrypoint is its child and exits on SIGTERM at once.
    let mut spec = env.spec("sleep 100");
    spec.args = vec!["sleep".into(), "100".into()];
    spec.init = true;
    let record = env.start("term", &spec);
    std::thread::sleep(Duration::from_millis(100));
    let state = env.runtime.state("term")?.state;
    assert!(
        state.is_alive(),
        "{state:?}: {}",
        env.stream("term", "stderr")
    );
    // The init holds nothing but the container's stdio.
    let init = record.pid.ok_or("no pid")?;
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{init}/fd"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"]);
    let states = process_states(&env, "term")?;
    let comm1 = env.runtime.exec(
        "term",
        &ExecSpec::new(["cat", "/proc/1/comm"]),
        Some(Duration::from_secs(10)),
    )?;
    assert_eq!(
        String::from_utf8(comm1.stdout)?,
        "bosun-init\n",
        "{states:?}"
    );
    let t = Instant::now();
    let state = env.runtime.stop("term", Some(Duration::from_secs(10)))?;
    assert_eq!(state, exited(143), "the init exits with its child's status");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Its own exit code passes through.
    let mut spec = env.spec("exit 5");
    spec.init = true;
    assert_eq!(env.run("code", &spec).0, exited(5));
    // A command it cannot find exits 127, one it cannot run 126, as without the init (a
    // bare name not in PATH is refused at create already).
    for (name, command, code) in [
        ("missing-path", "/no/such/command", 127),
        ("not-executable", "/etc/hostname", 126),
    ] {
        let mut spec = env.spec("true");
        spec.args = vec![command.into()];
        spec.init = true;
        assert_eq!(
            env.run(name, &spec).0,
            exited(code),
            "{command}: {}",
            env.stream(name, "stderr")
        );
    }
    // An orphan reparented to PID 1: the init reaps it; a plain `sleep` as PID 1 does not.
    let script = "sh -c 'sleep 0.1 &'; exec sleep 30";
    let mut spec = env.spec(script);
    spec.init = true;
    env.start("reaped", &spec);
    env.start("control", &env.spec(script));
    // Once the orphan has exited (a zombie under the plain `sleep`), the init must have reaped
    // its own, at the latest a moment later.
    let zombie = |states: &[(String, String)]| {
        states
            .iter()
            .any(|(comm, state)| comm == "sleep" && state == "Z")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let without = process_states(&env, "control")?;
        if zombie(&without) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the control container has no zombie: {without:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let with_init = loop {
        let states = process_states(&env, "reaped")?;
        // Reaped: only the main `sleep 30` is left, and no zombie.
        let sleeps = states.iter().filter(|(comm, _)| comm == "sleep").count();
        if sleeps == 1 && states.iter().all(|(_, state)| state != "Z") {
            break states;
        }
        assert!(
            Instant::now() < deadline,
            "orphan not reaped by the init: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        with_init.iter().any(|(comm, _)| comm == "bosun-init"),
        "{with_init:?}"
    );
    Ok(())
}
