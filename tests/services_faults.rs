//! Services through manager faults, with real containers: 3 managers and 2 workers, each node
//! with its own `bosun agent` and node daemon in its own network namespace and data root.
//!
//! - Quorum loss: two of the three managers gone, every task keeps running on every node and
//!   writes are refused with the typed no-quorum reason; with the managers back, the cluster
//!   is at rest again with exactly one running task per slot.
//! - The leader killed during a scale to 20: the new leader finishes the scale and, once the
//!   dead manager's grace is over, runs its replicas on the other nodes; with it back, the
//!   cluster rests at exactly 20 running containers, one per slot.
//!
//! Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::{RunningContainer, wait_until};
use testbed::{Bed, bin, blocking, leader_index, random_below};

use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use cluster_manager::ManagerError;
use cluster_manager::services::proto::{Count, UpdateServiceRequest};
use orchestrator::swarm::TaskState;

const IMAGE: &str = "busybox:svc";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
/// How long the tasks are watched while no quorum exists: past the 3 s after which a manager
/// without a leader ends its nodes' sessions and the 6 s after which a node gives up a silent
/// stream, so the nodes run on their saved assignments alone.
const WATCH_WITHOUT_QUORUM: Duration = Duration::from_secs(8);

fn scale(service: &str, replicas: u64) -> UpdateServiceRequest {
    UpdateServiceRequest {
        service: service.to_owned(),
        replicas: Some(Count { value: replicas }),
        ..UpdateServiceRequest::default()
    }
}

/// The task ids of `containers`.
fn tasks_of(containers: &[RunningContainer]) -> Vec<(usize, String)> {
    containers
        .iter()
        .map(|c| (c.member, c.task.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_quorum_every_task_keeps_running_writes_are_refused_and_the_cluster_rests_again()
{
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "6",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let before = wait_until(&bed, "6 replicas at rest", WITHIN, || {
            bed.one_running_per_slot(0, "web", 6)
        })
        .await;
        let nodes: std::collections::BTreeSet<usize> = before.iter().map(|c| c.member).collect();
        assert!(nodes.len() >= 4, "spread over the nodes: {before:?}");

        // Two managers go, the leader among them: its daemon is killed, the other manager is
        // cut off from every node. The third is left alone, without a quorum.
        let leader = leader_index(&bed, 0).await;
        let survivor = (leader + 1) % 3;
        let cut = (leader + 2) % 3;
        blocking(|| bed.kill(leader));
        let others: Vec<usize> = (0..5).filter(|i| *i != cut).collect();
        blocking(|| bed.lab().partition(&[cut], &others));

        // Writes are refused with the no-quorum reason (after the survivor notices: until
        // then a write may fail otherwise, but none succeeds).
        let services = bed.services(survivor);
        let refusal = wait_until(&bed, "the no-quorum refusal", WITHIN, || async {
            match services.update(scale("web", 9)).await {
                Ok(record) => panic!("a scale without a quorum was accepted: {record:?}"),
                Err(ManagerError::NoQuorum(message)) => Ok(message),
                Err(other) => Err(other.to_string()),
            }
        })
        .await;
        assert!(refusal.starts_with("no quorum: 1 of 3"), "{refusal}");
        let (ok, out, err) = blocking(|| {
            bed.bosun(
                survivor,
                &["service", "create", "--name", "more", "-d", IMAGE],
            )
        });
        assert!(!ok, "a create without a quorum succeeded: {out}");
        assert!(
            err.contains("no quorum: 1 of 3") && err.trim().lines().count() == 1,
            "one line naming the lost quorum: {err}"
        );

        // Every container keeps running, on every node, the killed leader's and the cut
        // manager's included.
        let watch_until = Instant::now() + WATCH_WITHOUT_QUORUM;
        while Instant::now() < watch_until {
            let now = bed.running_containers("web");
            assert_eq!(
                tasks_of(&now),
                tasks_of(&before),
                "the running tasks changed without a quorum"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        // The managers come back: the cluster rests again with one running task per slot,
        // the same tasks as before, and the refused scale left no trace.
        blocking(|| {
            bed.restart(leader);
            bed.lab().heal();
        });
        let after = wait_until(&bed, "6 replicas at rest again", WITHIN, || {
            bed.one_running_per_slot(survivor, "web", 6)
        })
        .await;
        assert_eq!(tasks_of(&after), tasks_of(&before));
        let info = services.inspect("web").await.unwrap();
        assert_eq!(info.desired, 6);
        assert!(
            services.inspect("more").await.is_err(),
            "the refused create left a service"
        );
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

/// Whether the store wants `n` tasks of `name`, in `n` slots, each reported running on a node
/// other than member `dead`'s; otherwise what it wants.
async fn running_without(
    bed: &Bed,
    via: usize,
    name: &str,
    n: usize,
    dead: usize,
) -> Result<(), String> {
    let list = bed.desired_tasks(via, name).await?;
    let dead = bed.node_id(dead);
    let slots: BTreeSet<String> = list
        .tasks
        .iter()
        .map(|t| format!("{:?}", t.task.slot))
        .collect();
    let elsewhere = list.tasks.iter().all(|t| {
        t.task.status.state == TaskState::Running
            && t.task
                .node
                .as_ref()
                .is_some_and(|node| node.as_str() != dead)
    });
    if list.tasks.len() == n && slots.len() == n && elsewhere {
        return Ok(());
    }
    let tasks: Vec<String> = list
        .tasks
        .iter()
        .map(|t| {
            format!(
                "{:?} on {:?}: {}",
                t.task.slot, t.task.node, t.task.status.state
            )
        })
        .collect();
    Err(format!("the store wants {tasks:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_killed_during_a_scale_to_20_leaves_exactly_20_running_one_per_slot() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let leader = leader_index(&bed, 0).await;
        let via = (leader + 1) % 3;
        bed.output(
            via,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "2",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        wait_until(&bed, "2 replicas at rest", WITHIN, || {
            bed.one_running_per_slot(via, "web", 2)
        })
        .await;

        // The scale commits, then the leader dies while deciding and placing its tasks.
        let services = bed.services(via);
        services.update(scale("web", 20)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(random_below(150) as u64)).await;
        blocking(|| bed.kill(leader));
        let new_leader = wait_until(&bed, "a new leader", WITHIN, || async {
            match leader_index(&bed, via).await {
                l if l == leader => Err(format!("member {l} still leads")),
                l => Ok(l),
            }
        })
        .await;
        assert_ne!(new_leader, leader);

        // The dead manager's node is down once raft has not heard from it for its grace: its
        // replicas run on the other nodes.
        wait_until(
            &bed,
            "20 replicas running on the live nodes",
            WITHIN,
            || running_without(&bed, via, "web", 20, leader),
        )
        .await;

        // The old leader's node comes back and stops its stale copies; the cluster rests at
        // exactly 20 running tasks, one per slot, none doubled.
        blocking(|| bed.restart(leader));
        let running = wait_until(&bed, "20 replicas at rest", WITHIN, || {
            bed.one_running_per_slot(via, "web", 20)
        })
        .await;
        assert_eq!(running.len(), 20);
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
