//! End-to-end: `bosun up` / `down` and the compose commands with the real binary, agent and
//! containers (run as root). Each test has its own data root, run root, cgroup parent and
//! project name; the project is taken down and the agent stopped even when the test fails.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use compose_env::{Env, text};

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const TWO: &str = r#"
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  db:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#;

#[test]
fn up_noop_and_down() {
    let env = Env::new(TWO);
    env.ok(&["up", "-d"]);
    let mut ps = env.ps();
    ps.sort();
    assert_eq!(
        ps,
        [
            (env.name("db", 1), "running".to_string()),
            (env.name("web", 1), "running".to_string())
        ]
    );
    // Nothing changed: zero actions.
    let (plan, _) = env.ok(&["up", "-d", "--dry-run"]);
    assert_eq!(plan, "");
    let (_, progress) = env.ok(&["up", "-d", "--progress", "plain"]);
    assert!(
        !progress.lines().any(|l| l.starts_with(" Container ")),
        "no-op up acted: {progress}"
    );
    // Stopped containers start again, through `up` and through `start`.
    env.ok(&["stop", "-t", "1"]);
    assert!(env.ps().iter().all(|(_, state)| state == "exited"));
    let (plan, _) = env.ok(&["up", "-d", "--dry-run"]);
    assert!(
        plan.contains(&format!("start container {}", env.name("web", 1))),
        "{plan}"
    );
    env.ok(&["up", "-d"]);
    assert!(env.ps().iter().all(|(_, state)| state == "running"));
    env.ok(&["stop", "-t", "1", "db"]);
    env.ok(&["start", "db"]);
    assert!(env.ps().iter().all(|(_, state)| state == "running"));
    let (ls, _) = env.ok(&["ls"]);
    assert!(ls.contains(&env.project), "{ls}");
    env.ok(&["down", "-t", "1"]);
    assert!(env.names().is_empty());
}

#[test]
fn recreate_shows_the_reason_and_orphans_are_removed_on_request() {
    let env = Env::new(TWO);
    env.ok(&["up", "-d"]);
    env.write(&TWO.replace(
        "    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n  db:",
        "    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n    environment:\n      MODE: blue\n  db:",
    ));
    let (plan, _) = env.ok(&["up", "-d", "--dry-run"]);
    assert!(
        plan.contains(&format!("create container {}", env.name("web", 1))),
        "{plan}"
    );
    assert!(
        plan.contains("recreate:") && plan.contains("environment"),
        "{plan}"
    );
    assert!(
        !plan.contains(&env.name("db", 1)),
        "db is unchanged: {plan}"
    );
    let (_, progress) = env.ok(&["up", "-d", "--progress", "plain"]);
    assert!(
        progress.contains(&format!(" Container {}  Recreated", env.name("web", 1))),
        "{progress}"
    );
    let (out, _) = env.ok(&["exec", "web", "sh", "-c", "echo $MODE"]);
    assert_eq!(out, "blue\n");

    // db leaves the file: an orphan, warned about, then removed on request.
    env.write("services:\n  web:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n    environment:\n      MODE: blue\n");
    let (_, warn) = env.ok(&["up", "-d"]);
    assert!(
        warn.contains("orphan") && warn.contains(&env.name("db", 1)),
        "{warn}"
    );
    assert!(env.names().contains(&env.name("db", 1)));
    env.ok(&["up", "-d", "--remove-orphans"]);
    assert_eq!(env.names(), [env.name("web", 1)]);
}

#[test]
fn scale_up_and_down_removes_the_highest_numbers() {
    let env = Env::new(TWO);
    env.ok(&["up", "-d", "--scale", "web=3"]);
    let mut names = env.names();
    names.sort();
    assert_eq!(
        names,
        [
            env.name("db", 1),
            env.name("web", 1),
            env.name("web", 2),
            env.name("web", 3)
        ]
    );
    env.ok(&["up", "-d", "--scale", "web=1"]);
    let mut names = env.names();
    names.sort();
    assert_eq!(names, [env.name("db", 1), env.name("web", 1)]);
}

const CONDITIONS: &str = r#"
services:
  init:
    image: busybox:test
    command: ["sh", "-c", "echo ready > /shared/flag"]
    volumes: ["shared:/shared"]
  db:
    image: busybox:test
    command: ["sh", "-c", "sleep 2; touch /tmp/up; sleep 1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/up"]
      interval: 500ms
      retries: 20
  cache:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  app:
    image: busybox:test
    command: ["sh", "-c", "cat /shared/flag; sleep 1000"]
    volumes: ["shared:/shared"]
    stop_grace_period: 1s
    depends_on:
      init: {condition: service_completed_successfully}
      db: {condition: service_healthy}
      cache: {condition: service_started}
volumes:
  shared:
"#;

