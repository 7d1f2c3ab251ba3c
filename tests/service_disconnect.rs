//! `--stop-on-disconnect` and `--with-registry-auth` with real containers: 3 managers and 2
//! workers, each node with its own `bosun agent` and node daemon in its own network namespace
//! and data root.
//!
//! - A worker runs a task of a service with `--stop-on-disconnect 3s` and one of a service
//!   without; its link goes down. Cut off, it stops the first (the second keeps running),
//!   both get replacements on the other nodes, and once the link is back the stopped task is
//!   reported failed with the reason and the cluster rests with one running task per slot.
//! - A `docker-registry` with basic auth on node 0 holds an image: a service without
//!   `--with-registry-auth` is rejected with the registry's error; with it (after `bosun
//!   login`) its tasks run on every node, none of which has credentials of its own, and the
//!   password is on no manager's or node's disk and in no `service inspect`.
//!
//! Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::{RunningContainer, wait_until};
use testbed::{Bed, bin, blocking};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cluster_manager::services::proto::ListTasksRequest;
use orchestrator::swarm::TaskState;

const IMAGE: &str = "busybox:svc";
/// Time allowed for anything to happen.
const WITHIN: Duration = Duration::from_secs(60);
/// The worker that is cut off.
const WORKER: usize = 4;
/// Replicas of each service: one per node, so the worker runs one of each.
const REPLICAS: usize = 5;

/// `name`'s running containers on the worker and elsewhere.
fn split(bed: &Bed, name: &str) -> (Vec<RunningContainer>, Vec<RunningContainer>) {
    bed.running_containers(name)
        .into_iter()
        .partition(|c| c.member == WORKER)
}

