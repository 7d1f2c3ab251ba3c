//! Tasks on a real cluster: 3 managers and 2 workers, each node with its own `bosun agent`
//! and node daemon in its own network namespace and data root. The tasks are written into
//! the store directly, assigned to chosen nodes (node set, state `assigned`, as the leader's
//! control loop does), so that each lands where the test wants it; the node daemons then run
//! them as real containers through the dispatcher. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::time::{Duration, Instant};

use cluster_state::{Batch, Command, Record, Service, Task};
use orchestrator::swarm::{self, DesiredState, ServiceSpec, TaskSlot, TaskState, Timestamp};
use testbed::Bed;

const IMAGE: &str = "busybox:tasks";
/// Time allowed for a task to reach a state.
const WITHIN: Duration = Duration::from_secs(30);

/// A task of service `s1` in `slot`, assigned to `node`, running `command` in `image`.
fn task(id: &str, slot: u64, node: &str, image: &str, command: &[&str]) -> Task {
    Task::new(swarm::Task {
        id: id.into(),
        service_id: "s1".into(),
        slot: TaskSlot::Slot(slot),
        spec_version: 1,
        spec: std::sync::Arc::new(ServiceSpec {
            image: image.into(),
            command: Some(command.iter().map(|s| (*s).to_owned()).collect()),
            stop_grace_period: Some(Duration::from_secs(2)),
            container_labels: [("team".to_owned(), "blue".to_owned())].into(),
            ..ServiceSpec::default()
        }),
        desired_state: DesiredState::Running,
        shutdown_reason: None,
        status: swarm::TaskStatus {
            state: TaskState::Assigned,
            ..swarm::TaskStatus::default()
        },
        node: Some(node.into()),
        created_at: Timestamp(0),
        not_before: None,
        replaces: None,
        preferred_node: None,
    })
}

/// Every task record, as manager `via` reads it.
async fn tasks(bed: &Bed, via: usize) -> Vec<Task> {
    let Ok((data, _)) = bed.client(via).read("kind:task").await else {
        return Vec::new();
    };
    let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Task(t) => Some(*t),
            _ => None,
        })
        .collect()
}

