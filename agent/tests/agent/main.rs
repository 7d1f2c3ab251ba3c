//! Integration tests of the node agent (run as root): the real gRPC server on a temp socket,
//! real containers, driven through the real client. The test binary doubles as the engine's
//! re-exec target (shim and setup) and as an unprivileged probe client (`peer-probe`).

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(clippy::unwrap_used, missing_docs)]

mod image_blobs;
mod images;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use agent::AgentClient;
use agent::daemon::{Daemon, DaemonError};
use agent::peer::PeerPolicy;
use agent::proto::{CreateRequest, LogsRequest};
use libtest_mimic::{Arguments, Failed, Trial};
use support::Env;
use tonic::Code;

type TestResult = Result<(), Failed>;
type Case = (&'static str, fn() -> TestResult);

const ROOT_ONLY: PeerPolicy = PeerPolicy { group: None };

fn create(env: &Env, name: &str, script: &str) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        config: Some(env.config(script)),
        auto_remove: false,
    }
}

async fn logs(client: &mut AgentClient, id: &str, follow: bool) -> (String, String) {
    let request = LogsRequest {
        container: id.into(),
        follow,
        tail: -1,
        stdout: false,
        stderr: false,
        ..Default::default()
    };
    let mut stream = client.logs(request).await.unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    while let Some(entry) = stream.next().await.unwrap() {
        let line = String::from_utf8(entry.line).unwrap();
        if entry.stream == "stderr" {
            err += &line
        } else {
            out += &line
        }
    }
    (out, err)
}

/// Create, start, wait, logs, list, inspect, remove over the API.
fn lifecycle_over_the_api() -> TestResult {
    let env = Env::new();
    support::runtime().block_on(async {
        let (mut c, server) = env.serve(ROOT_ONLY).await;
        let v = c.version().await.unwrap();
        assert_eq!(v.pid, std::process::id());
        assert_eq!(v.data_root, env.config.data_root.display().to_string());

        let created = c
            .create(create(&env, "job", "echo hello; echo oops >&2; exit 3"))
            .await
            .unwrap();
        assert_eq!(created.name, "job");
        assert_eq!(created.id.len(), 64);
        let listed = c.list(true, vec![]).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state().docker_name(), "created");

        c.start("job").await.unwrap();
        let waited = c.wait(&created.id[..12]).await.unwrap();
        assert_eq!(waited.exit_code, 3);
        assert_eq!(
            logs(&mut c, "job", false).await,
            ("hello\n".into(), "oops\n".into())
        );

        assert!(
            c.list(false, vec![]).await.unwrap().is_empty(),
            "exited containers are hidden without all"
        );
        let all = c.list(true, vec!["exited=3".into()]).await.unwrap();
        assert_eq!(
            (all.len(), all[0].state().docker_name(), all[0].exit_code),
            (1, "exited", 3)
        );
        assert_eq!(
            all[0].command,
            ["sh", "-c", "echo hello; echo oops >&2; exit 3"]
        );

        let inspected = c.inspect("job").await.unwrap();
        assert!(inspected.spec_json.contains("\"args\""));
        assert_eq!(inspected.summary.unwrap().id, created.id);

        let dup = c.create(create(&env, "job", "true")).await.unwrap_err();
        assert_eq!(dup.code(), Some(Code::AlreadyExists), "{dup}");
        assert!(dup.to_string().contains("already in use"), "{dup}");

        c.remove("job", false).await.unwrap();
        assert!(c.list(true, vec![]).await.unwrap().is_empty());
        let gone = c.start("job").await.unwrap_err();
        assert_eq!(gone.code(), Some(Code::NotFound));
        assert_eq!(gone.to_string(), "no such container: job");
        server.shutdown().await.unwrap();
    });
    Ok(())
}

/// Pause, unpause, stats, stop after the grace period, kill, forced remove.
fn stop_kill_pause_stats() -> TestResult {
    let env = Env::new();
    support::runtime().block_on(async {
        let (mut c, server) = env.serve(ROOT_ONLY).await;
        let a = c.create(create(&env, "a", "sleep 1000")).await.unwrap();
        c.start("a").await.unwrap();
        c.pause("a").await.unwrap();
        assert_eq!(
            c.list(false, vec![]).await.unwrap()[0]
                .state()
                .docker_name(),
            "paused"
        );
        let refused = c.pause("a").await.unwrap_err();
        assert_eq!(refused.code(), Some(Code::FailedPrecondition), "{refused}");
        c.unpause("a").await.unwrap();
        let stats = c.stats("a").await.unwrap();
        assert!(stats.pids >= 1 && stats.memory_usage > 0, "{stats:?}");

        // sh as PID 1 ignores SIGTERM: stop kills it after the 1 s grace period.
        let started = Instant::now();
        let stopped = c.stop("a", Some(1)).await.unwrap();
        assert_eq!(
            (stopped.state().docker_name(), stopped.exit_code),
            ("exited", 137)
        );
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );

        c.create(create(
            &env,
            "b",
            "trap 'exit 7' USR1; while true; do sleep 0.05; done",
        ))
        .await
        .unwrap();
        c.start("b").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.kill("b", 10).await.unwrap();
        assert_eq!(c.wait("b").await.unwrap().exit_code, 7);

        c.create(create(&env, "d", "sleep 1000")).await.unwrap();
        c.start("d").await.unwrap();
        let busy = c.remove("d", false).await.unwrap_err();
        assert_eq!(busy.code(), Some(Code::FailedPrecondition), "{busy}");
        c.remove("d", true).await.unwrap();
        let names: Vec<String> = c
            .list(true, vec![])
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names.len(), 2);
        assert!(!names.contains(&"d".to_string()));
        assert_eq!(a.name, "a");
        server.shutdown().await.unwrap();
    });
    Ok(())
}