/// The failed report of task `task`, once the managers hold it: its error.
async fn failed_error(bed: &Bed, service: &str, task: &str) -> Result<String, String> {
    let list = bed
        .services(0)
        .tasks(ListTasksRequest {
            service: service.to_owned(),
            ..ListTasksRequest::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let record = list
        .tasks
        .iter()
        .find(|t| t.task.id.as_str() == task)
        .ok_or_else(|| format!("no task {task}"))?;
    match (&record.task.status.state, &record.task.status.error) {
        (TaskState::Failed, Some(error)) => Ok(error.clone()),
        (state, error) => Err(format!("task {task} is {state} ({error:?})")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_off_worker_stops_its_stop_on_disconnect_tasks_and_keeps_the_others() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let replicas = REPLICAS.to_string();
        for (name, extra) in [
            ("once", &["--stop-on-disconnect", "3s"][..]),
            ("free", &[][..]),
        ] {
            let mut args = vec![
                "service",
                "create",
                "-d",
                "--name",
                name,
                "--replicas",
                &replicas,
                "--no-rebalance",
            ];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[IMAGE, "sleep", "3600"]);
            bed.output(0, &args);
        }
        for name in ["once", "free"] {
            wait_until(&bed, "the replicas at rest", WITHIN, || {
                bed.one_running_per_slot(0, name, REPLICAS as u64)
            })
            .await;
        }
        let (once_cut, _) = split(&bed, "once");
        let (free_cut, _) = split(&bed, "free");
        assert_eq!(once_cut.len(), 1, "the worker runs one task of each");
        assert_eq!(free_cut.len(), 1, "the worker runs one task of each");
        let inspect = bed.output(0, &["service", "inspect", "once"]);
        assert!(
            inspect.contains("\"stop_on_disconnect\""),
            "the spec keeps the setting: {inspect}"
        );

        // The worker's link goes down.
        blocking(|| bed.lab().set_link(WORKER, false));
        let cut = Instant::now();

        // Cut off, it stops its task of `once` and keeps its task of `free`.
        wait_until(
            &bed,
            "the cut-off worker stops its task of once",
            WITHIN,
            || {
                let (on_worker, _) = split(&bed, "once");
                async move {
                    if on_worker.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("still running: {on_worker:?}"))
                    }
                }
            },
        )
        .await;
        eprintln!(
            "the cut-off worker stopped its task after {:?}",
            cut.elapsed()
        );
        let (still, _) = split(&bed, "free");
        assert_eq!(still, free_cut, "the task without the option keeps running");

        // Both services' tasks run on the other nodes.
        for name in ["once", "free"] {
            wait_until(&bed, "replacements on the other nodes", WITHIN, || {
                let (_, elsewhere) = split(&bed, name);
                async move {
                    if elsewhere.len() == REPLICAS {
                        Ok(())
                    } else {
                        Err(format!("{name}: {elsewhere:?}"))
                    }
                }
            })
            .await;
        }
        let (still, _) = split(&bed, "free");
        assert_eq!(still, free_cut, "still running while cut off");
        let (none, _) = split(&bed, "once");
        assert!(
            none.is_empty(),
            "nothing of once restarted on the cut-off worker"
        );

        // Back on the network: the stopped task is reported failed with its reason, the stale
        // copy of `free` is stopped, and each slot runs one task.
        blocking(|| bed.lab().set_link(WORKER, true));
        let error = wait_until(&bed, "the cut-off task's failure reported", WITHIN, || {
            failed_error(&bed, "once", &once_cut[0].task)
        })
        .await;
        assert_eq!(
            error,
            "stopped: no manager reachable for 3s (stop-on-disconnect)"
        );
        for name in ["once", "free"] {
            wait_until(
                &bed,
                "one running task per slot after the heal",
                WITHIN,
                || bed.one_running_per_slot(0, name, REPLICAS as u64),
            )
            .await;
        }
        let ps = bed.output(0, &["service", "ps", "once", "--no-trunc"]);
        assert!(
            ps.contains("stopped: no manager reachable for 3s (stop-on-disconnect)"),
            "service ps shows why the task stopped:\n{ps}"
        );
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

/// The registry's user and password (the password is looked for on disk afterwards).
const USER: &str = "alice";
const PASSWORD: &str = "pw-7f3a9c-s3cret";
/// `PASSWORD` hashed with bcrypt, as `docker-registry`'s htpasswd file wants it.
const PASSWORD_BCRYPT: &str = "$2a$05$MftrmOrT1iRxBeOdYG/sqOcud8Y2y.Z1/pa1ZNB8eRazemxPgEIdS";
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const REGISTRY_PORT: u16 = 5000;

/// A `docker-registry` with basic auth in node 0's namespace; killed on drop.
struct AuthRegistry {
    child: Child,
    addr: String,
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry(bed: &Bed) -> AuthRegistry {
    assert!(
        Path::new(REGISTRY_BIN).exists(),
        "{REGISTRY_BIN} is missing: run scripts/install-deps.sh (apt-get install docker-registry)"
    );
    let lab = bed.lab.as_ref().expect("a lab bed");
    let addr = format!("{}:{REGISTRY_PORT}", lab.addr(0));
    let dir = bed.dir().join("registry");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("htpasswd"), format!("{USER}:{PASSWORD_BCRYPT}\n")).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: bosun-test\n    path: {}\n",
            dir.join("storage").display(),
            dir.join("htpasswd").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(bed.dir().join("registry.log")).unwrap();
    let mut command = Command::new(REGISTRY_BIN);
    command
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let registry = AuthRegistry {
        child: lab.spawn(0, command),
        addr,
    };
    let deadline = Instant::now() + WITHIN;
    let netns = lab.netns(0);
    while !testbed::lab::in_netns(&netns, || {
        std::net::TcpStream::connect(&registry.addr).is_ok()
    }) {
        assert!(
            Instant::now() < deadline,
            "docker-registry did not listen on {}: {}",
            registry.addr,
            std::fs::read_to_string(bed.dir().join("registry.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    registry
}

/// Runs `bosun <args>` as a user of member 0 whose `bosun login` store is `config`, feeding
/// `stdin`.
fn user_bosun(bed: &Bed, config: &Path, args: &[&str], stdin: &str) -> Output {
    let lab = bed.lab.as_ref().expect("a lab bed");
    let agent = bed.members[0].agent.as_ref().expect("an agent");
    let addrs: Vec<String> = (0..bed.members.len())
        .map(|n| lab.addr(n).to_string())
        .collect();
    let input = bed.dir().join("stdin");
    std::fs::write(&input, stdin).unwrap();
    let mut command = Command::new(bin());
    command
        .args(args)
        .env("BOSUN_DATA_ROOT", &bed.members[0].root)
        .env("BOSUN_HOST", format!("unix://{}", agent.socket().display()))
        .env("BOSUN_CONFIG", config)
        .env("BOSUN_INSECURE_REGISTRIES", addrs.join(","))
        .stdin(std::fs::File::open(&input).unwrap());
    blocking(|| lab.output(0, command))
}

fn user_ok(bed: &Bed, config: &Path, args: &[&str], stdin: &str) -> String {
    let out = user_bosun(bed, config, args, stdin);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "bosun {args:?} failed: {text}");
    text
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file()
            && let Ok(data) = std::fs::read(&path)
            && data.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path);
        }
    }
    found
}

/// The tasks of `service` as `service ps` prints them (json lines).
fn ps(bed: &Bed, service: &str) -> Vec<serde_json::Value> {
    bed.output(
        0,
        &["service", "ps", service, "--no-trunc", "--format", "json"],
    )
    .lines()
    .filter_map(|l| serde_json::from_str(l).ok())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_credentials_reach_the_nodes_that_pull_sealed_and_never_shown() {
    let (tag, dir) = {
        let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab.as_ref().unwrap().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let registry = blocking(|| start_registry(&bed));
        let private = format!("{}/team/busybox:auth", registry.addr);
        let config = bed.dir().join("user-config");
        std::fs::create_dir_all(&config).unwrap();

        // The user logs in and pushes the image from node 0; no node's agent holds it under
        // that name but node 0's.
        user_ok(
            &bed,
            &config,
            &["login", "-u", USER, "--password-stdin", &registry.addr],
            &format!("{PASSWORD}\n"),
        );
        user_ok(&bed, &config, &["image", "tag", IMAGE, &private], "");
        user_ok(&bed, &config, &["image", "push", &private], "");

        // Without --with-registry-auth the workers' pulls are refused by the registry.
        // (--no-resolve-image: a pinned image would be fetched from node 0 instead.)
        user_ok(
            &bed,
            &config,
            &[
                "service",
                "create",
                "-d",
                "--no-resolve-image",
                "--name",
                "anon",
                "--constraint",
                "node.role==worker",
                &private,
                "sleep",
                "3600",
            ],
            "",
        );
        let rejected = wait_until(&bed, "the anonymous pull rejected", WITHIN, || {
            let tasks = ps(&bed, "anon");
            async move {
                tasks
                    .iter()
                    .find(|t| {
                        t["CurrentState"]
                            .as_str()
                            .is_some_and(|s| s.starts_with("Rejected"))
                    })
                    .map(|t| t["Error"].as_str().unwrap_or_default().to_owned())
                    .ok_or_else(|| format!("{tasks:?}"))
            }
        })
        .await;
        eprintln!("anonymous pull: {rejected}");
        assert!(
            rejected.contains("Not authorized") && rejected.contains(&private),
            "the registry's auth error: {rejected}"
        );
        bed.output(0, &["service", "rm", "anon"]);

        // With it, every node pulls with the user's credentials and runs its task.
        user_ok(
            &bed,
            &config,
            &[
                "service",
                "create",
                "-d",
                "--no-resolve-image",
                "--with-registry-auth",
                "--name",
                "private",
                "--replicas",
                "5",
                "--replicas-max-per-node",
                "1",
                &private,
                "sleep",
                "3600",
            ],
            "",
        );
        let running = wait_until(&bed, "the private image running everywhere", WITHIN, || {
            bed.one_running_per_slot(0, "private", 5)
        })
        .await;
        assert_eq!(running.len(), 5);

        // Nobody sees the password: not `service inspect`, not any manager's store or raft
        // log, not any node's saved assignments.
        let inspect = bed.output(0, &["service", "inspect", "private"]);
        assert!(
            inspect.contains("\"with_registry_auth\": true"),
            "the marker: {inspect}"
        );
        assert!(
            !inspect.contains(PASSWORD) && !inspect.contains("\"registry_auth\""),
            "{inspect}"
        );
        let store = files_containing(&bed.members[0].root.join("cluster"), b"team/busybox:auth");
        assert!(
            !store.is_empty(),
            "the scan reads the store (the spec is in clear)"
        );
        for (i, member) in bed.members.iter().enumerate() {
            let leaks = files_containing(&member.root.join("cluster"), PASSWORD.as_bytes());
            assert!(
                leaks.is_empty(),
                "member {i} keeps the password in clear: {leaks:?}"
            );
        }
        drop(registry);
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
