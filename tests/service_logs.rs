//! `bosun service logs` end to end on 3 managers and 2 workers, each node with its own agent
//! and node daemon in its own network namespace: a service's lines come from every node
//! through the managers with docker's `<service>.<slot>.<task>@<node>` prefix, stdout lines on
//! stdout and stderr lines on stderr; `--tail 1` gives each task's last line; `-f` keeps
//! streaming, and a task added by `service scale` joins the stream. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cluster_manager::services::proto::ListTasksRequest;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testbed::Bed;

const IMAGE: &str = "busybox:logs";
/// Time allowed for the cluster to converge and for lines to arrive.
const WITHIN: Duration = Duration::from_secs(60);
/// Each task says its container's host name (the first 12 characters of the container id)
/// once on stdout and once on stderr, then ticks on stdout every second.
const SCRIPT: &str = "echo \"out $(hostname)\"; echo \"err $(hostname)\" >&2; \
                      i=0; while sleep 1; do i=$((i+1)); echo \"tick $(hostname) $i\"; done";

/// A running task: the prefix `service logs` must give its lines, and its container's host
/// name.
#[derive(Debug, Clone)]
struct Expected {
    slot: u64,
    prefix: String,
    hostname: String,
}

/// The running tasks of `name` with the prefix each one's lines must carry.
async fn expected(bed: &Bed, name: &str) -> Vec<Expected> {
    let list = bed
        .services(0)
        .tasks(ListTasksRequest {
            service: name.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut expected = Vec::new();
    for running in bed.running_containers(name) {
        let task = list
            .tasks
            .iter()
            .find(|t| t.meta.id == running.task)
            .unwrap_or_else(|| panic!("task {} of a running container", running.task));
        let node = task.task.node.as_ref().expect("a placed task").as_str();
        let host = list.node_names.get(node).cloned().unwrap_or_default();
        let short: String = running.task.chars().take(12).collect();
        expected.push(Expected {
            slot: running.slot,
            prefix: format!("{name}.{}.{short}@{host}    | ", running.slot),
            hostname: running.id.chars().take(12).collect(),
        });
    }
    expected.sort_by_key(|e| e.slot);
    expected
}

/// Starts `bosun <args>` on member `i` in the background, its stdout and stderr piped.
fn spawn_bosun(bed: &Bed, i: usize, args: &[&str]) -> Child {
    let mut command = Command::new(bin());
    command
        .args(args)
        .env("BOSUN_DATA_ROOT", &bed.members[i].root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(agent) = &bed.members[i].agent {
        command
            .env("BOSUN_RUN_ROOT", &agent.run_root)
            .env("BOSUN_HOST", format!("unix://{}", agent.socket().display()))
            .env("BOSUN_CGROUP_PARENT", &agent.cgroup_parent);
    }
    bed.lab.as_ref().expect("a bed in a lab").spawn(i, command)
}

/// `signal`'s number.
fn libc_signal(signal: Signal) -> i32 {
    signal as i32
}

/// Waits for `child` to end (killing it and failing past the deadline); its status.
async fn wait_exit(bed: &Bed, child: &mut Child) -> ExitStatus {
    let child = Mutex::new(child);
    wait_until(bed, "the logs command ending", WITHIN, || async {
        match child.lock().unwrap().try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err("still running".to_owned()),
            Err(err) => Err(err.to_string()),
        }
    })
    .await
}

/// Collects the lines `reader` gives into a shared list, on a thread of its own.
fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// The highest tick number among `lines` from the container with host name `hostname`.
fn last_tick(lines: &[String], hostname: &str) -> u64 {
    let mark = format!("tick {hostname} ");
    lines
        .iter()
        .filter_map(|l| l.split_once(&mark).and_then(|(_, n)| n.trim().parse().ok()))
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_logs_merge_every_task_s_lines_follow_new_ones_and_keep_streams_apart() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        bed.output(
            1,
            &[
                "service",
                "create",
                "--name",
                "echo",
                "--replicas",
                "3",
                IMAGE,
                "sh",
                "-c",
                SCRIPT,
            ],
        );
        let tasks = wait_until(&bed, "3 tasks running", WITHIN, || async {
            let tasks = expected(&bed, "echo").await;
            if tasks.len() == 3 {
                Ok(tasks)
            } else {
                Err(format!("{tasks:?}"))
            }
        })
        .await;

        // Every task's lines, from whichever node runs it, with its own prefix; stdout
        // lines on stdout and stderr lines on stderr. Asked on a manager that may not be
        // the one the nodes hold their sessions with.
        let (out, err) = wait_until(&bed, "every task's first lines", WITHIN, || async {
            let (out, err) = bed.bosun_ok(2, &["service", "logs", "echo"]);
            let missing: Vec<&Expected> = tasks
                .iter()
                .filter(|t| {
                    !out.contains(&format!("{}out {}\n", t.prefix, t.hostname))
                        || !err.contains(&format!("{}err {}\n", t.prefix, t.hostname))
                })
                .collect();
            if missing.is_empty() {
                Ok((out, err))
            } else {
                Err(format!(
                    "missing {missing:?}\nstdout:\n{out}\nstderr:\n{err}"
                ))
            }
        })
        .await;
        assert!(!out.contains("| err "), "stderr lines on stdout:\n{out}");
        assert!(!err.contains("| out "), "stdout lines on stderr:\n{err}");
        assert!(!err.contains("error from node"), "{err}");

        // --tail 1: each task's last line only.
        let (out, err) = bed.bosun_ok(0, &["service", "logs", "--tail", "1", "echo"]);
        for task in &tasks {
            let shown = out.lines().chain(err.lines());
            let lines: Vec<&str> = shown.filter(|l| l.starts_with(&task.prefix)).collect();
            assert_eq!(lines.len(), 1, "{task:?}:\n{out}{err}");
        }
        assert_eq!(out.lines().count() + err.lines().count(), 3, "{out}{err}");

        // -f: lines written after it started, and a task that starts later.
        let mut follow = spawn_bosun(&bed, 0, &["service", "logs", "-f", "echo"]);
        let followed = collect(follow.stdout.take().unwrap());
        let follow_err = collect(follow.stderr.take().unwrap());
        let first = tasks[0].clone();
        let first_line = format!("{}out {}", first.prefix, first.hostname);
        wait_until(&bed, "the follow under way", WITHIN, || async {
            let lines = followed.lock().unwrap().clone();
            if lines.contains(&first_line) {
                Ok(())
            } else {
                Err(format!("{lines:?}"))
            }
        })
        .await;
        // Asked after the follow started: any later tick was written after it started.
        let (now, _) = bed.bosun_ok(2, &["service", "logs", "echo"]);
        let before = last_tick(
            &now.lines().map(str::to_owned).collect::<Vec<_>>(),
            &first.hostname,
        );
        wait_until(&bed, "a tick written after -f started", WITHIN, || async {
            let lines = followed.lock().unwrap().clone();
            let tick = last_tick(&lines, &first.hostname);
            if tick > before {
                Ok(())
            } else {
                Err(format!("last tick {tick}, before {before}: {lines:?}"))
            }
        })
        .await;
        bed.output(1, &["service", "scale", "echo=4", "--detach"]);
        let added = wait_until(&bed, "the added task running", WITHIN, || async {
            let now = expected(&bed, "echo").await;
            now.into_iter()
                .find(|t| t.slot == 4)
                .ok_or_else(|| "no slot 4 yet".to_owned())
        })
        .await;
        wait_until(
            &bed,
            "the added task's lines in the follow",
            WITHIN,
            || async {
                let lines = followed.lock().unwrap().clone();
                let want = format!("{}out {}", added.prefix, added.hostname);
                let tick = format!("{}tick {} ", added.prefix, added.hostname);
                if lines.contains(&want) && lines.iter().any(|l| l.starts_with(&tick)) {
                    Ok(())
                } else {
                    Err(format!("{lines:?}"))
                }
            },
        )
        .await;
        let added_err = format!("{}err {}", added.prefix, added.hostname);
        wait_until(&bed, "the added task's stderr line", WITHIN, || async {
            let lines = follow_err.lock().unwrap().clone();
            if lines.contains(&added_err) {
                Ok(())
            } else {
                Err(format!("{lines:?}"))
            }
        })
        .await;
        let err_lines = follow_err.lock().unwrap().clone();
        assert!(
            !err_lines
                .iter()
                .any(|l| l.contains("| out ") || l.contains("| tick ")),
            "{err_lines:?}"
        );

        // Ctrl-C ends the follow, without a panic.
        kill(Pid::from_raw(follow.id() as i32), Signal::SIGINT).unwrap();
        let status = wait_exit(&bed, &mut follow).await;
        assert_eq!(
            status.signal(),
            Some(libc_signal(Signal::SIGINT)),
            "{status:?}"
        );
        let stderr = follow_err.lock().unwrap().join("\n");
        assert!(!stderr.contains("panicked"), "{stderr}");

        // A closed stdout ends a follow quietly too.
        let mut closed = spawn_bosun(&bed, 2, &["service", "logs", "-f", "echo"]);
        drop(closed.stdout.take());
        let closed_err = collect(closed.stderr.take().unwrap());
        let status = wait_exit(&bed, &mut closed).await;
        let stderr = closed_err.lock().unwrap().join("\n");
        assert_eq!(
            status.signal(),
            Some(libc_signal(Signal::SIGPIPE)),
            "{status:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");

        // One task by its id.
        let one = bed
            .running_containers("echo")
            .into_iter()
            .find(|c| c.slot == 2)
            .unwrap();
        let (out, _) = bed.bosun_ok(0, &["service", "logs", "--no-task-ids", &one.task]);
        let slots: BTreeMap<&str, usize> = out.lines().fold(BTreeMap::new(), |mut m, l| {
            *m.entry(l.split('@').next().unwrap_or("")).or_default() += 1;
            m
        });
        assert_eq!(slots.keys().collect::<Vec<_>>(), [&"echo.2"], "{out}");

        // An unknown target is one clear error.
        let (ok, _, err) = blocking(|| bed.bosun(0, &["service", "logs", "nothing-here"]));
        assert!(!ok);
        assert!(
            err.contains("no such service or task: nothing-here"),
            "{err}"
        );

        // A node that held tasks and is gone bounds the wait: the others' lines, then an
        // error line naming it, and a failed exit.
        let gone = [3, 4, 2, 1]
            .into_iter()
            .find(|m| {
                bed.running_containers("echo")
                    .iter()
                    .any(|c| c.member == *m)
            })
            .expect("a task on a node other than member 0");
        let gone_id = bed.node_id(gone);
        let list = bed
            .services(0)
            .tasks(ListTasksRequest {
                service: "echo".to_owned(),
                ..Default::default()
            })
            .await
            .unwrap();
        let gone_host = list.node_names.get(&gone_id).cloned().unwrap_or_default();
        blocking(|| bed.kill(gone));
        let (ok, out, err) = blocking(|| bed.bosun(0, &["service", "logs", "echo"]));
        assert!(!ok, "{out}{err}");
        assert!(
            err.contains(&format!(
                "error from node {gone_host}: no answer within 10s"
            )),
            "{err}"
        );
        assert!(out.contains("| out "), "{out}");

        bed.output(0, &["service", "rm", "echo"]);
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
