//! The fleet simulator against three real `bosun` managers on loopback: 100 simulated
//! nodes (real joins, heartbeats, assignment streams and status reports; containers in
//! memory) and a service of 3,000 replicas, the scale issue's CI size (bigger runs are for
//! `bench/fleet.sh`, on release builds). Checks correctness, not time: every slot placed
//! once and running, the spread even; after 10 nodes die at once, their tasks run elsewhere
//! and no slot runs twice; after the leader is killed, no node is marked down and no task
//! moves.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::bin;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cluster_state::{NodeState, Record};
use fleet::{Fleet, FleetConfig};
use orchestrator::swarm::{TaskSlot, TaskState};
use testbed::services::wait_until;
use testbed::{Bed, leader_index, write_within};

const NODES: usize = 100;
const REPLICAS: usize = 3_000;
const LOST: usize = 10;
/// Generous: the machine is shared with other builds.
const WITHIN: Duration = Duration::from_secs(120);

/// The service's wanted tasks through member `via`: task id → (slot, node), with the
/// reason when one is not running or a slot is held twice.
async fn placed(bed: &Bed, via: usize) -> Result<BTreeMap<String, (u64, String)>, String> {
    let list = bed.desired_tasks(via, "web").await?;
    let mut by_slot: BTreeMap<u64, String> = BTreeMap::new();
    let mut placed = BTreeMap::new();
    for task in list.tasks {
        let task = task.task;
        let TaskSlot::Slot(slot) = task.slot else {
            return Err(format!("task {} has no slot", task.id));
        };
        let Some(node) = task.node else {
            return Err(format!("task {} (slot {slot}) not placed", task.id));
        };
        if task.status.state != TaskState::Running {
            return Err(format!("task {} is {}", task.id, task.status.state));
        }
        if let Some(other) = by_slot.insert(slot, task.id.0.clone()) {
            return Err(format!("slot {slot} held by {other} and {}", task.id));
        }
        placed.insert(task.id.0, (slot, node.0));
    }
    let slots: BTreeSet<u64> = by_slot.keys().copied().collect();
    let wanted: BTreeSet<u64> = (1..=REPLICAS as u64).collect();
    if slots != wanted {
        return Err(format!("{} slots held of {REPLICAS}", slots.len()));
    }
    Ok(placed)
}

/// The store and the fleet agree: exactly the wanted tasks run, each on the node the store
/// names, each once; the tasks per node (over `up` nodes) differ by one at most.
async fn at_rest(
    bed: &Bed,
    via: usize,
    fleet: &Fleet,
    up: usize,
) -> Result<BTreeMap<String, (u64, String)>, String> {
    let placed = placed(bed, via).await?;
    let running = fleet.running_tasks();
    let mut seen = BTreeSet::new();
    for (node, task) in &running {
        if !seen.insert(task.clone()) {
            return Err(format!("task {task} runs twice"));
        }
        match placed.get(task) {
            Some((_, on)) if on == node => {}
            Some((slot, on)) => {
                return Err(format!(
                    "task {task} (slot {slot}) runs on {node}, placed on {on}"
                ));
            }
            None => return Err(format!("task {task} runs on {node} but is not wanted")),
        }
    }
    if running.len() != REPLICAS {
        return Err(format!("{} tasks run, {REPLICAS} wanted", running.len()));
    }
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, node) in placed.values() {
        *per_node.entry(node).or_default() += 1;
    }
    let (min, max) = (
        per_node.values().min().copied().unwrap_or(0),
        per_node.values().max().copied().unwrap_or(0),
    );
    if per_node.len() != up || max - min > 1 {
        return Err(format!(
            "uneven spread: {} nodes hold tasks ({up} up), {min} to {max} each",
            per_node.len()
        ));
    }
    Ok(placed)
}

/// The simulated nodes the store marks down.
async fn down_nodes(bed: &Bed, via: usize) -> Vec<String> {
    let (data, _) = bed.client(via).read("kind:node").await.unwrap();
    let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Node(n) if n.state == NodeState::Down && n.hostname.starts_with("sim-") => {
                Some(n.meta.id)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_simulated_nodes_hold_3000_tasks_through_node_loss_and_failover() {
    let mut bed = Bed::cluster(bin(), 3);
    let work = tempfile::tempdir().unwrap();
    let config = FleetConfig {
        managers: bed.members.iter().map(|m| m.addr.clone()).collect(),
        token: bed.token(0, "worker"),
        nodes: NODES,
        start_delay: Duration::from_millis(50),
        join_concurrency: 8,
        work_dir: work.path().to_path_buf(),
        hostname_prefix: "sim".into(),
    };
    let mut fleet = Fleet::join(&config).await.unwrap();
    assert_eq!(fleet.nodes().len(), NODES);

    let replicas = REPLICAS.to_string();
    bed.output(
        0,
        &[
            "service",
            "create",
            "-d",
            "--name",
            "web",
            "--replicas",
            &replicas,
            "--constraint",
            "node.role==worker",
            "busybox",
        ],
    );
    let first = wait_until(&bed, "every task placed once and running", WITHIN, || {
        at_rest(&bed, 0, &fleet, NODES)
    })
    .await;
    let nodes_used: BTreeSet<&String> = first.values().map(|(_, n)| n).collect();
    assert_eq!(nodes_used.len(), NODES);

    // Ten nodes die at once: their tasks run on the others, each slot once.
    let lost: BTreeSet<String> = fleet.kill(LOST).await.into_iter().collect();
    assert_eq!(lost.len(), LOST);
    let after_loss = wait_until(
        &bed,
        "the lost nodes' tasks running elsewhere",
        WITHIN,
        || at_rest(&bed, 0, &fleet, NODES - LOST),
    )
    .await;
    assert!(after_loss.values().all(|(_, node)| !lost.contains(node)));
    // Tasks on the surviving nodes stayed where they were.
    for (task, (slot, node)) in &first {
        if !lost.contains(node) {
            assert_eq!(
                after_loss.get(task),
                Some(&(*slot, node.clone())),
                "{task} moved"
            );
        }
    }
    let down: BTreeSet<String> = down_nodes(&bed, 0).await.into_iter().collect();
    assert_eq!(down, lost);

    // The leader dies: a new one takes over without marking a node down or moving a task.
    let leader = leader_index(&bed, 0).await;
    let survivor = (leader + 1) % 3;
    bed.kill(leader);
    write_within(&bed.client(survivor), "after-failover", WITHIN).await;
    // A node the new leader wrongly took for silent would be marked down once its failover
    // grace (9 s from the election) and the 3 s of silence are over; give it that and more.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let down: BTreeSet<String> = down_nodes(&bed, survivor).await.into_iter().collect();
    assert_eq!(down, lost, "nodes marked down by the failover");
    let after_failover = at_rest(&bed, survivor, &fleet, NODES - LOST)
        .await
        .unwrap_or_else(|why| panic!("after the failover: {why}\n{}", bed.logs()));
    assert_eq!(after_failover, after_loss, "tasks moved by the failover");
    assert!(fleet.ended().is_empty(), "{:?}", fleet.ended());
    fleet.stop().await;
}
