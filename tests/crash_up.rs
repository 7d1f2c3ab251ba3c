//! Crash consistency of `bosun up`: the agent is killed (SIGKILL) in the middle of `up -d` of a
//! multi-service project, at many points in time and at the crash points timing cannot reach
//! reliably (the engine's `failpoints` feature, on in test builds). Each time, the next
//! `up -d` converges — every service once, running, no duplicate, no process outside a listed
//! container — and after `down` nothing of the project is left (mounts, container and run
//! directories, cgroups, links).

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use compose_env::{Env, text};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PROJECT: &str = r#"
services:
  a:
    image: busybox:test
    command: ["sleep", "1000"]
    init: true
  b:
    image: busybox:test
    command: ["sleep", "1000"]
    depends_on: [a]
  c:
    image: busybox:test
    command: ["sleep", "1000"]
  d:
    image: busybox:test
    command: ["sleep", "1000"]
    volumes: ["dv:/data"]
  e:
    image: busybox:test
    command: ["sleep", "1000"]
    depends_on: [c]
volumes:
  dv: {}
"#;

const SERVICES: [&str; 5] = ["a", "b", "c", "d", "e"];

/// How many kills the timing loop makes.
const KILLS: u64 = 50;

/// The kills are spread over this window after `up -d` starts (an `up` of the project takes
/// about 0.2 s on an idle machine, longer under load).
const WINDOW_MS: u64 = 400;

/// Waits until the process `pid` is gone.
fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while kill(Pid::from_raw(pid), None).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The agent's pid, once its pid file names a live process.
fn live_agent(env: &Env) -> Option<i32> {
    env.agent_pid()
        .filter(|pid| kill(Pid::from_raw(*pid), None).is_ok())
}

/// The last lines of the agent's log.
fn agent_log_tail(env: &Env) -> String {
    let log = std::fs::read_to_string(env.run_root().join("agent.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Stops the agent, so that the next command starts one with its own environment.
fn stop_agent(env: &Env) {
    if let Some(pid) = live_agent(env) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        wait_gone(pid);
    }
}

/// `ps -a --format json` as (id, service, state).
fn containers(env: &Env) -> Vec<(String, String, String)> {
    let (out, _) = env.ok(&["ps", "-a", "--format", "json"]);
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let field = |k: &str| v[k].as_str().unwrap().to_string();
            (field("ID"), field("Service"), field("State"))
        })
        .collect()
}

/// The cgroup directory of the containers in the pids hierarchy (cgroup v1 or hybrid), or in
/// the unified one.
fn cgroup_root(env: &Env) -> Option<PathBuf> {
    ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
        .iter()
        .map(|h| Path::new(h).join(&env.cgroup_parent))
        .find(|p| p.is_dir())
}

