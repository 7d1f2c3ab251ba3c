//! What other local users can reach of a node's containers: nothing. A container's root can
//! leave a setuid-root binary in a named volume or in its rootfs, and write secrets into its
//! environment and logs; an unprivileged host user (here `nobody`, through `setpriv`) can
//! neither run those binaries nor read the secrets. An agent started over an existing data root
//! with looser modes closes it.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use compose_env::{Env, text};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const NOBODY: &str = "65534";

/// Runs `argv` as `nobody`, without supplementary groups, from a shell running as `nobody`
/// (setpriv's own exec may still resolve the path with root's capabilities).
fn as_nobody(argv: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "--",
            "/bin/sh",
            "-c",
            "\"$@\"",
            "sh",
        ])
        .args(argv)
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn container_id(env: &Env, name: &str) -> String {
    let out = env.ok_raw(&["container", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

fn wait_for_log(env: &Env, name: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.raw(&["container", "logs", name]);
        if text(&out.stdout).contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the logs of {name}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop_agent(env: &Env) {
    if let Some(pid) = env.agent_pid() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while kill(Pid::from_raw(pid), None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn other_users_can_neither_run_setuid_files_nor_read_secrets_a_container_left() {
    let env = Env::new("services: {}\n");
    // Only Bosun's own modes stand between other users and the data root.
    std::fs::set_permissions(env.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = env.tmp.path().join("data");
    env.ok_raw(&[
        "container",
        "run",
        "-d",
        "--name",
        "suid",
        "-v",
        "pvol:/data",
        "-e",
        "DB_PASSWORD=hunter2-env",
        "busybox:test",
        "sh",
        "-c",
        "cp /bin/busybox /data/id && chmod 4755 /data/id && cp /bin/busybox /id && \
         chmod 4755 /id && echo hunter2-log && sleep 1000",
    ]);
    wait_for_log(&env, "suid", "hunter2-log");
    let id = container_id(&env, "suid");
    let container = data.join("containers").join(&id);
    let setuid: [PathBuf; 3] = [
        data.join("volumes/pvol/_data/id"),
        container.join("rootfs/upper/id"),
        container.join("rootfs/merged/id"),
    ];
    for file in &setuid {
        // The files are there, setuid root: only the closed directories keep them from use.
        assert_eq!(mode(file) & 0o4000, 0o4000, "{}", file.display());
        let out = as_nobody(&[file.to_str().unwrap(), "-u"]);
        assert!(
            !out.status.success() && !text(&out.stdout).contains('0'),
            "nobody ran {}: {}{}",
            file.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let config = container.join("config.json");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("hunter2-env")
    );
    let log = container.join("container.log");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("hunter2-log")
    );
    assert_eq!(mode(&config), 0o600, "config.json");
    assert_eq!(mode(&log), 0o600, "container.log");
    for file in [&config, &log, &setuid[0]] {
        let out = as_nobody(&["cat", file.to_str().unwrap()]);
        assert!(
            !out.status.success() && !text(&out.stdout).contains("hunter2"),
            "nobody read {}",
            file.display()
        );
    }
    let listing = as_nobody(&["ls", data.join("containers").to_str().unwrap()]);
    assert!(!listing.status.success(), "nobody listed the containers");
    env.ok_raw(&["container", "rm", "-f", "suid"]);
    env.ok_raw(&["volume", "rm", "pvol"]);
}

#[test]
fn an_agent_closes_an_existing_data_root_left_open() {
    let env = Env::new("services: {}\n");
    env.ok_raw(&[
        "container",
        "create",
        "--name",
        "old",
        "-e",
        "TOKEN=secret",
        "busybox:test",
        "true",
    ]);
    let data = env.tmp.path().join("data");
    let run = env.run_root();
    let config = data
        .join("containers")
        .join(container_id(&env, "old"))
        .join("config.json");
    stop_agent(&env);
    // As an install made before the roots were closed left them.
    for (path, m) in [(&data, 0o755), (&run, 0o755), (&config, 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
    }
    // The next command starts a new agent over the same roots.
    env.ok_raw(&["container", "ls", "-a"]);
    assert_eq!(mode(&data), 0o700, "data root");
    assert_eq!(mode(&run) & 0o007, 0, "run root");
    assert_eq!(mode(&config), 0o600, "config.json");
    env.ok_raw(&["container", "rm", "old"]);
}