#[test]
fn depends_on_conditions_and_wait() {
    let env = Env::new(CONDITIONS);
    env.ok(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    let states: std::collections::BTreeMap<String, String> = env.ps().into_iter().collect();
    assert_eq!(states[&env.name("init", 1)], "exited");
    assert_eq!(states[&env.name("db", 1)], "running");
    assert_eq!(states[&env.name("app", 1)], "running");
    // app started only once init had written the flag.
    let (logs, _) = env.ok(&["logs", "--no-log-prefix", "app"]);
    assert_eq!(logs, "ready\n");
    let (ps, _) = env.ok(&["ps", "db"]);
    assert!(ps.contains("(healthy)"), "{ps}");
}

#[test]
fn a_failed_required_dependency_names_the_dependency() {
    let env = Env::new(
        "services:\n  init:\n    image: busybox:test\n    command: [\"false\"]\n  app:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    depends_on:\n      init: {condition: service_completed_successfully}\n",
    );
    let out = env.bosun(&["up", "-d", "--progress", "plain"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("init") && err.contains("exited (1)"), "{err}");
    assert!(
        !env.ps()
            .iter()
            .any(|(n, s)| n == &env.name("app", 1) && s == "running")
    );
}

#[test]
fn an_unhealthy_dependency_is_named_with_its_last_health_output() {
    let env = Env::new(
        "services:\n  db:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    init: true\n    healthcheck:\n      test: [\"CMD-SHELL\", \"echo db is not ready; exit 1\"]\n      interval: 1s\n      retries: 1\n  app:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    depends_on:\n      db: {condition: service_healthy}\n",
    );
    let out = env.bosun(&["up", "-d", "--progress", "plain"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("db") && err.contains("last health check output: db is not ready"),
        "{err}"
    );
}

#[test]
fn run_rm_prints_output_and_leaves_nothing() {
    let env = Env::new(TWO);
    let out = env.bosun(&[
        "run",
        "--rm",
        "-e",
        "WHO=run",
        "web",
        "sh",
        "-c",
        "echo hello $WHO; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello run\n");
    let (all, _) = env.ok(&["ps", "-a", "-q"]);
    assert_eq!(all, "", "the one-off container was removed");
}

const DATA: &str = r#"
services:
  store:
    image: busybox:test
    command: ["sh", "-c", "echo up >> /data/log; sleep 1000"]
    stop_grace_period: 1s
    volumes: ["data:/data"]
volumes:
  data:
"#;

#[test]
fn named_volume_data_survives_down_up_orphans_and_recreate() {
    let env = Env::new(DATA);
    for _ in 0..20 {
        env.ok(&["up", "-d"]);
        env.ok(&["down", "-t", "1"]);
    }
    env.ok(&["up", "-d"]);
    let count = |env: &Env| -> usize {
        let (log, _) = env.ok(&["exec", "store", "cat", "/data/log"]);
        log.lines().count()
    };
    assert_eq!(count(&env), 21);
    // An orphan is removed: the volume stays.
    env.write(&DATA.replace("services:\n", "services:\n  other:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n    volumes: [\"data:/data\"]\n"));
    env.ok(&["up", "-d"]);
    env.write(DATA);
    env.ok(&["up", "-d", "--remove-orphans"]);
    assert_eq!(count(&env), 21);
    // A recreate keeps it.
    env.write(&DATA.replace("stop_grace_period: 1s", "stop_grace_period: 2s"));
    env.ok(&["up", "-d"]);
    assert_eq!(count(&env), 22);
    // down without -v keeps it; down -v removes it.
    env.ok(&["down", "-t", "1"]);
    let volume = format!("{}_data", env.project);
    assert!(
        env.ok_raw(&["volume", "ls", "-q"])
            .lines()
            .any(|l| l == volume)
    );
    env.ok(&["down", "-v"]);
    assert!(
        !env.ok_raw(&["volume", "ls", "-q"])
            .lines()
            .any(|l| l == volume)
    );
}

#[test]
fn events_dry_run_before_the_command_and_rm_confirmation() {
    let env = Env::new(TWO);
    // `--dry-run` before the command plans and changes nothing.
    let (plan, _) = env.ok(&["--dry-run", "up", "-d"]);
    assert!(
        plan.contains(&format!("create container {}", env.name("web", 1))),
        "{plan}"
    );
    assert!(
        env.names().is_empty(),
        "a dry run created {:?}",
        env.names()
    );

    // `events --json` follows the project's events: restart `web` until the follower has
    // shown a start (it has subscribed by then), then a stop must show a die.
    env.ok(&["up", "-d"]);
    let mut events = env
        .command(&["-p", &env.project, "events", "--json", "web"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = events.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(serde_json::from_str(&line.unwrap()).unwrap());
        }
    });
    let mut seen = Vec::new();
    let wait_for = |action: &str, seen: &mut Vec<serde_json::Value>| {
        while let Ok(e) = rx.recv_timeout(Duration::from_secs(3)) {
            seen.push(e.clone());
            if e["action"] == action {
                return true;
            }
        }
        false
    };
    let mut subscribed = false;
    for _ in 0..10 {
        env.ok(&["restart", "-t", "0", "web"]);
        if wait_for("start", &mut seen) {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "no start event in {seen:?}");
    env.ok(&["--dry-run", "stop", "web"]);
    assert!(env.ps().iter().all(|(_, state)| state == "running"));
    env.ok(&["stop", "-t", "1", "web"]);
    assert!(wait_for("die", &mut seen), "no die event in {seen:?}");
    kill(Pid::from_raw(events.id() as i32), Signal::SIGINT).unwrap();
    assert!(events.wait().unwrap().success());
    reader.join().unwrap();
    // Only the asked service's container, named in every line.
    for e in &seen {
        assert_eq!(e["service"], "web", "{e}");
        assert_eq!(e["attributes"]["name"], env.name("web", 1).as_str(), "{e}");
    }

    // `rm` asks first; without a yes nothing is removed.
    let mut rm = env
        .command(&["-p", &env.project, "rm", "web"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    rm.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = rm.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains(&format!("Going to remove {}", env.name("web", 1))),
        "{}",
        text(&out.stderr)
    );
    assert!(env.names().contains(&env.name("web", 1)));
    env.ok(&["rm", "-f", "web"]);
    assert!(!env.names().contains(&env.name("web", 1)));
}
