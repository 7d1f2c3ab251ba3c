//! End-to-end: behaving as Compose does where Compose's own end-to-end tests say how, with the
//! real binary, agent and containers (run as root). Each test names the Compose test it follows;
//! the scenarios are ours.
//!
//! - A command that acts on the existing project (`ps`, `logs -f`, `wait`, `down`, `restart`,
//!   `stop`, `start`, …) works without the compose file when `-p` names the project, from its
//!   containers' labels; one that needs the model (`up`, `run`, …) still says no file was found.
//! - A service named on the command line (`up web`, `run web`) is enabled even when none of its
//!   profiles is active, and a service switched off by profiles is never an orphan.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use compose_env::{Env, text};

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A directory of this test with no compose file in it or its parents.
fn elsewhere(env: &Env) -> PathBuf {
    let dir = env.tmp.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `bosun -p <project> <args>` run from [`elsewhere`].
fn command_elsewhere(env: &Env, args: &[&str]) -> Command {
    let mut all = vec!["-p", env.project.as_str()];
    all.extend_from_slice(args);
    let mut command = env.command(&all);
    command.current_dir(elsewhere(env));
    command
}

fn elsewhere_raw(env: &Env, args: &[&str]) -> Output {
    command_elsewhere(env, args).output().unwrap()
}

/// Runs from [`elsewhere`] and expects success; returns (stdout, stderr).
fn elsewhere_ok(env: &Env, args: &[&str]) -> (String, String) {
    let out = elsewhere_raw(env, args);
    assert!(
        out.status.success(),
        "bosun -p {} {args:?} (no compose file): {}{}",
        env.project,
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// A command started in the background whose stdout is collected as it comes.
struct Background {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Background {
    fn start(mut command: Command) -> Background {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&text(&buf[..n]));
            }
        });
        Background { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle`.
    fn expect(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {timeout:?} in:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PS: &str = r#"
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

/// Follows Compose's TestPs: `ps` by project name, where there is no compose file; a command
/// that needs the model still says that no file was found.
#[test]
fn ps_by_project_name_without_the_file() {
    let env = Env::new(PS);
    env.ok(&["up", "-d"]);
    let (out, _) = elsewhere_ok(&env, &["ps", "-a", "--format", "json"]);
    let mut names: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["Name"].as_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, [env.name("db", 1), env.name("web", 1)]);
    let (services, _) = elsewhere_ok(&env, &["ps", "--services"]);
    assert_eq!(services.lines().collect::<Vec<_>>(), ["db", "web"]);
    let (quiet, _) = elsewhere_ok(&env, &["ps", "-q", "web"]);
    assert_eq!(quiet.lines().count(), 1, "{quiet}");

    for needs_the_model in [&["up", "-d"][..], &["run", "web", "true"], &["config"]] {
        let out = elsewhere_raw(&env, needs_the_model);
        assert!(!out.status.success(), "{needs_the_model:?} worked");
        let err = text(&out.stderr);
        assert!(
            err.contains("no configuration file provided"),
            "{needs_the_model:?}: {err}"
        );
    }
    // Without a name, there is nothing to act on either.
    let mut unnamed = env.command(&["ps"]);
    let out = unnamed.current_dir(elsewhere(&env)).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no configuration file provided"));
}

/// Follows Compose's TestPs for `exec`: by project name, where there is no compose file, it
/// runs in the service's container found from the labels (`bosun -p NAME exec SERVICE …`).
#[test]
fn exec_by_project_name_without_the_file() {
    let env = Env::new(PS);
    env.ok(&["up", "-d"]);
    let (out, _) = elsewhere_ok(&env, &["exec", "-T", "web", "echo", "from", "web"]);
    assert_eq!(out.trim(), "from web");
    let out = elsewhere_raw(&env, &["exec", "-T", "nosuch", "true"]);
    assert!(!out.status.success(), "exec on no such service worked");
    let err = text(&out.stderr);
    assert!(err.contains("no such service: nosuch"), "{err}");
    env.ok(&["down", "-t", "1"]);
}

const LOGS: &str = r#"
services:
  ping:
    image: busybox:test
    command: ["sh", "-c", "while true; do echo ping; sleep 0.2; done"]
    stop_grace_period: 1s
  hello:
    image: busybox:test
    command: ["sh", "-c", "echo hello; sleep 1000"]
    stop_grace_period: 1s
"#;

/// Follows Compose's TestLocalComposeLogsFollow: `logs -f` by project name follows the
/// containers that exist and those that appear later.
#[test]
fn logs_follow_by_project_name_without_the_file() {
    let env = Env::new(LOGS);
    env.ok(&["up", "-d", "ping"]);
    let follow = Background::start(command_elsewhere(&env, &["logs", "-f"]));
    follow.expect(
        &format!("{} ", env.name("ping", 1)),
        Duration::from_secs(15),
    );
    env.ok(&["up", "-d"]);
    follow.expect(
        &format!("{} ", env.name("hello", 1)),
        Duration::from_secs(15),
    );
    env.ok(&["up", "-d", "--scale", "ping=2", "ping"]);
    follow.expect(
        &format!("{} ", env.name("ping", 2)),
        Duration::from_secs(15),
    );
}

const INFINITY: &str = r#"
services:
  infinity:
    image: busybox:test
    command: ["sleep", "infinity"]
    stop_grace_period: 1s
"#;

/// Follows Compose's TestWaitOnInfinity: `wait` by project name blocks while the service runs,
/// and ends with its exit code once it stops.
#[test]
fn wait_by_project_name_without_the_file() {
    let env = Env::new(INFINITY);
    env.ok(&["up", "-d"]);
    let mut waiting = Background::start(command_elsewhere(&env, &["wait", "infinity"]));
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        waiting.child.try_wait().unwrap().is_none(),
        "wait ended while the service runs: {}",
        waiting.output()
    );
    elsewhere_ok(&env, &["kill", "infinity"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = waiting.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "wait did not end after the kill");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The reader may still be copying the last bytes.
    std::thread::sleep(Duration::from_millis(200));
    let output = waiting.output();
    assert_eq!(
        output.trim_end(),
        format!("{} 137", env.name("infinity", 1))
    );
    assert_eq!(status.code(), Some(137), "{output}");
}

const DOWN: &str = r#"
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    networks: [front, back]
    volumes: ["data:/data"]
  db:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    networks: [back]
networks:
  front: {}
  back: {}
volumes:
  data: {}
"#;

/// The names of the networks or volumes (`what`) that start with the project's prefix.
fn listed(env: &Env, what: &str) -> Vec<String> {
    let prefix = format!("{}_", env.project);
    let mut names: Vec<String> = env
        .ok_raw(&[what, "ls", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["Name"].as_str().unwrap().to_string()
        })
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// Follows Compose's TestDownComposefileInParentFolder: `down` by project name, away from the
/// compose file, removes the containers and the networks the project created; its named
/// volumes go only with `-v`.
#[test]
fn down_by_project_name_without_the_file() {
    let env = Env::new(DOWN);
    env.ok(&["up", "-d"]);
    let networks = [
        format!("{}_back", env.project),
        format!("{}_front", env.project),
    ];
    assert_eq!(listed(&env, "network"), networks);
    assert_eq!(listed(&env, "volume"), [format!("{}_data", env.project)]);

    let (_, progress) = elsewhere_ok(&env, &["down", "-t", "1"]);
    assert!(
        progress.contains(&format!(" Container {}  Removed", env.name("web", 1))),
        "{progress}"
    );
    assert!(env.ps().is_empty(), "{:?}", env.ps());
    assert!(
        listed(&env, "network").is_empty(),
        "{:?}",
        listed(&env, "network")
    );
    assert_eq!(
        listed(&env, "volume"),
        [format!("{}_data", env.project)],
        "a named volume stays without -v"
    );

    env.ok(&["up", "-d"]);
    elsewhere_ok(&env, &["down", "-v", "-t", "1"]);
    assert!(env.ps().is_empty());
    assert!(listed(&env, "network").is_empty());
    assert!(
        listed(&env, "volume").is_empty(),
        "{:?}",
        listed(&env, "volume")
    );
}

const RESTART: &str = r#"
services:
  test:
    image: busybox:test
    profiles: [test]
    command: ["sh", "-c", "echo started; sleep 1000"]
    stop_grace_period: 1s
  other:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#;

/// Follows Compose's TestRestartWithProfiles: a service of a profile, brought up with
/// `--profile`, is restarted (and stopped, started, paused) by project name without the file.
#[test]
fn lifecycle_by_project_name_without_the_file() {
    let env = Env::new(RESTART);
    env.ok(&["--profile", "test", "up", "-d"]);
    let test = env.name("test", 1);

    let (_, progress) = elsewhere_ok(&env, &["restart", "-t", "1", "test"]);
    assert!(
        progress.contains(&format!("Container {test}  Restarted")),
        "{progress}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (logs, _) = elsewhere_ok(&env, &["logs", "test"]);
        if logs.matches("started").count() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "not started again: {logs}");
        std::thread::sleep(Duration::from_millis(100));
    }

    elsewhere_ok(&env, &["stop", "-t", "1", "test"]);
    let state = |name: &str| {
        env.ps()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    };
    assert_eq!(state(&test).as_deref(), Some("exited"));
    assert_eq!(state(&env.name("other", 1)).as_deref(), Some("running"));
    elsewhere_ok(&env, &["start", "test"]);
    assert_eq!(state(&test).as_deref(), Some("running"));
    elsewhere_ok(&env, &["pause", "other"]);
    assert_eq!(state(&env.name("other", 1)).as_deref(), Some("paused"));
    elsewhere_ok(&env, &["unpause", "other"]);
    assert_eq!(state(&env.name("other", 1)).as_deref(), Some("running"));
    let out = elsewhere_raw(&env, &["stop", "nosuch"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no such service: nosuch"),
        "{}",
        text(&out.stderr)
    );
}

const PROFILES: &str = r#"
services:
  main:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  profiled-service:
    image: busybox:test
    profiles: [test-profile]
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on: [helper]
  helper:
    image: busybox:test
    profiles: [other-profile]
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#;

/// Follows Compose's TestUpProfile and TestActiveProfileViaTargetedService: `up` of a service
/// whose profile is not active starts it (with what it needs) and nothing else; a later `up`
/// of the active profiles neither counts it as an orphan nor removes it.
#[test]
fn up_of_a_named_profiled_service_enables_it() {
    let env = Env::new(PROFILES);
    env.ok(&["up", "-d", "profiled-service"]);
    let mut ps = env.ps();
    ps.sort();
    assert_eq!(
        ps,
        [
            (env.name("helper", 1), "running".to_string()),
            (env.name("profiled-service", 1), "running".to_string()),
        ]
    );

    let (_, progress) = env.ok(&["up", "-d", "--remove-orphans"]);
    assert!(!progress.contains("orphan"), "{progress}");
    let mut ps = env.ps();
    ps.sort();
    assert_eq!(
        ps,
        [
            (env.name("helper", 1), "running".to_string()),
            (env.name("main", 1), "running".to_string()),
            (env.name("profiled-service", 1), "running".to_string()),
        ],
        "a service switched off by profiles is not an orphan"
    );
    let out = env.bosun(&["up", "-d", "nosuch"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no such service: nosuch"));
}

const RUN_ENV_FILE: &str = r#"
services:
  serviceA:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  serviceC:
    image: busybox:test
    profiles: [test]
    env_file: ./run.env
"#;

/// Follows Compose's TestRunEnvFile: `run` of a service whose profile is not active runs it,
/// with its env_file.
#[test]
fn run_of_a_named_profiled_service_enables_it() {
    let env = Env::new(RUN_ENV_FILE);
    std::fs::write(env.dir().join("run.env"), "FOO=BAR_FROM_ENV_FILE\n").unwrap();
    let (out, _) = env.ok(&["run", "--rm", "-T", "serviceC", "env"]);
    assert!(out.contains("FOO=BAR_FROM_ENV_FILE"), "{out}");
    assert!(env.ps().is_empty(), "{:?}", env.ps());
}

const ORPHANS: &str = r#"
services:
  test:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  orphan:
    image: busybox:test
    profiles: [run]
    command: ["echo", "hello"]
"#;

/// Follows Compose's TestRemoveOrphans: `run` of a profiled service leaves its one-off
/// container, which `up` does not take for an orphan, and `down --remove-orphans` removes it.
#[test]
fn run_of_a_profiled_service_is_no_orphan() {
    let env = Env::new(ORPHANS);
    let (out, _) = env.ok(&["run", "-T", "orphan"]);
    assert!(out.contains("hello"), "{out}");
    let run_prefix = format!("{}-orphan-run-", env.project);
    let has_run = |ps: &[(String, String)]| ps.iter().any(|(n, _)| n.starts_with(&run_prefix));
    assert!(has_run(&env.ps()), "{:?}", env.ps());

    let (_, progress) = env.ok(&["up", "-d"]);
    assert!(!progress.contains("orphan"), "{progress}");
    assert!(has_run(&env.ps()), "{:?}", env.ps());
    env.ok(&["down", "--remove-orphans", "-t", "1"]);
    assert!(env.ps().is_empty(), "{:?}", env.ps());
}

const DEPENDENCIES: &str = r#"
services:
  db:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  api:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_started
        restart: true
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on:
      api:
        condition: service_started
        restart: true
  worker:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on: [db]
"#;

/// The state of each container of the project, by name.
fn states(env: &Env) -> std::collections::BTreeMap<String, String> {
    env.ps().into_iter().collect()
}

/// Follows Compose's TestStartStopWithDependencies and TestStartSingleServiceAndDependency:
/// `start SERVICE` also starts what it depends on, dependencies first.
#[test]
fn start_of_a_service_starts_its_dependencies() {
    let env = Env::new(DEPENDENCIES);
    env.ok(&["up", "-d"]);
    env.ok(&["stop", "-t", "1"]);
    assert!(
        states(&env).values().all(|s| s == "exited"),
        "{:?}",
        states(&env)
    );

    let (_, progress) = env.ok(&["start", "web"]);
    let state = states(&env);
    for service in ["db", "api", "web"] {
        assert_eq!(
            state[&env.name(service, 1)],
            "running",
            "{service}: {progress}"
        );
    }
    assert_eq!(
        state[&env.name("worker", 1)],
        "exited",
        "worker is not a dependency of web"
    );
    let line = |service: &str| {
        progress
            .find(&format!("Container {}  Started", env.name(service, 1)))
            .unwrap_or_else(|| panic!("no Started line for {service}: {progress}"))
    };
    assert!(
        line("db") < line("api") && line("api") < line("web"),
        "{progress}"
    );
}

/// Follows Compose's TestRestartWithDependencies: `restart SERVICE` also restarts the services
/// that declared `depends_on: {SERVICE: {restart: true}}`, transitively, and only those;
/// `--no-deps` restarts the named service alone.
#[test]
fn restart_of_a_service_restarts_the_dependents_that_asked() {
    let env = Env::new(DEPENDENCIES);
    env.ok(&["up", "-d"]);

    let (_, progress) = env.ok(&["restart", "-t", "1", "db"]);
    let restarted = |service: &str| {
        progress.contains(&format!("Container {}  Restarted", env.name(service, 1)))
    };
    assert!(
        restarted("db") && restarted("api") && restarted("web"),
        "{progress}"
    );
    assert!(!restarted("worker"), "{progress}");
    let position = |service: &str| {
        progress
            .find(&format!("Container {}  Restarted", env.name(service, 1)))
            .unwrap()
    };
    assert!(position("db") < position("api") && position("api") < position("web"));
    assert!(states(&env).values().all(|s| s == "running"));

    let (_, progress) = env.ok(&["restart", "-t", "1", "--no-deps", "db"]);
    assert!(progress.contains(&format!("Container {}  Restarted", env.name("db", 1))));
    assert!(
        !progress.contains(&env.name("api", 1)),
        "--no-deps restarts db alone: {progress}"
    );
}

/// Follows Compose's TestPortRange: a published range for one container port gives each
/// replica of a scaled service its own free port of the range.
#[test]
fn scaled_replicas_take_free_ports_of_a_published_range() {
    let env = Env::new(
        r#"
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ports: ["127.0.0.1:26005-26015:80"]
    scale: 5
"#,
    );
    env.ok(&["up", "-d"]);
    let (out, _) = env.ok(&["ps", "--format", "json"]);
    let mut ports: Vec<u64> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            row["Publishers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|p| p["PublishedPort"].as_u64().unwrap())
        })
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 5, "five distinct host ports: {out}");
    assert!(
        ports.iter().all(|p| (26005..=26015).contains(p)),
        "{ports:?}"
    );
}

/// Follows Compose's TestStartStopMultipleFiles: with two files sharing a project, a command
/// given one file acts on that file's services only; the other file's containers (orphans of
/// this model) are left alone.
#[test]
fn lifecycle_commands_keep_to_the_services_of_the_given_file() {
    let env = Env::new(
        r#"
services:
  svc-a:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    std::fs::write(
        env.dir().join("other.yaml"),
        r#"
services:
  svc-b:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    )
    .unwrap();
    env.ok(&["up", "-d"]);
    env.ok(&["-f", "other.yaml", "up", "-d"]);
    let a = env.name("svc-a", 1);
    let b = env.name("svc-b", 1);

    let (_, progress) = env.ok(&["-f", "compose.yaml", "stop", "-t", "1"]);
    assert!(
        progress.contains(&format!("Container {a}  Stopped")),
        "{progress}"
    );
    assert!(!progress.contains(&b), "{progress}");
    let state = states(&env);
    assert_eq!(
        (state[&a].as_str(), state[&b].as_str()),
        ("exited", "running")
    );

    env.ok(&["-f", "compose.yaml", "kill"]);
    env.ok(&["-f", "other.yaml", "pause"]);
    let state = states(&env);
    assert_eq!(
        (state[&a].as_str(), state[&b].as_str()),
        ("exited", "paused")
    );
    env.ok(&["-f", "other.yaml", "unpause"]);
    env.ok(&["-f", "compose.yaml", "rm", "-f"]);
    let state = states(&env);
    assert!(!state.contains_key(&a), "{state:?}");
    assert_eq!(state[&b], "running");
}

/// Follows Compose's TestEnvPriority, TestEnvPriorityComposeEnvFile and TestLocalComposeExec:
/// a bare `-e NAME` on `run` and `exec` takes NAME's value from the shell, else from the
/// project's `.env` / `--env-file`; a bare name set nowhere is left out (never passed as the
/// literal line `NAME`).
#[test]
fn bare_env_names_on_run_and_exec_resolve_like_compose() {
    let env = Env::new(
        r#"
services:
  app:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    std::fs::write(env.dir().join(".env"), "WHEREAMI=Env File\n").unwrap();
    std::fs::write(env.dir().join("other.env"), "WHEREAMI=Other File\n").unwrap();
    let run = |extra: &[&str], shell: Option<&str>| {
        let mut args = vec!["-p", env.project.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "run", "--rm", "-e", "WHEREAMI", "-e", "NOWHERE", "app", "env",
        ]);
        let mut command = env.command(&args);
        command.env_remove("NOWHERE");
        match shell {
            Some(value) => command.env("WHEREAMI", value),
            None => command.env_remove("WHEREAMI"),
        };
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let from_dotenv = run(&[], None);
    assert!(from_dotenv.contains("WHEREAMI=Env File"), "{from_dotenv}");
    assert!(!from_dotenv.contains("NOWHERE"), "{from_dotenv}");
    let from_file = run(&["--env-file", "other.env"], None);
    assert!(from_file.contains("WHEREAMI=Other File"), "{from_file}");
    let from_shell = run(&[], Some("shell"));
    assert!(from_shell.contains("WHEREAMI=shell"), "{from_shell}");

    env.ok(&["up", "-d"]);
    let out = env
        .command(&[
            "-p",
            env.project.as_str(),
            "exec",
            "-T",
            "-e",
            "FOO",
            "app",
            "env",
        ])
        .env("FOO", "BAR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert!(lines.lines().any(|l| l == "FOO=BAR"), "{lines}");
    assert!(!lines.lines().any(|l| l == "FOO"), "{lines}");
}

/// Follows Compose's TestUnusedMissingEnvFile: a service's missing env_file fails only the
/// commands that act on that service, naming the file; the rest of the project works.
#[test]
fn a_missing_env_file_fails_only_the_commands_of_its_service() {
    let env = Env::new(
        r#"
services:
  serviceA:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  serviceB:
    image: busybox:test
    command: ["sleep", "1000"]
    env_file: ./not-there.env
"#,
    );
    env.ok(&["up", "-d", "serviceA"]);
    env.ok(&["ps"]);
    env.ok(&["logs"]);
    env.ok(&["exec", "-T", "serviceA", "true"]);
    env.ok(&["scale", "serviceA=2"]);
    env.ok(&["config", "--hash", "serviceA"]);
    assert_eq!(env.ps().len(), 2);

    for args in [
        &["up", "-d"][..],
        &["run", "--rm", "serviceB", "true"],
        &["config"],
    ] {
        let out = env.bosun(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = text(&out.stderr);
        assert!(
            err.contains("services.serviceB.env_file[0]") && err.contains("not-there.env"),
            "{args:?}: {err}"
        );
    }
}

/// Follows Compose's TestLocalComposeExecOneOff: `exec` on a service with no running service
/// container runs in the service's running one-off container (`run -d`).
#[test]
fn exec_falls_back_to_a_running_one_off_container() {
    let env = Env::new(
        r#"
services:
  simple:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    env.ok(&["run", "-d", "simple"]);
    let (out, _) = env.ok(&["exec", "-T", "simple", "echo", "from-the-one-off"]);
    assert_eq!(out.trim(), "from-the-one-off");

    env.ok(&["up", "-d"]);
    let (out, _) = env.ok(&["exec", "-T", "simple", "hostname"]);
    let (ps, _) = env.ok(&["ps", "--format", "json"]);
    let service = ps
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|c| c["Name"] == env.name("simple", 1).as_str())
        .unwrap();
    let id = service["ID"].as_str().unwrap();
    assert!(
        id.starts_with(out.trim()),
        "with a service container running, exec uses it: {out} vs {id}"
    );
    let out = env.bosun(&["exec", "-T", "--index", "2", "simple", "true"]);
    assert!(!out.status.success(), "there is no container #2");
    env.ok(&["down", "--remove-orphans"]);
}

/// Follows Compose's TestExec: a detached `run` keeps the container's stdin open, so
/// `run -d SERVICE cat` keeps running (and can be exec'd into).
#[test]
fn a_detached_run_keeps_stdin_open() {
    let env = Env::new(
        r#"
services:
  test:
    image: busybox:test
    stop_grace_period: 1s
"#,
    );
    let (name, _) = env.ok(&["run", "-d", "test", "cat"]);
    let name = name.trim().to_string();
    // With stdin closed, cat ends as soon as it starts and exec finds nothing running.
    let (out, _) = env.ok(&["exec", "-T", "test", "echo", "alive"]);
    assert_eq!(out.trim(), "alive");
    let state = states(&env);
    assert_eq!(
        state.get(&name).map(String::as_str),
        Some("running"),
        "{state:?}"
    );
    env.ok(&["down", "--remove-orphans"]);
}

/// Follows Compose's TestRemoveOrphans (environment side): `COMPOSE_IGNORE_ORPHANS` silences
/// the orphan warning of `up`, `COMPOSE_REMOVE_ORPHANS` removes the orphans as
/// `--remove-orphans` does.
#[test]
fn orphan_environment_variables_act_as_compose() {
    let env = Env::new(
        r#"
services:
  kept:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    std::fs::write(
        env.dir().join("old.yaml"),
        "services:\n  gone:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n",
    )
    .unwrap();
    env.ok(&["-f", "old.yaml", "up", "-d"]);
    let up = |vars: &[(&str, &str)]| {
        let mut command = env.command(&["-p", env.project.as_str(), "up", "-d"]);
        command
            .env_remove("COMPOSE_IGNORE_ORPHANS")
            .env_remove("COMPOSE_REMOVE_ORPHANS");
        for (k, v) in vars {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let gone = env.name("gone", 1);
    assert!(up(&[]).contains("orphan"), "warned without the variables");
    let quiet = up(&[("COMPOSE_IGNORE_ORPHANS", "true")]);
    assert!(!quiet.contains("orphan"), "{quiet}");
    assert!(states(&env).contains_key(&gone));
    up(&[("COMPOSE_REMOVE_ORPHANS", "1")]);
    assert!(!states(&env).contains_key(&gone), "{:?}", states(&env));
}

/// Follows Compose's `down SERVICE…`: only the named services' containers go; the network the
/// others still use stays, and a later `down` takes the rest.
#[test]
fn down_of_named_services_takes_only_their_containers() {
    let env = Env::new(DEPENDENCIES);
    env.ok(&["up", "-d"]);
    let (_, progress) = env.ok(&["down", "-t", "1", "web", "worker"]);
    let state = states(&env);
    assert!(!state.contains_key(&env.name("web", 1)), "{state:?}");
    assert!(!state.contains_key(&env.name("worker", 1)), "{state:?}");
    assert_eq!(state[&env.name("api", 1)], "running", "{progress}");
    assert_eq!(state[&env.name("db", 1)], "running");
    assert!(!progress.contains(" Network "), "{progress}");
    let out = env.bosun(&["down", "nosuch"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no such service: nosuch"));
    env.ok(&["down", "-t", "1"]);
    assert!(states(&env).is_empty());
}

/// Follows Compose's TestUpContainerNameConflict: two services asking for one
/// `container_name` are refused when brought up together (nothing is left behind), but
/// each runs alone.
#[test]
fn two_services_with_one_container_name_run_only_alone() {
    let env = Env::new("services: {}\n");
    let fixed = format!("{}-fixed", env.project);
    env.write(&format!(
        r#"
services:
  test:
    image: busybox:test
    container_name: {fixed}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  another_test:
    image: busybox:test
    container_name: {fixed}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#
    ));
    let out = env.bosun(&["up", "-d"]);
    assert!(!out.status.success(), "up of both succeeded");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("container name \"{fixed}\" is already in use")),
        "{err}"
    );
    assert!(env.ps().is_empty(), "{:?}", env.ps());
    for service in ["test", "another_test"] {
        env.ok(&["up", "-d", service]);
        assert_eq!(env.ps(), [(fixed.clone(), "running".to_string())]);
        env.ok(&["down", "-t", "1"]);
        assert!(env.ps().is_empty(), "{:?}", env.ps());
    }
}

const SECRETS: &str = r#"
include:
  - ./included.yaml
services:
  app:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    secrets:
      - from_env
      - source: from_file
        target: renamed
      - source: included
      - source: owned
        target: /etc/owned
        uid: "1000"
        gid: "1001"
        mode: 0440
    configs:
      - from_content
      - source: config_env
        target: /etc/app.conf
secrets:
  from_env:
    environment: SECRET_FROM_ENV
  from_file:
    file: ./secret.txt
  owned:
    environment: SECRET_FROM_ENV
configs:
  from_content:
    content: "inline config"
  config_env:
    environment: CONFIG_FROM_ENV
"#;

const SECRETS_INCLUDED: &str = r#"
secrets:
  included:
    file: ./included.txt
"#;

/// `bosun -p <project> <args>` with extra variables in its environment.
fn with_vars(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut all = vec!["-p", env.project.as_str()];
    all.extend_from_slice(args);
    let mut command = env.command(&all);
    command.envs(vars.iter().copied());
    command.output().unwrap()
}

/// Follows Compose's TestSecretFromEnv, TestSecretFromInclude and TestConfigFromEnv: secrets
/// from a variable, a file and an included file appear under `/run/secrets` (or their target),
/// configs from content and a variable at `/<name>` (or their target), read-only, with the
/// owner and mode asked for; the files written for values go with the containers on `down`.
#[test]
fn secrets_and_configs_are_mounted_as_compose_does() {
    let env = Env::new(SECRETS);
    std::fs::write(env.dir().join("included.yaml"), SECRETS_INCLUDED).unwrap();
    std::fs::write(env.dir().join("secret.txt"), "from a file").unwrap();
    std::fs::write(env.dir().join("included.txt"), "from an include").unwrap();
    let vars = [
        ("SECRET_FROM_ENV", "from the environment"),
        ("CONFIG_FROM_ENV", "config from the environment"),
    ];
    let out = with_vars(&env, &vars, &["up", "-d"]);
    assert!(out.status.success(), "up: {}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("ignored"),
        "{}",
        text(&out.stderr)
    );
    let cat = |path: &str| env.ok(&["exec", "-T", "app", "cat", path]).0;
    assert_eq!(cat("/run/secrets/from_env"), "from the environment");
    assert_eq!(cat("/run/secrets/renamed"), "from a file");
    assert_eq!(cat("/run/secrets/included"), "from an include");
    assert_eq!(cat("/etc/owned"), "from the environment");
    assert_eq!(cat("/from_content"), "inline config");
    assert_eq!(cat("/etc/app.conf"), "config from the environment");
    let (stat, _) = env.ok(&[
        "exec",
        "-T",
        "app",
        "stat",
        "-c",
        "%n %u %g %a",
        "/run/secrets/from_env",
        "/etc/owned",
        "/from_content",
    ]);
    assert_eq!(
        stat,
        "/run/secrets/from_env 0 0 400\n/etc/owned 1000 1001 440\n/from_content 0 0 444\n"
    );
    let write = env.bosun(&[
        "exec",
        "-T",
        "app",
        "sh",
        "-c",
        "echo x > /run/secrets/renamed",
    ]);
    assert!(!write.status.success(), "a secret is writable");
    let files = env.tmp.path().join("data").join("agent").join("files");
    let written = std::fs::read_dir(&files).unwrap().count();
    assert_eq!(
        written,
        1,
        "one container's files under {}",
        files.display()
    );
    env.ok(&["down", "-t", "1"]);
    assert_eq!(std::fs::read_dir(&files).unwrap().count(), 0);
}

/// Follows Compose's TestSecretFromEnv with the variable unset, and its rule that external
/// secrets are a swarm's: both refused before anything is created, naming the key.
#[test]
fn secrets_that_cannot_be_mounted_are_refused() {
    let env = Env::new(
        r#"
services:
  app:
    image: busybox:test
    command: ["true"]
    secrets: [token]
secrets:
  token:
    environment: BOSUN_TEST_UNSET_TOKEN
"#,
    );
    let out = env.bosun(&["up", "-d"]);
    assert!(!out.status.success(), "up succeeded");
    assert!(
        text(&out.stderr).contains(
            "service app: environment variable BOSUN_TEST_UNSET_TOKEN required by secret token is not set"
        ),
        "{}",
        text(&out.stderr)
    );
    env.write(
        r#"
services:
  app:
    image: busybox:test
    command: ["true"]
    secrets: [token]
secrets:
  token:
    external: true
"#,
    );
    let out = env.bosun(&["up", "-d"]);
    assert!(!out.status.success(), "up succeeded");
    assert!(
        text(&out.stderr).contains("service app: secret token is external"),
        "{}",
        text(&out.stderr)
    );
    assert!(env.ps().is_empty(), "{:?}", env.ps());
}

const START_INTERVAL: &str = r#"
services:
  error:
    image: busybox:test
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1h
      start_interval: 1s
  test:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 1h
      start_period: 1h
      start_interval: 1s
"#;

/// Follows Compose's TestStartInterval: `start_interval` without `start_period` is refused at
/// `up` (nothing is created); with one, the probes run at `start_interval` during it, so the
/// service is healthy long before its one-hour `interval` (and `--wait-timeout`) would allow.
#[test]
fn start_interval_needs_start_period_and_paces_the_first_probes() {
    let env = Env::new(START_INTERVAL);
    let out = env.bosun(&["up", "--wait", "-d", "error"]);
    assert!(!out.status.success(), "up of error succeeded");
    assert!(
        text(&out.stderr)
            .contains("healthcheck.start_interval requires healthcheck.start_period to be set"),
        "{}",
        text(&out.stderr)
    );
    assert!(env.ps().is_empty(), "{:?}", env.ps());
    env.ok(&["up", "--wait", "--wait-timeout", "60", "-d", "test"]);
    let (ps, _) = env.ok(&["ps", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(ps.trim()).unwrap();
    assert_eq!(
        (row["Name"].as_str(), row["Health"].as_str()),
        (Some(env.name("test", 1).as_str()), Some("healthy"))
    );
    env.ok(&["down", "-t", "1"]);
}

const HOOKS: &str = r#"
services:
  test:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes: [data:/data]
    post_start:
      - command: ["sh", "-c", "echo \"post_start $$HOOK_VAR as $$(id -u) in $$(pwd)\" > /tmp/post.txt"]
        user: "1000"
        working_dir: /tmp
        environment:
          HOOK_VAR: set
    pre_stop:
      - command: ["sh", "-c", "echo 'In the pre-stop' > /data/log.txt"]
volumes:
  data: {}
"#;

/// Follows Compose's TestPostStartHookSuccess and TestPreStopHookSuccess: `post_start` runs in
/// the container after it starts, with its user, working directory and environment; `pre_stop`
/// runs in it before `stop` halts it (its write is in the volume afterwards).
#[test]
fn post_start_and_pre_stop_hooks_run_in_the_container() {
    let env = Env::new(HOOKS);
    env.ok(&["up", "-d"]);
    let (post, _) = env.ok(&["exec", "-T", "test", "cat", "/tmp/post.txt"]);
    assert_eq!(post, "post_start set as 1000 in /tmp\n");
    let (missing, _) = env.ok(&["exec", "-T", "test", "ls", "/data"]);
    assert!(!missing.contains("log.txt"), "{missing}");
    env.ok(&["stop", "-t", "1"]);
    assert_eq!(
        env.ps(),
        [(env.name("test", 1), "exited".to_string())],
        "stopped"
    );
    env.ok(&["start"]);
    let (log, _) = env.ok(&["exec", "-T", "test", "cat", "/data/log.txt"]);
    assert_eq!(log, "In the pre-stop\n");
    env.ok(&["down", "-t", "1", "-v"]);
}

/// Follows Compose's TestPostStartHookInError: a `post_start` hook that fails fails `up`,
/// naming the service and the hook's exit status.
#[test]
fn a_failing_post_start_hook_fails_up() {
    let env = Env::new(
        r#"
services:
  test:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    post_start:
      - command: ["sh", "-c", "command_does_not_exist"]
"#,
    );
    let out = env.bosun(&["up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("test hook exited with status 127"),
        "{}",
        text(&out.stderr)
    );
    env.ok(&["down", "-t", "1"]);
}

const ATTACHED: &str = r#"
services:
  dependency:
    image: busybox:test
    command: ["sh", "-c", "echo dependency-line; exec sleep 1000"]
    stop_grace_period: 1s
  app:
    image: busybox:test
    command: ["sh", "-c", "echo app-line; exec sleep 1000"]
    stop_grace_period: 1s
    depends_on: [dependency]
"#;

/// Follows Compose's TestUpDependenciesNotStopped: Ctrl-C on an attached `up app` stops `app`,
/// not the dependency `up` started for it.
#[test]
fn ctrl_c_on_attached_up_stops_only_the_named_services() {
    let env = Env::new(ATTACHED);
    let up = Background::start(env.command(&["-p", env.project.as_str(), "up", "app"]));
    up.expect("app-line", Duration::from_secs(60));
    let state = states(&env);
    assert_eq!(state[&env.name("dependency", 1)], "running", "{state:?}");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(up.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let mut up = up;
    let deadline = Instant::now() + Duration::from_secs(60);
    while up.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "up did not end after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    }
    let state = states(&env);
    assert_eq!(state[&env.name("app", 1)], "exited", "{state:?}");
    assert_eq!(
        state[&env.name("dependency", 1)],
        "running",
        "the dependency keeps running: {state:?}"
    );
}

/// `up --attach-dependencies app` also shows the logs of what `app` depends on; without it only
/// `app`'s (Compose's `--attach-dependencies`).
#[test]
fn attach_dependencies_shows_the_dependencies_output() {
    let env = Env::new(
        r#"
services:
  dependency:
    image: busybox:test
    command: ["sh", "-c", "echo dependency-line; exec sleep 1000"]
    stop_grace_period: 1s
  app:
    image: busybox:test
    command: ["sh", "-c", "sleep 2; echo app-line"]
    depends_on: [dependency]
"#,
    );
    let plain = env.bosun(&["up", "--abort-on-container-exit", "app"]);
    let shown = text(&plain.stdout);
    assert!(shown.contains("app-line"), "{shown}");
    assert!(!shown.contains("dependency-line"), "{shown}");
    let with = env.bosun(&[
        "up",
        "--attach-dependencies",
        "--abort-on-container-exit",
        "app",
    ]);
    let shown = text(&with.stdout);
    assert!(
        shown.contains("app-line") && shown.contains("dependency-line"),
        "{shown}{}",
        text(&with.stderr)
    );
}

/// `up --abort-on-container-failure`: a container that exits 0 ends nothing; the first that
/// exits non-zero stops the others, and its code is `up`'s (Compose's flag of that name).
#[test]
fn abort_on_container_failure_stops_all_when_one_fails() {
    let env = Env::new(
        r#"
services:
  fine:
    image: busybox:test
    command: ["true"]
  failing:
    image: busybox:test
    command: ["sh", "-c", "sleep 3; exit 3"]
  long:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    let out = env.bosun(&["up", "--abort-on-container-failure"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("{} exited with code 3", env.name("failing", 1))),
        "{}",
        text(&out.stderr)
    );
    let state = states(&env);
    assert_eq!(state[&env.name("long", 1)], "exited", "{state:?}");
    let both = env.bosun(&[
        "up",
        "--abort-on-container-failure",
        "--abort-on-container-exit",
    ]);
    assert!(!both.status.success());
    assert!(
        text(&both.stderr).contains("cannot be used with"),
        "{}",
        text(&both.stderr)
    );
}

/// `logs --index N SERVICE`: the lines of that replica only (Compose's `logs --index`).
#[test]
fn logs_index_shows_one_replica() {
    let env = Env::new(
        r#"
services:
  web:
    image: busybox:test
    command: ["sh", "-c", "echo line-of-$$(hostname); exec sleep 1000"]
    stop_grace_period: 1s
    scale: 2
"#,
    );
    env.ok(&["up", "-d", "--wait"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let (all, _) = env.ok(&["logs", "web"]);
        if all.matches("line-of-").count() == 2 || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(all.matches("line-of-").count(), 2, "{all}");
    let (second, _) = env.ok(&["logs", "--index", "2", "web"]);
    assert_eq!(second.matches("line-of-").count(), 1, "{second}");
    assert!(second.contains(&env.name("web", 2)), "{second}");
    assert!(!second.contains(&env.name("web", 1)), "{second}");
    let out = env.bosun(&["logs", "--index", "2"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--index needs exactly one service"));
    env.ok(&["down", "-t", "1"]);
}

/// `config --no-interpolate` prints the files merged as written, even where a value only fits
/// once interpolated; `config --variables` lists the variables with their defaults (Compose's
/// TestConfigNoInterpolate-like use and `config --variables`).
#[test]
fn config_without_interpolation_and_its_variables() {
    let env = Env::new(
        r#"
services:
  web:
    image: "busybox:${TAG:-test}"
    ports:
      - "${PORT:-8080}:80"
    environment:
      NEEDED: "${NEEDED:?set NEEDED}"
      MAYBE: "${MAYBE:+yes}"
"#,
    );
    let (raw, _) = env.ok(&["config", "--no-interpolate"]);
    assert!(raw.contains("${PORT:-8080}:80"), "{raw}");
    assert!(raw.contains("busybox:${TAG:-test}"), "{raw}");
    let (table, _) = env.ok(&["config", "--variables"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE", "VALUE"]
    );
    assert_eq!(rows[1], ["MAYBE", "false", "yes"]);
    assert_eq!(rows[2], ["NEEDED", "true"]);
    assert_eq!(rows[3], ["PORT", "false", "8080"]);
    assert_eq!(rows[4], ["TAG", "false", "test"]);
}

/// `run --env-from-file FILE` sets the file's variables (the `-e` ones win); `run -t` and
/// `--no-TTY=false` ask for a terminal, which a piped stdin cannot give (docker's error);
/// `-T` runs without one (Compose's `run` flags).
#[test]
fn run_env_from_file_and_terminal_flags() {
    let env = Env::new(
        r#"
services:
  tool:
    image: busybox:test
"#,
    );
    std::fs::write(
        env.dir().join("vars.env"),
        "FROM_FILE=one\n# comment\nBOTH=file\n",
    )
    .unwrap();
    let (out, _) = env.ok(&[
        "run",
        "--rm",
        "-T",
        "--env-from-file",
        "vars.env",
        "-e",
        "BOTH=flag",
        "tool",
        "sh",
        "-c",
        "echo $FROM_FILE-$BOTH",
    ]);
    assert!(out.contains("one-flag"), "{out}");
    for flag in ["-t", "--no-TTY=false"] {
        let out = env
            .command(&[
                "-p",
                env.project.as_str(),
                "run",
                "--rm",
                flag,
                "tool",
                "true",
            ])
            .stdin(Stdio::piped())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag}");
        assert!(
            text(&out.stderr).contains("the input device is not a TTY"),
            "{flag}: {}",
            text(&out.stderr)
        );
    }
    let missing = env.bosun(&["run", "--rm", "--env-from-file", "nope.env", "tool", "true"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("nope.env"),
        "{}",
        text(&missing.stderr)
    );
}
