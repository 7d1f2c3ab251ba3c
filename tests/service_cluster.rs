//! Services across a cluster of real `bosun` managers, each in its own network namespace of a
//! lab (needs root): the leader's control loop turns services into tasks and assigns them to
//! nodes, as `bosun service ps --format json` shows.
//!
//! The node side (nodes running their tasks and reporting their states) is not part of these
//! tests: where a test needs a task to have started or stopped, or a node to have reported
//! its resources, it writes that into the store directly through the manager API, as a node's
//! report would (each such step says so).

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cluster_state::{Batch, Command, Record};
use orchestrator::swarm::TaskState;
use serde_json::Value;
use testbed::{Bed, leader_index, random_below};

/// Runs `bosun <args>` on member `i`; panics with the output unless it succeeds.
fn bosun(bed: &Bed, i: usize, args: &[&str]) -> String {
    bed.bosun_ok(i, args).0
}

/// The tasks of `service` as `service ps --format json --no-trunc` prints them on member `via`.
fn ps(bed: &Bed, via: usize, service: &str) -> Vec<Value> {
    let out = bosun(
        bed,
        via,
        &["service", "ps", service, "--format", "json", "--no-trunc"],
    );
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn text<'a>(task: &'a Value, field: &str) -> &'a str {
    task[field].as_str().unwrap_or_default()
}

/// The tasks the managers want running.
fn wanted(tasks: &[Value]) -> Vec<&Value> {
    tasks
        .iter()
        .filter(|t| text(t, "DesiredState") == "Running")
        .collect()
}

/// Wanted tasks per node id (unassigned under "").
fn per_node(tasks: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for task in wanted(tasks) {
        *counts.entry(text(task, "NodeID").to_owned()).or_default() += 1;
    }
    counts
}