/// The container cgroups below the test's cgroup parent that hold a process.
fn busy_cgroups(env: &Env) -> BTreeSet<String> {
    let Some(root) = cgroup_root(env) else {
        return BTreeSet::new();
    };
    std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cgroup.procs"))
                .is_ok_and(|procs| !procs.trim().is_empty())
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Every service once, running, and every process of ours inside a listed container.
fn assert_converged(env: &Env, context: &str) {
    let listed = containers(env);
    let services: Vec<&str> = listed.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(services.len(), SERVICES.len(), "{context}: {listed:?}");
    for service in SERVICES {
        assert_eq!(
            services.iter().filter(|s| **s == service).count(),
            1,
            "{context}: service {service} in {listed:?}"
        );
    }
    assert!(
        listed.iter().all(|(_, _, state)| state == "running"),
        "{context}: {listed:?}"
    );
    let ids: BTreeSet<String> = listed.into_iter().map(|(id, _, _)| id).collect();
    let busy = busy_cgroups(env);
    assert!(
        busy.is_subset(&ids),
        "{context}: processes outside the listed containers: {:?}",
        busy.difference(&ids).collect::<Vec<_>>()
    );
}

/// After `down`: no container, no mount below the data root, no container or run directory,
/// no busy cgroup (the run root keeps only the agent's own files and project locks).
fn assert_nothing_left(env: &Env, context: &str) {
    let data = env.tmp.path().join("data");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(&data))
        .collect();
    assert!(ours.is_empty(), "{context}: mounts left: {ours:?}");
    let left: Vec<_> = std::fs::read_dir(data.join("containers"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{context}: container dirs left: {left:?}");
    let run_left: Vec<_> = std::fs::read_dir(env.run_root())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.file_name() != "compose-locks")
        .map(|e| e.file_name())
        .collect();
    assert!(
        run_left.is_empty(),
        "{context}: run dirs left: {run_left:?}"
    );
    let busy = busy_cgroups(env);
    assert!(busy.is_empty(), "{context}: busy cgroups left: {busy:?}");
}

fn down(env: &Env) {
    env.ok(&["down", "-t", "0"]);
}

#[test]
fn agent_killed_at_spread_points_of_up_always_converges() {
    let env = Env::new(PROJECT);
    let mut missed = 0;
    for n in 0..KILLS {
        // Spread evenly over the window in a scrambled order (37 is prime to the count).
        let delay = Duration::from_millis((n * 37 % KILLS) * WINDOW_MS / KILLS);
        let mut up = env
            .command(&["-p", &env.project, "up", "-d"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        match live_agent(&env) {
            Some(pid) => {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                wait_gone(pid);
            }
            None => missed += 1,
        }
        let _ = up.wait();
        let context = format!("kill {n} after {delay:?}");
        let again = env.bosun(&["up", "-d"]);
        assert!(
            again.status.success(),
            "{context}: up -d after the kill failed: {}\nagent log:\n{}",
            text(&again.stderr),
            agent_log_tail(&env)
        );
        assert_converged(&env, &context);
        down(&env);
        assert_nothing_left(&env, &context);
    }
    // The agent the first `up` starts must have been there to be killed almost every time.
    assert!(
        missed < KILLS / 5,
        "{missed} of {KILLS} kills found no agent"
    );
}

/// Points of create and start that a kill at a random time rarely hits.
const CRASH_POINTS: [&str; 5] = [
    "create-rootfs-ready",
    "create-shim-spawned",
    "agent-created",
    "network-plugged",
    "start-connected",
];

#[test]
fn agent_crashing_at_each_crash_point_of_up_converges() {
    let env = Env::new(PROJECT);
    for point in CRASH_POINTS.into_iter().chain(["start-released"]) {
        stop_agent(&env);
        // The `up` starts the agent, which inherits the crash point.
        let crashed = env
            .command(&["-p", &env.project, "up", "-d"])
            .env("FAILPOINTS", format!("{point}=return"))
            .output()
            .unwrap();
        assert!(
            !crashed.status.success(),
            "{point}: the crash point was never reached: {}",
            text(&crashed.stderr)
        );
        let log = std::fs::read_to_string(env.run_root().join("agent.log")).unwrap();
        assert!(
            log.contains(&format!("failpoint {point}: killing the process")),
            "{point}: the agent did not crash there"
        );
        stop_agent(&env);
        let again = env.bosun(&["up", "-d"]);
        assert!(
            again.status.success(),
            "{point}: up -d after the crash failed: {}",
            text(&again.stderr)
        );
        assert_converged(&env, point);
        down(&env);
        assert_nothing_left(&env, point);
    }
}

/// A crash between the release of the entrypoint and its record: the container runs but is
/// recorded `created`. The next agent records it running without a second start, and the
/// process is the one started before the crash.
#[test]
fn released_entrypoint_is_recorded_running_by_the_next_agent() {
    let env = Env::new(PROJECT);
    stop_agent(&env);
    let crashed = env
        .command(&["-p", &env.project, "up", "-d", "c"])
        .env("FAILPOINTS", "start-released=return")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "{}", text(&crashed.stderr));
    let before = busy_cgroups(&env);
    assert_eq!(before.len(), 1, "the released container runs: {before:?}");
    // Any command starts a new agent, which finds the container released.
    let listed = containers(&env);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].2, "running", "{listed:?}");
    assert!(before.contains(&listed[0].0));
    down(&env);
    assert_nothing_left(&env, "after down");
}