/// A follower sees every line as it is written and its stream ends when the container exits.
fn logs_follow_until_exit() -> TestResult {
    let env = Env::new();
    support::runtime().block_on(async {
        let (mut c, server) = env.serve(ROOT_ONLY).await;
        c.create(create(
            &env,
            "ticker",
            "for i in 1 2 3 4 5; do echo line$i; echo err$i >&2; sleep 0.2; done",
        ))
        .await
        .unwrap();
        let request = LogsRequest {
            container: "ticker".into(),
            follow: true,
            tail: -1,
            stdout: true,
            stderr: false,
            ..Default::default()
        };
        let mut stream = c.logs(request).await.unwrap();
        c.start("ticker").await.unwrap();
        let mut first_at = None;
        let mut lines = Vec::new();
        let started = Instant::now();
        while let Some(entry) = stream.next().await.unwrap() {
            first_at.get_or_insert(started.elapsed());
            lines.push(String::from_utf8(entry.line).unwrap());
        }
        assert_eq!(
            lines,
            ["line1\n", "line2\n", "line3\n", "line4\n", "line5\n"]
        );
        assert!(
            first_at.unwrap() < Duration::from_millis(700),
            "first line only after {first_at:?}"
        );
        let tail = LogsRequest {
            container: "ticker".into(),
            follow: false,
            tail: 2,
            stdout: true,
            stderr: false,
            ..Default::default()
        };
        let mut stream = c.logs(tail).await.unwrap();
        let mut last = Vec::new();
        while let Some(entry) = stream.next().await.unwrap() {
            last.push(String::from_utf8(entry.line).unwrap());
        }
        assert_eq!(last, ["line4\n", "line5\n"]);
        server.shutdown().await.unwrap();
    });
    Ok(())
}

/// Engine calls run off the async threads: with one async thread, a pending wait and a slow
/// stop do not delay other requests; failing requests leave the server serving.
fn engine_calls_do_not_block_and_errors_do_not_kill() -> TestResult {
    let env = Env::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut c, server) = env.serve(ROOT_ONLY).await;
        c.create(create(&env, "slow", "sleep 1000")).await.unwrap();
        c.start("slow").await.unwrap();
        let mut waiter = c.clone();
        let wait = tokio::spawn(async move { waiter.wait("slow").await });
        let mut stopper = c.clone();
        let stop = tokio::spawn(async move { stopper.stop("slow", Some(2)).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        c.version().await.unwrap();
        c.list(true, vec![]).await.unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "blocked for {:?}",
            t.elapsed()
        );

        for (result, code) in [
            (c.start("nope").await.unwrap_err(), Code::NotFound),
            (
                c.create(CreateRequest {
                    name: "bad name".into(),
                    config: Some(env.config("true")),
                    auto_remove: false,
                })
                .await
                .unwrap_err(),
                Code::InvalidArgument,
            ),
            (
                c.create(CreateRequest {
                    name: String::new(),
                    config: Some(agent::proto::ContainerConfig {
                        args: vec![],
                        ..env.config("")
                    }),
                    auto_remove: false,
                })
                .await
                .unwrap_err(),
                Code::InvalidArgument,
            ),
            (
                c.list(false, vec!["color=red".into()]).await.unwrap_err(),
                Code::InvalidArgument,
            ),
            (
                c.kill("slow", 12345).await.unwrap_err(),
                Code::InvalidArgument,
            ),
        ] {
            assert_eq!(result.code(), Some(code), "{result}");
        }
        assert_eq!(stop.await.unwrap().unwrap().exit_code, 137);
        assert_eq!(wait.await.unwrap().unwrap().exit_code, 137);
        c.version().await.unwrap();
        server.shutdown().await.unwrap();
    });
    Ok(())
}