/// Waits until task `id` reaches `state` as manager `via` reads it; returns the record.
async fn wait_state(bed: &Bed, via: usize, id: &str, state: TaskState) -> Task {
    let deadline = Instant::now() + WITHIN;
    loop {
        let found = tasks(bed, via).await.into_iter().find(|t| t.meta.id == id);
        if let Some(t) = &found
            && t.task.status.state == state
        {
            return found.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "task {id} never reached {state}: {:?}\n{}",
            found.map(|t| t.task.status),
            bed.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The containers of task `id` on member `i`.
fn task_containers(bed: &Bed, i: usize, id: &str) -> Vec<api::agent::ContainerSummary> {
    blocking(|| bed.containers(i))
        .into_iter()
        .filter(|c| c.labels.get("com.docker.swarm.task.id").map(String::as_str) == Some(id))
        .collect()
}

fn running(c: &api::agent::ContainerSummary) -> bool {
    c.state == api::agent::ContainerState::Running as i32
}

/// Sets task `id`'s desired state to shutdown, as the control loop would.
async fn shut_down(bed: &Bed, id: &str) {
    let mut record = tasks(bed, 0)
        .await
        .into_iter()
        .find(|t| t.meta.id == id)
        .unwrap();
    let version = record.meta.version;
    record.task.desired_state = DesiredState::Shutdown;
    let batch = Batch::new(
        0,
        vec![Command::Update {
            record: Record::Task(Box::new(record)),
            expected_version: version,
        }],
    );
    bed.client(0).write(&batch).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assigned_tasks_run_report_stop_and_survive_quorum_loss_and_daemon_restarts() {
    let (tag, dir, cgroups) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let cgroups: Vec<String> = bed
            .members
            .iter()
            .filter_map(|m| m.agent.as_ref().map(|a| a.cgroup_parent.clone()))
            .collect();
        let ids: Vec<String> = (0..5).map(|i| bed.node_id(i)).collect();
        let sleep = ["sleep", "3600"];
        // The leader's control loop governs the service too: five replicas (the five slots
        // written below), no restarts and no rebalancing, so that it leaves these tasks to
        // the test; a slot the test shuts down gets a replacement running the service's spec.
        let mut service = swarm::Service::new(
            "s1".into(),
            "web",
            ServiceSpec {
                image: IMAGE.into(),
                command: Some(sleep.iter().map(|s| (*s).to_owned()).collect()),
                mode: swarm::Mode::Replicated { replicas: 5 },
                restart_policy: swarm::RestartPolicy {
                    condition: swarm::RestartCondition::None,
                    ..swarm::RestartPolicy::default()
                },
                ..ServiceSpec::default()
            },
            Timestamp(0),
        );
        service.rebalance = false;
        let service = Record::Service(Box::new(Service::new(service)));
        let batch = Batch::new(
            0,
            vec![
                Command::Create(service),
                Command::Create(Record::Task(Box::new(task(
                    "tw", 1, &ids[3], IMAGE, &sleep,
                )))),
                Command::Create(Record::Task(Box::new(task(
                    "tm", 2, &ids[1], IMAGE, &sleep,
                )))),
                Command::Create(Record::Task(Box::new(task(
                    "tok",
                    3,
                    &ids[4],
                    IMAGE,
                    &["sh", "-c", "exit 0"],
                )))),
                Command::Create(Record::Task(Box::new(task(
                    "tfail",
                    4,
                    &ids[2],
                    IMAGE,
                    &["sh", "-c", "exit 3"],
                )))),
                Command::Create(Record::Task(Box::new(task(
                    "tbad",
                    5,
                    &ids[4],
                    "registry.invalid/nothing:1",
                    &sleep,
                )))),
            ],
        );
        bed.client(0).write(&batch).await.unwrap();

        // Running tasks run as real containers on their own nodes, named and labelled.
        wait_state(&bed, 0, "tw", TaskState::Running).await;
        wait_state(&bed, 0, "tm", TaskState::Running).await;
        let on_worker = task_containers(&bed, 3, "tw");
        assert_eq!(on_worker.len(), 1, "{on_worker:?}");
        let tw = on_worker[0].clone();
        assert!(running(&tw));
        assert_eq!(tw.name.trim_start_matches('/'), "web.1.tw");
        assert_eq!(tw.labels["com.docker.swarm.service.name"], "web");
        assert_eq!(tw.labels["com.docker.swarm.node.id"], ids[3]);
        assert_eq!(tw.labels["team"], "blue");
        for other in [0, 1, 2, 4] {
            assert!(
                task_containers(&bed, other, "tw").is_empty(),
                "tw on node {other}"
            );
        }
        assert_eq!(task_containers(&bed, 1, "tm").len(), 1);

        // Exits report complete or failed with the exit code; a bad image is rejected with
        // the pull's error.
        let ok = wait_state(&bed, 0, "tok", TaskState::Complete).await;
        assert_eq!(ok.task.status.exit_code, Some(0));
        let failed = wait_state(&bed, 0, "tfail", TaskState::Failed).await;
        assert_eq!(failed.task.status.exit_code, Some(3));
        let bad = wait_state(&bed, 0, "tbad", TaskState::Rejected).await;
        let error = bad.task.status.error.unwrap_or_default();
        assert!(error.contains("registry.invalid"), "pull error: {error}");

        // The nodes described themselves in their records.
        let (data, _) = bed.client(0).read("kind:node").await.unwrap();
        let nodes: Vec<Record> = serde_json::from_slice(&data).unwrap();
        for record in nodes {
            if let Record::Node(node) = record {
                assert_eq!(node.platform.os, "linux", "{node:?}");
                assert!(node.resources.nano_cpus > 0 && node.resources.memory_bytes > 0);
            }
        }

        // Desired shutdown stops the container and removes it.
        shut_down(&bed, "tm").await;
        wait_state(&bed, 0, "tm", TaskState::Shutdown).await;
        let deadline = Instant::now() + WITHIN;
        while !task_containers(&bed, 1, "tm").is_empty() {
            assert!(Instant::now() < deadline, "tm's container was not removed");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Without a quorum of managers, the tasks keep running.
        blocking(|| {
            bed.kill(1);
            bed.kill(2);
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        let still = task_containers(&bed, 3, "tw");
        assert!(
            still.len() == 1 && running(&still[0]) && still[0].id == tw.id,
            "tw after quorum loss: {still:?}"
        );

        // A worker's node daemon restarted while the quorum is lost keeps its task from its
        // saved assignments, and adopts the container instead of starting another.
        blocking(|| {
            bed.kill(3);
            bed.restart(3);
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        let adopted = task_containers(&bed, 3, "tw");
        assert!(
            adopted.len() == 1 && running(&adopted[0]) && adopted[0].id == tw.id,
            "tw after a restart without managers: {adopted:?}\n{}",
            bed.log(3)
        );

        // The quorum back, the restarted daemon reports the adopted task, still one container.
        blocking(|| {
            bed.restart(1);
            bed.restart(2);
        });
        blocking(|| {
            bed.kill(3);
            bed.restart(3);
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        let t = wait_state(&bed, 0, "tw", TaskState::Running).await;
        assert_eq!(
            t.task.node.as_ref().map(|n| n.as_str()),
            Some(ids[3].as_str())
        );
        let once = task_containers(&bed, 3, "tw");
        assert!(
            once.len() == 1 && once[0].id == tw.id,
            "tw duplicated or replaced: {once:?}"
        );

        // A finished task's container is kept until the task leaves the store; then removed.
        assert_eq!(task_containers(&bed, 2, "tfail").len(), 1);
        let gone = Batch::new(
            0,
            vec![Command::Delete {
                key: cluster_state::RecordKey::new(cluster_state::Kind::Task, "tfail"),
                expected_version: None,
            }],
        );
        let deadline = Instant::now() + WITHIN;
        while bed.client(0).write(&gone).await.is_err() {
            assert!(Instant::now() < deadline, "cannot delete tfail");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let deadline = Instant::now() + WITHIN;
        while !task_containers(&bed, 2, "tfail").is_empty() {
            assert!(
                Instant::now() < deadline,
                "tfail's container was not removed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        blocking(|| drop(bed));
        (tag, dir, cgroups)
    };
    // Nothing of the bed is left in the kernel.
    testbed::agents::assert_nothing_left(&tag, &dir);
    for parent in cgroups {
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            assert!(
                !hierarchy.path().join(&parent).exists(),
                "cgroup {parent} left in {}",
                hierarchy.path().display()
            );
        }
    }
}
