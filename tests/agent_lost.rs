//! End-to-end: a command whose agent goes away says so — which socket, that the agent is not
//! running or not reachable, and where the agent's log is — instead of a bare "transport error".

#![allow(clippy::unwrap_used)]

mod container_env;
use testkit::teardown;

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use container_env::{Env, text, wait_gone};

#[test]
fn a_killed_agent_is_named_with_its_socket_and_log() {
    let env = Env::new("lost");
    let rootfs = env.rootfs();
    env.ok(&[
        "run", "-d", "--name", "waiter", "--rootfs", &rootfs, "sleep", "30",
    ]);
    let agent = env.agent_pid().unwrap();
    let waiting = env
        .command(&["wait", "waiter"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Give `wait` time to reach the agent before the agent dies under it.
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(agent), Signal::SIGKILL).unwrap();
    wait_gone(agent);
    let out = waiting.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "wait succeeded: {stderr}");
    let socket = env.run_root().join("bosun.sock");
    let log = env.run_root().join("agent.log");
    assert!(
        stderr.contains(&format!(
            "the bosun agent at {} is not running or not reachable",
            socket.display()
        )) && stderr.contains(&format!("{}", log.display())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // An explicit socket where nothing listens is not started, and is named the same way.
    let nowhere = env.tmp.path().join("nowhere.sock");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args([
            "container",
            "-H",
            &format!("unix://{}", nowhere.display()),
            "ls",
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the bosun agent at {} is not running or not reachable",
            nowhere.display()
        )),
        "{stderr}"
    );

    // The next command starts an agent again (and the environment's cleanup uses it).
    env.ok(&["rm", "-f", "waiter"]);
}