/// Polls `service ps` on `via` until `done` holds; returns the tasks it held for.
async fn wait_tasks(
    bed: &Bed,
    via: usize,
    service: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let tasks = ps(bed, via, service);
        if done(&tasks) {
            return tasks;
        }
        assert!(
            Instant::now() < deadline,
            "service {service} did not get there: {tasks:#?}\nleader log: {}",
            bed.log(leader_index(bed, via).await)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `n` wanted tasks, each assigned, in distinct slots.
fn assigned(tasks: &[Value], n: usize) -> bool {
    let wanted = wanted(tasks);
    let names: BTreeSet<&str> = wanted.iter().map(|t| text(t, "Name")).collect();
    wanted.len() == n && names.len() == n && wanted.iter().all(|t| !text(t, "NodeID").is_empty())
}

/// Writes `change` into every task record of the store that `select` picks, as the node's
/// report would (the node side is not part of these tests); retries while records change.
async fn report(
    bed: &Bed,
    via: usize,
    select: impl Fn(&orchestrator::swarm::Task) -> bool,
    change: impl Fn(&mut orchestrator::swarm::Task),
) {
    let client = bed.client(via);
    for _ in 0..20 {
        let (data, _) = client.read("kind:task").await.unwrap();
        let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
        let commands: Vec<Command> = records
            .into_iter()
            .filter_map(|record| match record {
                Record::Task(mut task) if select(&task.task) => {
                    change(&mut task.task);
                    let version = task.meta.version;
                    Some(Command::Update {
                        record: Record::Task(task),
                        expected_version: version,
                    })
                }
                _ => None,
            })
            .collect();
        if commands.is_empty() || client.write(&Batch::new(0, commands)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not write the task reports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_replicas_spread_over_three_nodes_scale_up_and_down_and_go_when_removed() {
    let bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    let out = bosun(
        &bed,
        1,
        &[
            "service",
            "create",
            "--detach",
            "--name",
            "web",
            "--replicas",
            "6",
            "nginx",
        ],
    );
    assert_eq!(out.trim().len(), 24, "prints the service id: {out}");
    let tasks = wait_tasks(&bed, 2, "web", Duration::from_secs(10), |t| assigned(t, 6)).await;
    let spread = per_node(&tasks);
    assert_eq!(spread.len(), 3, "{spread:?}");
    assert!(spread.values().all(|n| (1..=2).contains(n)), "{spread:?}");
    assert!(
        tasks
            .iter()
            .all(|t| text(t, "CurrentState").starts_with("Assigned")),
        "{tasks:#?}"
    );
    let ls = bosun(&bed, 0, &["service", "ls", "--format", "json"]);
    let line: Value = serde_json::from_str(ls.trim()).unwrap();
    assert_eq!(
        (
            text(&line, "Name"),
            text(&line, "Mode"),
            text(&line, "Replicas")
        ),
        ("web", "replicated", "0/6")
    );

    bosun(&bed, 0, &["service", "scale", "web=9", "--detach"]);
    let tasks = wait_tasks(&bed, 1, "web", Duration::from_secs(10), |t| assigned(t, 9)).await;
    assert!(per_node(&tasks).values().all(|n| *n == 3), "{tasks:#?}");

    bosun(&bed, 2, &["service", "scale", "web=2", "--detach"]);
    let tasks = wait_tasks(&bed, 0, "web", Duration::from_secs(10), |t| assigned(t, 2)).await;
    let names: BTreeSet<&str> = wanted(&tasks).iter().map(|t| text(t, "Name")).collect();
    assert_eq!(names, BTreeSet::from(["web.1", "web.2"]));
    assert_eq!(
        tasks
            .iter()
            .filter(|t| text(t, "DesiredState") == "Shutdown")
            .count(),
        7
    );

    // Removed: the service goes at once, its tasks are wanted shut down and forgotten once
    // their nodes report them stopped (written into the store here, as the node's report).
    bosun(&bed, 1, &["service", "rm", "web"]);
    assert_eq!(bosun(&bed, 0, &["service", "ls", "-q"]).trim(), "");
    let client = bed.client(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (data, _) = client.read("kind:task").await.unwrap();
        let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
        let all_shutdown = records.iter().all(|r| match r {
            Record::Task(t) => !t.task.is_desired_running(),
            _ => true,
        });
        if all_shutdown && records.len() == 9 {
            break;
        }
        assert!(Instant::now() < deadline, "{records:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report(&bed, 0, |_| true, |t| t.status.state = TaskState::Shutdown).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.read("kind:task").await.unwrap().0.starts_with(b"[]") {
        assert!(
            Instant::now() < deadline,
            "the stopped tasks were not forgotten"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_service_runs_one_task_per_node_including_one_that_joins_later() {
    let mut bed = blocking(|| Bed::new_in_lab(bin(), 4));
    blocking(|| {
        bed.init();
        bed.join(1);
        bed.join(2);
    });
    bosun(
        &bed,
        0,
        &[
            "service", "create", "-d", "--name", "agent", "--mode", "global", "busybox",
        ],
    );
    let one_each = |n: usize| {
        move |t: &[Value]| {
            let spread = per_node(t);
            wanted(t).len() == n
                && spread.len() == n
                && !spread.contains_key("")
                && spread.values().all(|c| *c == 1)
        }
    };
    wait_tasks(&bed, 1, "agent", Duration::from_secs(10), one_each(3)).await;
    blocking(|| bed.join(3));
    let newcomer = bed.node_id(3);
    let tasks = wait_tasks(&bed, 2, "agent", Duration::from_secs(15), one_each(4)).await;
    assert!(per_node(&tasks).contains_key(&newcomer), "{tasks:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmet_constraints_and_reservations_stay_pending_with_the_reason_until_a_node_fits() {
    let bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    bosun(
        &bed,
        0,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "east",
            "--constraint",
            "node.labels.zone==east",
            "busybox",
        ],
    );
    let pending = |reason: &'static str| {
        move |t: &[Value]| {
            wanted(t).len() == 1
                && text(wanted(t)[0], "CurrentState").starts_with("Pending")
                && text(wanted(t)[0], "Error") == reason
        }
    };
    wait_tasks(
        &bed,
        1,
        "east",
        Duration::from_secs(10),
        pending("no suitable node (3 nodes: constraint node.labels.zone==east not met on 3)"),
    )
    .await;
    let east = bed.node_id(2);
    bosun(
        &bed,
        1,
        &["node", "update", "--label-add", "zone=east", &east],
    );
    let tasks = wait_tasks(&bed, 0, "east", Duration::from_secs(10), |t| assigned(t, 1)).await;
    assert_eq!(text(wanted(&tasks)[0], "NodeID"), east);

    // A reservation larger than any node's memory (the nodes report what this machine has)
    // fits nowhere.
    bosun(
        &bed,
        2,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "big",
            "--reserve-memory",
            "4t",
            "busybox",
        ],
    );
    wait_tasks(
        &bed,
        0,
        "big",
        Duration::from_secs(10),
        pending("no suitable node (3 nodes: insufficient memory for a 4TiB reservation on 3)"),
    )
    .await;
    // Node 1 reports 4 CPUs and 8 TiB (written into its record, as its session would).
    let roomy = bed.node_id(1);
    let client = bed.client(0);
    let (data, _) = client.read(&format!("key:node/{roomy}")).await.unwrap();
    let mut records: Vec<Record> = serde_json::from_slice(&data).unwrap();
    let Some(Record::Node(mut node)) = records.pop() else {
        panic!("no record of node {roomy}");
    };
    node.resources.nano_cpus = 4_000_000_000;
    node.resources.memory_bytes = 8 << 40;
    let version = node.meta.version;
    client
        .write(&Batch::new(
            0,
            vec![Command::Update {
                record: Record::Node(node),
                expected_version: version,
            }],
        ))
        .await
        .unwrap();
    let tasks = wait_tasks(&bed, 1, "big", Duration::from_secs(10), |t| assigned(t, 1)).await;
    assert_eq!(text(wanted(&tasks)[0], "NodeID"), roomy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_a_node_moves_its_tasks_elsewhere_replacements_first() {
    let bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    bosun(
        &bed,
        0,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "web",
            "--replicas",
            "3",
            "nginx",
        ],
    );
    wait_tasks(&bed, 0, "web", Duration::from_secs(10), |t| {
        assigned(t, 3) && per_node(t).len() == 3
    })
    .await;
    // The nodes report their tasks running (written into the store, as their reports would).
    report(
        &bed,
        0,
        |t| t.status.state == TaskState::Assigned,
        |t| t.status.state = TaskState::Running,
    )
    .await;
    let drained = bed.node_id(1);
    bosun(
        &bed,
        2,
        &["node", "update", "--availability", "drain", &drained],
    );
    // A replacement is assigned elsewhere while the old task is still wanted running.
    let tasks = wait_tasks(&bed, 0, "web", Duration::from_secs(10), |t| {
        let wanted = wanted(t);
        wanted.len() == 4
            && wanted
                .iter()
                .filter(|w| text(w, "NodeID") != drained && !text(w, "NodeID").is_empty())
                .count()
                == 3
    })
    .await;
    let moved: Vec<&Value> = wanted(&tasks)
        .into_iter()
        .filter(|t| text(t, "CurrentState").starts_with("Assigned"))
        .collect();
    assert_eq!(moved.len(), 1, "{tasks:#?}");
    // The replacement runs: the drained node's task is then shut down.
    report(
        &bed,
        0,
        |t| t.status.state == TaskState::Assigned,
        |t| t.status.state = TaskState::Running,
    )
    .await;
    let tasks = wait_tasks(&bed, 0, "web", Duration::from_secs(10), |t| assigned(t, 3)).await;
    assert!(!per_node(&tasks).contains_key(&drained), "{tasks:#?}");
    let stopped: Vec<&Value> = tasks
        .iter()
        .filter(|t| text(t, "DesiredState") == "Shutdown")
        .collect();
    assert_eq!(stopped.len(), 1);
    assert_eq!(text(stopped[0], "NodeID"), drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_during_a_scale_to_20_leaves_exactly_20_tasks_none_doubled() {
    let mut bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    let leader = leader_index(&bed, 0).await;
    let via = (leader + 1) % 3;
    bosun(
        &bed,
        via,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "web",
            "--replicas",
            "2",
            "nginx",
        ],
    );
    wait_tasks(&bed, via, "web", Duration::from_secs(10), |t| {
        assigned(t, 2)
    })
    .await;
    bosun(&bed, via, &["service", "scale", "web=20", "--detach"]);
    tokio::time::sleep(Duration::from_millis(random_below(150) as u64)).await;
    blocking(|| bed.kill(leader));
    // A new leader is elected among the two left.
    let deadline = Instant::now() + Duration::from_secs(10);
    while leader_index(&bed, via).await == leader {
        assert!(Instant::now() < deadline, "no new leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tasks = wait_tasks(&bed, via, "web", Duration::from_secs(20), |t| {
        assigned(t, 20)
    })
    .await;
    // Nothing more happens: still exactly 20, one per slot, a moment later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = ps(&bed, via, "web");
    assert!(assigned(&later, 20), "{later:#?}");
    let slots: BTreeSet<&str> = wanted(&tasks).iter().map(|t| text(t, "Name")).collect();
    let expected: BTreeSet<String> = (1..=20).map(|n| format!("web.{n}")).collect();
    // The new leader spreads what it places over the two managers left, evenly.
    let spread = per_node(&later);
    let live: Vec<usize> = (0..3)
        .filter(|i| *i != leader)
        .map(|i| spread.get(&bed.node_id(i)).copied().unwrap_or(0))
        .collect();
    assert!(live[0].abs_diff(live[1]) <= 1, "{spread:?}");
    assert_eq!(
        slots
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_without_detach_fails_with_the_reason_a_task_cannot_be_placed() {
    let bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    let (ok, out, err) = blocking(|| {
        bed.bosun(
            1,
            &[
                "service",
                "create",
                "--name",
                "nowhere",
                "--constraint",
                "node.role==worker",
                "busybox",
            ],
        )
    });
    assert!(!ok, "{out}{err}");
    assert!(out.contains("overall progress: 0 out of 1 tasks"), "{out}");
    assert_eq!(
        err.trim(),
        "error: task nowhere.1 cannot be placed: no suitable node (3 nodes: constraint node.role==worker not met on 3)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_wait_their_delay_and_max_attempts_count_across_a_leader_failover() {
    let mut bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    let leader = leader_index(&bed, 0).await;
    let via = (leader + 1) % 3;
    bosun(
        &bed,
        via,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "flaky",
            "--restart-condition",
            "on-failure",
            "--restart-delay",
            "2s",
            "--restart-max-attempts",
            "1",
            "busybox",
        ],
    );
    let first = wait_tasks(&bed, via, "flaky", Duration::from_secs(10), |t| {
        assigned(t, 1)
    })
    .await;
    let first_id = text(wanted(&first)[0], "ID").to_owned();
    // The node reports the task failed (written into the store, as its report would).
    report(
        &bed,
        via,
        |t| t.id.as_str() == first_id,
        |t| {
            t.status.state = TaskState::Failed;
            t.status.error = Some("exit status 1".to_owned());
            t.status.timestamp = orchestrator::swarm::Timestamp(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as u64,
            );
        },
    )
    .await;
    let failed_at = Instant::now();
    let restarted = |t: &[Value]| {
        wanted(t)
            .iter()
            .any(|w| text(w, "ID") != first_id && !text(w, "NodeID").is_empty())
    };
    let tasks = wait_tasks(&bed, via, "flaky", Duration::from_secs(10), restarted).await;
    assert!(
        failed_at.elapsed() >= Duration::from_millis(1500),
        "restarted before its delay: {:?} {tasks:#?}",
        failed_at.elapsed()
    );
    let second_id = wanted(&tasks)
        .iter()
        .find(|w| text(w, "ID") != first_id)
        .map(|w| text(w, "ID").to_owned())
        .unwrap();

    // A new leader counts the restart the old one decided: the second failure is the last.
    blocking(|| bed.kill(leader));
    let deadline = Instant::now() + Duration::from_secs(10);
    while leader_index(&bed, via).await == leader {
        assert!(Instant::now() < deadline, "no new leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report(
        &bed,
        via,
        |t| t.id.as_str() == second_id,
        |t| {
            t.status.state = TaskState::Failed;
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let tasks = ps(&bed, via, "flaky");
    assert_eq!(tasks.len(), 2, "no third task: {tasks:#?}");
    let inspect = bosun(&bed, via, &["service", "inspect", "flaky"]);
    let records: Value = serde_json::from_str(&inspect).unwrap();
    let restarts = records[0]["restarts"]["slots"][0]["at"].as_array().unwrap();
    assert_eq!(restarts.len(), 1, "{inspect}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_job_runs_to_its_completions_a_few_at_a_time() {
    let bed = blocking(|| Bed::cluster_in_lab(bin(), 3));
    bosun(
        &bed,
        0,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "batch",
            "--mode",
            "replicated-job",
            "--replicas",
            "5",
            "--max-concurrent",
            "2",
            "busybox",
            "true",
        ],
    );
    let active = |t: &[Value]| {
        wanted(t)
            .iter()
            .filter(|w| text(w, "CurrentState").starts_with("Assigned"))
            .count()
    };
    let mut completed = 0;
    while completed < 5 {
        let tasks = wait_tasks(&bed, 1, "batch", Duration::from_secs(10), |t| {
            active(t) == 2.min(5 - completed)
        })
        .await;
        assert!(active(&tasks) <= 2, "{tasks:#?}");
        // The nodes report the assigned tasks complete (written into the store).
        report(
            &bed,
            1,
            |t| t.status.state == TaskState::Assigned,
            |t| {
                t.status.state = TaskState::Complete;
                t.status.exit_code = Some(0);
            },
        )
        .await;
        completed += 2.min(5 - completed);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ls = bosun(&bed, 2, &["service", "ls", "--format", "json"]);
        let line: Value = serde_json::from_str(ls.trim()).unwrap();
        if text(&line, "Replicas") == "0/5 (5/5 completed)" {
            break;
        }
        assert!(Instant::now() < deadline, "{line}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ps(&bed, 2, "batch").len(),
        5,
        "no task beyond the five completions"
    );
}
