//! Services end to end: 3 managers and 2 workers, each node with its own `bosun agent` and
//! node daemon in its own network namespace and data root. `bosun service create` on a
//! manager goes through the services API, the leader's control loop places the tasks, the
//! dispatcher streams them to the nodes, and the nodes run them as real containers and report
//! them running; scaling down stops and removes containers, removing the service removes the
//! rest. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use testbed::Bed;

const IMAGE: &str = "busybox:svc";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);

/// The running containers of service `name` on each node, by member index.
fn running_per_node(bed: &Bed, name: &str) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for i in 0..bed.members.len() {
        let n = blocking(|| bed.containers(i))
            .into_iter()
            .filter(|c| {
                c.labels
                    .get("com.docker.swarm.service.name")
                    .map(String::as_str)
                    == Some(name)
                    && c.state == api::agent::ContainerState::Running as i32
            })
            .count();
        if n > 0 {
            counts.insert(i, n);
        }
    }
    counts
}

/// Every container of service `name` on any node, running or not.
fn all_containers(bed: &Bed, name: &str) -> usize {
    bed.containers_labelled("com.docker.swarm.service.name", name)
}

/// Polls until `done` holds of the running containers per node; returns them.
async fn wait_running(
    bed: &Bed,
    name: &str,
    done: impl Fn(&BTreeMap<usize, usize>) -> bool,
) -> BTreeMap<usize, usize> {
    let deadline = Instant::now() + WITHIN;
    loop {
        let counts = running_per_node(bed, name);
        if done(&counts) {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "never converged: {counts:?}\n{}",
            bed.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_runs_its_replicas_as_containers_spread_over_the_nodes() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();

        // Without --detach, create waits until every task runs on its node.
        let out = bed.output(
            1,
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
        assert!(out.contains("6 out of 6"), "{out}");
        // And a line per slot as its task moves on (a line per change, off a terminal).
        for slot in 1..=6 {
            assert!(out.contains(&format!("{slot}/6: running   [")), "{out}");
        }
        let spread = wait_running(&bed, "web", |c| c.values().sum::<usize>() == 6).await;
        assert!(spread.len() >= 3, "spread over the nodes: {spread:?}");
        assert!(
            spread.values().all(|n| *n <= 2),
            "at most 2 per node: {spread:?}"
        );

        // Scaling down stops and removes the extra containers; the rest keep running.
        bed.output(2, &["service", "scale", "web=2", "--detach"]);
        wait_running(&bed, "web", |c| c.values().sum::<usize>() == 2).await;
        let deadline = Instant::now() + WITHIN;
        while all_containers(&bed, "web") > 2 {
            assert!(Instant::now() < deadline, "stopped containers kept");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        // Removing the service removes its containers everywhere.
        bed.output(0, &["service", "rm", "web"]);
        let deadline = Instant::now() + WITHIN;
        while all_containers(&bed, "web") > 0 {
            assert!(
                Instant::now() < deadline,
                "containers left after rm\n{}",
                bed.logs()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

/// Task ids of the running containers of service `name` on member `i`.
fn running_tasks(bed: &Bed, i: usize, name: &str) -> Vec<String> {
    blocking(|| bed.containers(i))
        .into_iter()
        .filter(|c| {
            c.labels
                .get("com.docker.swarm.service.name")
                .map(String::as_str)
                == Some(name)
                && c.state == api::agent::ContainerState::Running as i32
        })
        .filter_map(|c| c.labels.get("com.docker.swarm.task.id").cloned())
        .collect()
}

/// A worker cut off from the cluster: the managers mark it down and its replicas run on the
/// other nodes; when its link comes back, the copies it kept running (moved away meanwhile)
/// are stopped, so no slot runs twice at rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_worker_s_replicas_run_elsewhere_and_its_stale_copies_stop_when_it_returns() {
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
                "5",
                "--no-rebalance",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        wait_running(&bed, "web", |c| c.values().sum::<usize>() == 5).await;
        let stale = running_tasks(&bed, 4, "web");
        assert!(
            !stale.is_empty(),
            "the worker runs a replica: {:?}",
            running_per_node(&bed, "web")
        );

        // The worker's link goes down: its tasks get replacements on the others.
        blocking(|| bed.lab().set_link(4, false));
        let lost = Instant::now();
        wait_running(&bed, "web", |c| {
            c.iter()
                .filter(|(i, _)| **i != 4)
                .map(|(_, n)| n)
                .sum::<usize>()
                == 5
        })
        .await;
        eprintln!(
            "replicas of the lost worker running elsewhere after {:?}",
            lost.elapsed()
        );
        // Cut off, the worker keeps what it runs (quorum loss never stops tasks).
        assert_eq!(running_tasks(&bed, 4, "web"), stale);

        // Back on the network, it stops the copies that were moved away.
        blocking(|| bed.lab().set_link(4, true));
        let deadline = Instant::now() + WITHIN;
        while running_tasks(&bed, 4, "web")
            .iter()
            .any(|t| stale.contains(t))
        {
            assert!(
                Instant::now() < deadline,
                "stale copies still run\n{}",
                bed.logs()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let counts = running_per_node(&bed, "web");
        assert_eq!(counts.values().sum::<usize>(), 5, "{counts:?}");
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
