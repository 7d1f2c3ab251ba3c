//! End-to-end: the commands Compose has over a service's containers — `cp`, `export`,
//! `commit`, `stats`, `volumes`, `attach` — and the engine's `container cp|export|diff|
//! commit|update` under them, with the real binary, agent and containers (run as root). Each
//! test names the Compose test it follows; the scenarios are ours.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use compose_env::{Env, text};

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REPLICAS: &str = r#"
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    scale: 3
"#;

/// `bosun container <args>` with this test's roots; expects success.
fn container_ok(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["container"];
    all.extend_from_slice(args);
    env.ok_raw(&all)
}

/// `cat PATH` in a container: its output, or `None` when it fails.
fn cat(env: &Env, container: &str, path: &str) -> Option<String> {
    let out = env.raw(&["container", "exec", container, "cat", path]);
    out.status.success().then(|| text(&out.stdout))
}

/// Follows Compose's TestCopy: `cp` into a service reaches every replica, `--index` one of
/// them; out of a service it reads replica 1 (or the indexed one); folders go both ways.
#[test]
fn cp_reaches_every_replica_or_the_indexed_one() {
    let env = Env::new(REPLICAS);
    env.ok(&["up", "-d"]);
    let host = env.dir();
    std::fs::write(host.join("cp-me.txt"), "hello world\n").unwrap();
    std::fs::create_dir_all(host.join("cp-folder/sub")).unwrap();
    std::fs::write(host.join("cp-folder/sub/cp-me.txt"), "hello from folder\n").unwrap();

    env.ok(&["cp", "cp-me.txt", "web:/tmp/default.txt"]);
    for n in 1..=3 {
        assert_eq!(
            cat(&env, &env.name("web", n), "/tmp/default.txt").as_deref(),
            Some("hello world\n"),
            "replica {n}"
        );
    }
    env.ok(&["cp", "--index=3", "cp-me.txt", "web:/tmp/indexed.txt"]);
    assert!(cat(&env, &env.name("web", 3), "/tmp/indexed.txt").is_some());
    assert_eq!(cat(&env, &env.name("web", 2), "/tmp/indexed.txt"), None);

    env.ok(&["cp", "web:/tmp/default.txt", "from-default.txt"]);
    assert_eq!(
        std::fs::read_to_string(host.join("from-default.txt")).unwrap(),
        "hello world\n"
    );
    env.ok(&[
        "cp",
        "--index=3",
        "web:/tmp/indexed.txt",
        "from-indexed.txt",
    ]);
    assert!(host.join("from-indexed.txt").is_file());
    let missing = env.bosun(&["cp", "--index=2", "web:/tmp/indexed.txt", "nope.txt"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("could not find the file"),
        "{}",
        text(&missing.stderr)
    );

    // A folder into an existing directory lands under its own name; out of the container
    // to a missing path, it takes that path's name.
    env.ok(&["cp", "cp-folder", "web:/tmp"]);
    assert_eq!(
        cat(&env, &env.name("web", 1), "/tmp/cp-folder/sub/cp-me.txt").as_deref(),
        Some("hello from folder\n")
    );
    env.ok(&["cp", "web:/tmp/cp-folder", "cp-folder2"]);
    assert_eq!(
        std::fs::read_to_string(host.join("cp-folder2/sub/cp-me.txt")).unwrap(),
        "hello from folder\n"
    );
    // The engine's own command, by container name, into a stopped container too.
    let one = env.name("web", 1);
    env.ok(&["stop", "-t", "1"]);
    container_ok(&env, &["cp", "cp-me.txt", &format!("{one}:/stopped.txt")]);
    container_ok(&env, &["cp", &format!("{one}:/stopped.txt"), "back.txt"]);
    assert_eq!(
        std::fs::read_to_string(host.join("back.txt")).unwrap(),
        "hello world\n"
    );
}

/// Follows Compose's TestExport, TestExportWithReplicas, TestCommit and
/// TestCommitWithReplicas: `export -o` writes the chosen replica's root as a tar; `commit`
/// makes an image of the chosen replica with its changes, author, message and `-c`
/// instructions; `container diff` lists those changes.
#[test]
fn export_and_commit_take_the_chosen_replica() {
    let env = Env::new(REPLICAS);
    env.ok(&["up", "-d"]);
    let two = env.name("web", 2);
    let marker = env.raw(&[
        "container",
        "exec",
        &two,
        "sh",
        "-c",
        "echo replica-two > /marker && rm /bin/true",
    ]);
    assert!(marker.status.success(), "{}", text(&marker.stderr));

    let tar = env.tmp.path().join("two.tar");
    env.ok(&["export", "--index=2", "-o", tar.to_str().unwrap(), "web"]);
    let listing = std::process::Command::new("tar")
        .args(["tf", tar.to_str().unwrap()])
        .output()
        .unwrap();
    let names = text(&listing.stdout);
    assert!(names.lines().any(|l| l == "marker"), "{names}");
    assert!(
        names.lines().any(|l| l.trim_end_matches('/') == "bin"),
        "{names}"
    );
    assert!(!names.lines().any(|l| l == "bin/true"), "{names}");

    let diff = container_ok(&env, &["diff", &two]);
    let lines: Vec<&str> = diff.lines().collect();
    assert!(lines.contains(&"A /marker"), "{diff}");
    assert!(lines.contains(&"C /bin"), "{diff}");
    assert!(lines.contains(&"D /bin/true"), "{diff}");

    let image = format!("{}-committed:latest", env.project);
    let (id, _) = env.ok(&[
        "commit",
        "-a",
        "John Hannibal Smith <hannibal@a-team.com>",
        "-c",
        "ENV DEBUG=true",
        "-m",
        "sample commit",
        "--index=2",
        "web",
        &image,
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let inspect = env.ok_raw(&["image", "inspect", &image]);
    assert!(inspect.contains("DEBUG=true"), "{inspect}");
    assert!(inspect.contains("hannibal@a-team.com"), "{inspect}");
    let run = env.ok_raw(&[
        "container",
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "cat /marker; test -e /bin/true || echo gone",
    ]);
    assert_eq!(run, "replica-two\ngone\n");
    // Replica 1 has none of it.
    let first = format!("{}-first:latest", env.project);
    env.ok(&["commit", "--index=1", "web", &first]);
    let out = env.raw(&["container", "run", "--rm", &first, "cat", "/marker"]);
    assert!(!out.status.success());
}

/// No Compose test (docker's `container update`): new limits reach a running container's
/// cgroup at once, and a bad value is one clear error.
#[test]
fn update_changes_a_running_containers_limits() {
    let env = Env::new(REPLICAS);
    env.ok(&["up", "-d", "--scale", "web=1"]);
    let one = env.name("web", 1);
    let updated = container_ok(
        &env,
        &["update", "--memory", "64m", "--restart", "always", &one],
    );
    assert_eq!(updated.trim(), one);
    let stats = container_ok(&env, &["stats", "--no-stream", "--format", "json", &one]);
    let sample: serde_json::Value = serde_json::from_str(stats.lines().next().unwrap()).unwrap();
    assert!(
        sample["MemUsage"].as_str().unwrap().ends_with("/ 64MiB"),
        "{sample}"
    );
    assert_eq!(sample["Name"], one.as_str());
    let inspect = container_ok(&env, &["inspect", &one]);
    assert!(inspect.contains("always"), "{inspect}");
    let bad = env.raw(&["container", "update", "--memory", "1k", &one]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("memory"),
        "{}",
        text(&bad.stderr)
    );
}

/// Follows Compose's TestLocalComposeVolume for `volumes`, and its attach and stats
/// commands: `volumes` lists the project's volumes (those a named service mounts), `stats
/// --no-stream --format json` one line per running container, `attach SERVICE` the
/// container's live output.
#[test]
fn stats_volumes_and_attach_act_on_the_project() {
    let env = Env::new(
        r#"
services:
  web:
    image: busybox:test
    command: ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]
    stop_grace_period: 1s
    volumes: ["data:/data"]
  other:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
volumes:
  data: {}
  spare: {}
"#,
    );
    env.ok(&["up", "-d"]);
    let (stats, _) = env.ok(&["stats", "--no-stream", "--format", "json"]);
    let mut names: Vec<String> = stats
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            for field in ["ID", "CPUPerc", "MemUsage", "MemPerc", "PIDs"] {
                assert!(v[field].is_string(), "{field} in {v}");
            }
            v["Name"].as_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, [env.name("other", 1), env.name("web", 1)]);

    let (all, _) = env.ok(&["volumes", "-q"]);
    let data = format!("{}_data", env.project);
    assert!(all.lines().any(|l| l == data), "{all}");
    let (of_web, _) = env.ok(&["volumes", "-q", "web"]);
    assert_eq!(of_web.lines().collect::<Vec<_>>(), [data.as_str()]);
    let (of_other, _) = env.ok(&["volumes", "-q", "other"]);
    assert_eq!(of_other.trim(), "");

    let mut attach = env.command(&["-p", &env.project, "attach", "--no-stdin", "web"]);
    let mut child = attach
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&text(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.lock().unwrap().contains("tick") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.lock().unwrap().contains("tick"),
        "attach showed no output"
    );
}

/// Follows Compose's TestUpSwitchVolumes: `up` with a variable naming another external volume
/// recreates the container on the new volume.
#[test]
fn up_follows_an_external_volume_switched_by_a_variable() {
    let env = Env::new(
        r#"
services:
  app:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes: ["ext:/data"]
volumes:
  ext:
    external: true
    name: ${EXTERNAL_VOLUME}
"#,
    );
    let (one, two) = (
        format!("{}-ext-1", env.project),
        format!("{}-ext-2", env.project),
    );
    env.ok_raw(&["volume", "create", &one]);
    env.ok_raw(&["volume", "create", &two]);
    let up_with = |volume: &str| {
        let out = env
            .command(&["-p", &env.project, "up", "-d"])
            .env("EXTERNAL_VOLUME", volume)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let app = env.name("app", 1);
    up_with(&one);
    let marker = env.raw(&[
        "container",
        "exec",
        &app,
        "sh",
        "-c",
        "echo first > /data/marker",
    ]);
    assert!(marker.status.success(), "{}", text(&marker.stderr));
    let inspect = container_ok(&env, &["inspect", &app]);
    assert!(
        inspect.contains(&one) && !inspect.contains(&two),
        "{inspect}"
    );

    up_with(&two);
    let inspect = container_ok(&env, &["inspect", &app]);
    assert!(
        inspect.contains(&two) && !inspect.contains(&one),
        "{inspect}"
    );
    assert_eq!(
        cat(&env, &app, "/data/marker"),
        None,
        "the second volume is empty"
    );
    // Back to the first: its data is still there.
    up_with(&one);
    assert_eq!(cat(&env, &app, "/data/marker").as_deref(), Some("first\n"));
}