/// `run -d --rm`: the agent removes an auto-remove container once it exits.
fn auto_remove_after_exit() -> TestResult {
    let env = Env::new();
    support::runtime().block_on(async {
        let (mut c, server) = env.serve(ROOT_ONLY).await;
        let mut req = create(&env, "once", "sleep 0.3");
        req.auto_remove = true;
        c.create(req).await.unwrap();
        c.start("once").await.unwrap();
        assert_eq!(c.list(false, vec![]).await.unwrap().len(), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !c.list(true, vec![]).await.unwrap().is_empty() {
            assert!(
                Instant::now() < deadline,
                "auto-remove container still listed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.shutdown().await.unwrap();
    });
    Ok(())
}

/// Peer credentials are checked by the server itself: with the socket opened to everyone,
/// a process running as `nobody` is still refused, while root is served.
fn server_refuses_peers_outside_the_group() -> TestResult {
    let env = Env::new();
    support::runtime().block_on(async {
        let (mut c, server) = env.serve(ROOT_ONLY).await;
        for dir in [env.tmp.path(), env.config.run_root.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(env.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
        let exe = std::env::current_exe().unwrap();
        let socket = env.socket();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .arg("peer-probe")
                .arg(socket)
                .uid(65534)
                .gid(65534)
                .output()
        })
        .await
        .unwrap()
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.contains("PermissionDenied") && text.contains("refused for uid 65534"),
            "probe said: {text} / {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.version().await.unwrap();
        server.shutdown().await.unwrap();
    });
    Ok(())
}

/// The daemon: one agent per data root, socket 0660, pid file; a second agent over the same
/// roots after the first stopped re-adopts its running container with name, exit code and logs.
fn daemon_lock_socket_and_readoption() -> TestResult {
    // The daemon creates the default network (and so rewrites the firewall table).
    let _net = support::net_lock();
    let env = Env::new();
    let first = Daemon::prepare(env.config.clone()).unwrap();
    match Daemon::prepare(env.config.clone()) {
        Err(DaemonError::Locked { .. }) => {}
        other => panic!("second agent on one data root: {other:?}"),
    }
    let mode = std::fs::metadata(env.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
    let pid: u32 = std::fs::read_to_string(env.config.pid_file())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, std::process::id());
    let rt = support::runtime();
    let id = rt.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(first.run(async {
            let _ = rx.await;
        }));
        let mut c = AgentClient::connect(&env.socket()).await.unwrap();
        let created = c
            .create(create(
                &env,
                "survivor",
                "echo before; sleep 1.5; echo after; exit 4",
            ))
            .await
            .unwrap();
        c.start("survivor").await.unwrap();
        tx.send(()).unwrap();
        task.await.unwrap().unwrap();
        assert!(!env.socket().exists() && !env.config.pid_file().exists());
        created.id
    });
    let second = Daemon::prepare(env.config.clone()).unwrap();
    rt.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(second.run(async {
            let _ = rx.await;
        }));
        let mut c = AgentClient::connect(&env.socket()).await.unwrap();
        let listed = c.list(false, vec![]).await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(
            (
                listed[0].id.as_str(),
                listed[0].name.as_str(),
                listed[0].state().docker_name()
            ),
            (id.as_str(), "survivor", "running")
        );
        assert_eq!(c.wait("survivor").await.unwrap().exit_code, 4);
        assert_eq!(logs(&mut c, "survivor", false).await.0, "before\nafter\n");
        tx.send(()).unwrap();
        task.await.unwrap().unwrap();
    });
    Ok(())
}

/// `peer-probe <socket>`: calls Version and prints the outcome (run as an unprivileged user).
fn peer_probe(socket: &str) -> i32 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match AgentClient::connect(std::path::Path::new(socket)).await {
            Ok(mut c) => match c.version().await {
                Ok(v) => println!("served: {v:?}"),
                Err(e) => println!("{:?}: {e}", e.code()),
            },
            Err(e) => println!("connect: {e}"),
        }
    });
    0
}

fn main() {
    if let Some(code) = engine::entry::dispatch_from_env() {
        std::process::exit(code);
    }
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("peer-probe") {
        std::process::exit(peer_probe(argv.get(2).map_or("", String::as_str)));
    }
    support::isolate_network();
    let args = Arguments::from_args();
    let mut tests: Vec<Case> = vec![
        ("lifecycle_over_the_api", lifecycle_over_the_api),
        ("stop_kill_pause_stats", stop_kill_pause_stats),
        ("logs_follow_until_exit", logs_follow_until_exit),
        (
            "engine_calls_do_not_block_and_errors_do_not_kill",
            engine_calls_do_not_block_and_errors_do_not_kill,
        ),
        ("auto_remove_after_exit", auto_remove_after_exit),
        (
            "server_refuses_peers_outside_the_group",
            server_refuses_peers_outside_the_group,
        ),
        (
            "daemon_lock_socket_and_readoption",
            daemon_lock_socket_and_readoption,
        ),
    ];
    tests.extend(images::cases());
    tests.extend(image_blobs::cases());
    let trials = tests
        .into_iter()
        .map(|(name, f)| Trial::test(name, f))
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let leftovers = support::leftover_cgroups();
    if !leftovers.is_empty() {
        eprintln!("leftover cgroups: {leftovers:?}");
        std::process::exit(1);
    }
    conclusion.exit();
}
