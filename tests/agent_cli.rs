//! End-to-end: the real `bosun` binary driving containers through the agent it starts on
//! demand (run as root). Each test has its own data root and run root; the agent is stopped and
//! the containers removed even when the test fails.

#![allow(clippy::unwrap_used)]

mod container_env;
use testkit::teardown;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use container_env::{Env, alive, text, wait_gone};

#[test]
fn run_ls_logs_stop_rm() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    // The first command starts the agent.
    let out = env.bosun(&[
        "run",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err\n"));
    let agent = env.agent_pid().expect("an agent was started");
    assert!(alive(agent));
    assert!(env.run_root().join("agent.log").exists());

    let id = env.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ls = env.ok(&["ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID   IMAGE"), "{ls}");
    assert_eq!(lines.len(), 2, "{ls}");
    assert!(
        lines[1].starts_with(&id[..12]) && lines[1].contains("Up ") && lines[1].ends_with("web"),
        "{ls}"
    );
    assert_eq!(env.ok(&["ps", "-q"]), format!("{}\n", &id[..12]));
    assert_eq!(env.ok(&["ls", "-a", "--format", "json"]).lines().count(), 2);

    let deadline = Instant::now() + Duration::from_secs(5);
    while env.ok(&["logs", "web"]) != "started\n" {
        assert!(Instant::now() < deadline, "no output from web");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(env.ok(&["stop", "-t", "1", "web"]), "web\n");
    let ls = env.ok(&["ls", "-a", "--filter", "name=web"]);
    assert!(ls.contains("Exited (137)"), "{ls}");
    assert_eq!(env.ok(&["wait", "web"]), "137\n");

    assert_eq!(env.ok(&["rm", "web"]), "web\n");
    assert_eq!(env.ok(&["ls", "-aq", "--filter", "name=web"]), "");
    let out = env.bosun(&["rm", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "error: no such container: nope\n");

    let before = env.ok(&["ls", "-aq"]);
    let out = env.bosun(&["run", "--rm", "--rootfs", &rootfs, "sh", "-c", "echo bye"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "bye\n")
    );
    assert_eq!(
        env.ok(&["ls", "-aq"]),
        before,
        "--rm left the container behind"
    );

    let out = env.bosun(&["run", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("image busybox not found"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        env.agent_pid(),
        Some(agent),
        "one agent served every command"
    );
}

#[test]
fn agent_sigkill_leaves_containers_running_and_readopted() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo before; sleep 2; echo after; exit 4",
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok(&["inspect", "survivor"])).unwrap();
    let container_pid = i32::try_from(inspect[0]["State"]["Pid"].as_i64().unwrap()).unwrap();
    let agent = env.agent_pid().unwrap();
    kill(Pid::from_raw(agent), Signal::SIGKILL).unwrap();
    wait_gone(agent);
    assert!(!alive(agent), "agent survived SIGKILL");
    assert!(alive(container_pid), "the container died with the agent");

    // The next command starts a new agent over the same roots, which re-adopts the container.
    let ls = env.ok(&["ls"]);
    assert!(ls.contains("survivor") && ls.contains("Up "), "{ls}");
    let new_agent = env.agent_pid().unwrap();
    assert_ne!(new_agent, agent);
    assert_eq!(env.ok(&["wait", "survivor"]), "4\n");
    assert_eq!(env.ok(&["logs", "survivor"]), "before\nafter\n");
    let ls = env.ok(&["ls", "-a"]);
    assert!(ls.contains("Exited (4)"), "{ls}");
}

/// A throwaway local user, deleted on drop.
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

impl User {
    fn create() -> User {
        let name = format!("bsnt{}", std::process::id());
        let _ = Command::new("userdel").arg(&name).output();
        let out = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/false", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "useradd: {}", text(&out.stderr));
        let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
        User {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

#[test]
fn user_without_the_group_is_refused() {
    let env = Env::new("clitest");
    env.ok(&["ls"]);
    // Let the user reach the socket file itself: only its mode and the server may refuse.
    for dir in [env.tmp.path(), env.run_root().as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let user = User::create();
    let out = env
        .command(&["ls"])
        .uid(user.uid)
        .gid(user.gid)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot connect to the bosun agent") && err.contains("Permission denied"),
        "{err}"
    );
    // Refused, not mistaken for a missing agent: the running agent is untouched and serves root.
    assert_eq!(env.ok(&["ls", "-q"]), "");
}

/// Polls `check` every 50 ms until it holds; fails with `what` after `secs` seconds.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn inspect(env: &Env, container: &str) -> serde_json::Value {
    let doc: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", container])).unwrap();
    doc[0].clone()
}

#[test]
fn on_failure_restarts_with_backoff_up_to_the_limit() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    eventually(20, "the fourth run to exit", || {
        let doc = inspect(&env, "flaky");
        doc["RestartCount"] == 3
            && doc["State"]["Status"] == "exited"
            && env.ok(&["logs", "flaky"]) == "run\n".repeat(4)
    });
    // The runs start at least 100, 200 and 400 ms apart: the backoff doubles. (Each line is
    // stamped when the shim reads it, so allow it a little lateness.)
    let stamped = env.ok(&["logs", "-t", "flaky"]);
    let times: Vec<std::time::SystemTime> = stamped
        .lines()
        .map(|line| humantime::parse_rfc3339_weak(line.split(' ').next().unwrap()).unwrap())
        .collect();
    assert_eq!(times.len(), 4, "{stamped}");
    for (pair, backoff_ms) in times.windows(2).zip([100, 200, 400]) {
        let gap = pair[1].duration_since(pair[0]).unwrap();
        assert!(
            gap >= Duration::from_millis(backoff_ms - 20),
            "{gap:?} < {backoff_ms} ms: {stamped}"
        );
    }
    // The limit holds: no fourth run.
    std::thread::sleep(Duration::from_secs(1));
    let doc = inspect(&env, "flaky");
    assert_eq!(doc["RestartCount"], 3);
    assert_eq!(doc["State"]["ExitCode"], 3);
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    assert_eq!(env.ok(&["logs", "flaky"]), "run\n".repeat(4));
    let ls = env.ok(&["ls", "-a"]);
    assert!(ls.contains("Exited (3)"), "{ls}");

    let out = env.bosun(&[
        "run",
        "--rm",
        "--restart",
        "always",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("cannot specify both --restart and --rm"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn healthcheck_goes_from_starting_to_healthy() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /ready",
        "--health-interval",
        "300ms",
        "--health-retries",
        "20",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "sleep 2; touch /ready; sleep 1000",
    ]);
    let ls = env.ok(&["ls"]);
    assert!(ls.contains("(health: starting)"), "{ls}");
    assert_eq!(
        inspect(&env, "checked")["State"]["Health"]["Status"],
        "starting"
    );
    eventually(15, "a healthy container", || {
        env.ok(&["ls"]).contains("(healthy)")
    });
    let line = env.ok(&["ls", "--filter", "name=checked"]);
    assert!(line.contains("Up ") && line.contains("(healthy)"), "{line}");
    assert_eq!(
        inspect(&env, "checked")["State"]["Health"]["Status"],
        "healthy"
    );
}

#[test]
fn agent_start_brings_back_always_and_unless_stopped_containers() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    let run = |name: &str, policy: &str| {
        env.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "--rootfs",
            &rootfs,
            "sleep",
            "1000",
        ]);
        inspect(&env, name)["State"]["Pid"].as_i64().unwrap() as i32
    };
    let always = run("always", "always");
    let unless = run("unless", "unless-stopped");
    let never = run("never", "no");
    run("stopped", "unless-stopped");
    env.ok(&["stop", "-t", "1", "stopped"]);
    let agent = env.agent_pid().unwrap();
    kill(Pid::from_raw(agent), Signal::SIGKILL).unwrap();
    wait_gone(agent);
    // The containers die while no agent runs.
    for pid in [always, unless, never] {
        kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
        wait_gone(pid);
    }

    // The next command starts a new agent, which applies the policies.
    eventually(15, "always and unless-stopped running again", || {
        ["always", "unless"]
            .iter()
            .all(|name| inspect(&env, name)["State"]["Status"] == "running")
    });
    assert_ne!(inspect(&env, "always")["State"]["Pid"], always);
    assert_ne!(inspect(&env, "unless")["State"]["Pid"], unless);
    assert_eq!(inspect(&env, "never")["State"]["Status"], "exited");
    assert_eq!(inspect(&env, "stopped")["State"]["Status"], "exited");
}

#[test]
fn exec_top_and_restart() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    env.ok(&[
        "run", "-d", "--name", "box", "-e", "BASE=1", "--rootfs", &rootfs, "sleep", "1000",
    ]);
    let out = env.bosun(&[
        "exec",
        "-e",
        "EXTRA=2",
        "-w",
        "/bin",
        "box",
        "sh",
        "-c",
        "echo $BASE$EXTRA $(pwd) $(id -u); echo oops >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "12 /bin 0\n");
    assert_eq!(text(&out.stderr), "oops\n");
    let out = env.bosun(&["exec", "-u", "65534", "box", "id", "-u"]);
    assert_eq!(text(&out.stdout), "65534\n", "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    let out = env.bosun(&["exec", "box", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));

    let top = env.ok(&["top", "box"]);
    let lines: Vec<&str> = top.lines().collect();
    assert!(
        lines[0].starts_with("UID") && lines[0].ends_with("CMD"),
        "{top}"
    );
    assert_eq!(lines.len(), 2, "{top}");
    assert!(lines[1].ends_with("sleep 1000"), "{top}");

    let before = inspect(&env, "box")["State"]["Pid"].clone();
    assert_eq!(env.ok(&["restart", "-t", "1", "box"]), "box\n");
    let doc = inspect(&env, "box");
    assert_eq!(doc["State"]["Status"], "running");
    assert_ne!(doc["State"]["Pid"], before);
    let out = env.bosun(&["restart", "nothing-here"]);
    assert_eq!(out.status.code(), Some(1));

    env.ok(&["stop", "-t", "1", "box"]);
    let out = env.bosun(&["exec", "box", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("error"), "{}", text(&out.stderr));
}

#[test]
fn events_show_history_and_follow_until_interrupted() {
    let env = Env::new("clitest");
    let rootfs = env.rootfs();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 1.0;
    env.ok(&[
        "run", "-d", "--name", "first", "--rootfs", &rootfs, "sh", "-c", "exit 2",
    ]);
    env.ok(&["wait", "first"]);
    let until = format!("{:.3}", start + 3600.0);
    let since = format!("{start:.3}");
    let past = env.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "json",
        "--filter",
        "type=container",
    ]);
    let actions: Vec<String> = past
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["Action"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(actions, ["create", "start", "die"], "{past}");
    assert!(past.contains("\"exitCode\":\"2\""), "{past}");
    // Each event names its container, as docker's do.
    assert!(
        past.lines().all(|l| l.contains("\"name\":\"first\"")),
        "{past}"
    );
    // Unfiltered, the network the container joined has its events too.
    let all = env.ok(&["events", "--since", &since, "--until", &until]);
    assert!(
        all.lines()
            .any(|l| l.contains(" network connect ") && l.contains("name=bridge")),
        "{all}"
    );
    let future = format!("{:.3}", start + 3000.0);
    assert_eq!(
        env.ok(&["events", "--since", &future, "--until", &until]),
        ""
    );

    // Following: a new container's events appear, and Ctrl-C ends the command cleanly.
    let follow = env
        .command(&["events", "--filter", "type=container"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    env.ok(&["run", "-d", "--name", "second", "--rootfs", &rootfs, "true"]);
    env.ok(&["wait", "second"]);
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(follow.id() as i32), Signal::SIGINT).unwrap();
    let out = follow.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let lines = text(&out.stdout);
    let second = inspect(&env, "second")["Id"].as_str().unwrap().to_string();
    let actions: Vec<&str> = lines
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap())
        .collect();
    assert_eq!(actions, ["create", "start", "die"], "{lines}");
    assert!(lines.lines().all(|l| l.contains(&second)), "{lines}");
    assert!(lines.lines().all(|l| l.contains("name=second")), "{lines}");
}
