//! End-to-end: the last Compose behaviours `up` and the lifecycle commands missed — Compose's
//! progress lines as scripts read them, `pre_start` hooks and `ipc: service:` sharing
//! `/dev/shm` — with the real binary, agent and containers (run as root). Each test names the
//! Compose e2e tests (docker/compose `pkg/e2e`) it follows; the scenarios are ours.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use std::time::{Duration, Instant};

use compose_env::{Env, text};

/// Generous: the machine is shared with other builds and tests.
const WITHIN: Duration = Duration::from_secs(60);

/// Whether `output` has `line` as one of its lines, exactly.
fn has_line(output: &str, line: &str) -> bool {
    output.lines().any(|l| l == line)
}

fn assert_lines(output: &str, lines: &[String]) {
    for line in lines {
        assert!(has_line(output, line), "no line {line:?} in:\n{output}");
    }
}

const SIMPLE: &str = r#"
services:
  simple:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#;

/// Follows Compose's TestStopAlreadyStopped, TestPs (`Container … Started`) and
/// TestLocalComposeUp's `Started`/`Removed` checks: on a pipe, each container, network and
/// volume reads as Compose prints it in plain progress mode, and a stop of a stopped
/// container still says `Stopped`.
#[test]
fn compose_progress_lines_as_scripts_read_them() {
    let env = Env::new(SIMPLE);
    let container = format!("Container {}", env.name("simple", 1));
    let network = format!("Network {}_default", env.project);
    let (_, up) = env.ok(&["up", "-d"]);
    assert_lines(
        &up,
        &[
            format!(" {network}  Creating"),
            format!(" {network}  Created"),
            format!(" {container}  Creating"),
            format!(" {container}  Created"),
            format!(" {container}  Starting"),
            format!(" {container}  Started"),
        ],
    );
    let (_, stop) = env.ok(&["stop"]);
    assert_lines(
        &stop,
        &[
            format!(" {container}  Stopping"),
            format!(" {container}  Stopped"),
        ],
    );
    let (_, again) = env.ok(&["stop"]);
    assert!(
        has_line(&again, &format!(" {container}  Stopped")),
        "a stopped container is reported Stopped again:\n{again}"
    );
    let (_, start) = env.ok(&["start"]);
    assert_lines(&start, &[format!(" {container}  Started")]);
    let (_, down) = env.ok(&["down"]);
    assert_lines(
        &down,
        &[
            format!(" {container}  Stopped"),
            format!(" {container}  Removing"),
            format!(" {container}  Removed"),
            format!(" {network}  Removed"),
        ],
    );
}

const PRE_START: &str = r#"
services:
  sample:
    image: busybox:test
    command: ["sh", "-c", "cat /data/init.txt; sleep 1000"]
    stop_grace_period: 1s
    scale: 2
    environment:
      FROM_SERVICE: s
    volumes: [data:/data]
    pre_start:
      - command: ["sh", "-c", "echo initialized >> /data/init.txt"]
      - command: ["sh", "-c", "echo second-$$FROM_SERVICE-$$FROM_HOOK >> /data/order.txt"]
        environment:
          FROM_HOOK: h
volumes:
  data: {}
"#;

/// What the project's `data` volume holds in `file`, read by a container of its own.
fn volume_file(env: &Env, file: &str) -> String {
    let volume = format!("{}_data:/data", env.project);
    env.ok_raw(&[
        "container",
        "run",
        "--rm",
        "-v",
        &volume,
        "busybox:test",
        "cat",
        &format!("/data/{file}"),
    ])
}

/// No hook container is left among the node's containers.
fn assert_no_hook_container(env: &Env) {
    let all = env.ok_raw(&["container", "ls", "-a", "--format", "{{.Names}}"]);
    assert!(
        !all.contains("pre_start"),
        "a hook container is left: {all}"
    );
}

/// Follows Compose's TestPreStartHookSuccess, TestPreStartHookSequentialOrder,
/// TestPreStartHookRunsOnceForScaledService and TestPreStartHookIdempotentReUp: the hooks run
/// in order before the service starts, with its volumes and environment, once for the two
/// replicas, and not again on an unchanged `up`.
#[test]
fn pre_start_hooks_run_once_before_the_service() {
    let env = Env::new(PRE_START);
    env.ok(&["up", "-d"]);
    assert_eq!(
        env.ps()
            .iter()
            .filter(|(_, state)| state == "running")
            .count(),
        2,
        "{:?}",
        env.ps()
    );
    // Each replica prints what the hook wrote before it started.
    let deadline = Instant::now() + WITHIN;
    loop {
        let (logs, _) = env.ok(&["logs", "--no-log-prefix", "sample"]);
        let read = logs.lines().filter(|l| *l == "initialized").count();
        if read == 2 {
            assert_eq!(logs.lines().count(), 2, "{logs}");
            break;
        }
        assert!(Instant::now() < deadline, "{logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(volume_file(&env, "init.txt"), "initialized\n");
    assert_eq!(volume_file(&env, "order.txt"), "second-s-h\n");
    env.ok(&["up", "-d"]);
    assert_eq!(
        volume_file(&env, "init.txt"),
        "initialized\n",
        "an unchanged up runs no hook"
    );
    assert_no_hook_container(&env);
}

/// Follows Compose's TestPreStartHookInError and TestPreStartHookMidSequenceFailure: the
/// second hook exits 17, so `up` fails naming `pre_start[1]` and the code; the first hook did
/// run, and the service's container is created but not started.
#[test]
fn a_failing_pre_start_hook_fails_up_and_leaves_the_service_created() {
    let env = Env::new(
        r#"
services:
  sample:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes: [data:/data]
    pre_start:
      - command: ["sh", "-c", "echo ran-0 >> /data/hooks.txt"]
      - command: ["sh", "-c", "echo the-hook-failed >&2; exit 17"]
volumes:
  data: {}
"#,
    );
    let out = env.bosun(&["up", "-d"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("service \"sample\" pre_start[1] exited with code 17: the-hook-failed"),
        "{stderr}"
    );
    assert_eq!(
        env.ps(),
        [(env.name("sample", 1), "created".to_string())],
        "{stderr}"
    );
    assert_eq!(volume_file(&env, "hooks.txt"), "ran-0\n");
    assert_no_hook_container(&env);
}

/// Follows Compose's TestIPC, for `/dev/shm`: `ipc: service:shareable` shares the donor's
/// `/dev/shm` both ways; a service with an IPC namespace of its own does not see it.
#[test]
fn ipc_service_shares_dev_shm() {
    let env = Env::new(
        r#"
services:
  shareable:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ipc: shareable
  service:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ipc: "service:shareable"
  alone:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    env.ok(&["up", "-d"]);
    let exec = |service: &str, script: &str| {
        let out = env.bosun(&["exec", "-T", service, "sh", "-c", script]);
        (out.status.success(), text(&out.stdout))
    };
    assert!(exec("shareable", "echo from-donor > /dev/shm/marker").0);
    assert_eq!(
        exec("service", "cat /dev/shm/marker"),
        (true, "from-donor\n".to_string())
    );
    assert!(exec("service", "echo from-joiner > /dev/shm/back").0);
    assert_eq!(
        exec("shareable", "cat /dev/shm/back"),
        (true, "from-joiner\n".to_string())
    );
    let (found, _) = exec("alone", "cat /dev/shm/marker");
    assert!(!found, "a private IPC namespace has its own /dev/shm");
}
