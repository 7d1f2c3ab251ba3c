//! Membership under load with worker daemons, each node a real `bosun` process in its own
//! network namespace: a worker is promoted while three clients write (history checker), votes
//! and counts for the quorum once the old leader is killed and holds the same state hash as
//! the other managers, is demoted back under load and carries on as a worker, and is removed
//! under load once stopped, as is a worker that went down. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster_manager::ManagerClient;
use cluster_manager::pki::NodeIdentity;
use cluster_state::{Node, NodeRole, NodeState, Record};
use testbed::history;
use testbed::lab::leftovers;
use testbed::register::{append_client, create_register, read_register};
use testbed::{Bed, converged, leader_index, write_within};

/// The node record `id` as manager `via` reads it, if it exists.
async fn node_record(bed: &Bed, via: usize, id: &str) -> Option<Node> {
    let (data, _) = bed.client(via).read("kind:node").await.ok()?;
    let records: Vec<Record> = serde_json::from_slice(&data).ok()?;
    records.into_iter().find_map(|r| match r {
        Record::Node(node) if node.meta.id == id => Some(node),
        _ => None,
    })
}

/// Waits until node `id` matches `want` as manager `via` sees it.
async fn wait_node(bed: &Bed, via: usize, id: &str, what: &str, want: impl Fn(&Node) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let node = node_record(bed, via, id).await;
        if node.as_ref().is_some_and(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {id} never became {what}: {node:?}\n{}",
            logs(bed)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The end of every member's daemon log.
fn logs(bed: &Bed) -> String {
    (0..bed.members.len())
        .map(|m| format!("--- member {m}:\n{}", bed.log(m)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `bosun <args>` on member `i`, asserting success; its stdout.
fn ok(bed: &Bed, i: usize, args: &[&str]) -> String {
    let (ok, out, err) = bed.bosun(i, args);
    assert!(ok, "bosun {args:?} failed: {out}{err}\n{}", logs(bed));
    out
}

/// Runs `bosun <args>` on member `i`, asserting failure; its stderr.
fn fails(bed: &Bed, i: usize, args: &[&str]) -> String {
    let (ok, out, err) = bed.bosun(i, args);
    assert!(!ok, "bosun {args:?} succeeded: {out}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_is_promoted_under_load_counts_for_quorum_then_is_demoted_and_removed() {
    // Members 0-2 managers (raft ids 1-3), 3 and 4 workers.
    let mut bed = blocking(|| {
        let mut bed = Bed::new_in_lab(bin(), 5);
        bed.init();
        bed.join(1);
        bed.join(2);
        bed.join_worker(3);
        bed.join_worker(4);
        bed
    });
    let tag = bed.lab().tag().to_owned();
    let (promoted, spare) = (3, 4);
    let promoted_id = bed.node_id(promoted);
    let spare_id = bed.node_id(spare);
    let ls = blocking(|| ok(&bed, 0, &["node", "ls"]));
    assert!(ls.contains(&promoted_id) && ls.contains(&spare_id), "{ls}");

    // A worker whose daemon stopped is marked down and cannot be promoted.
    blocking(|| bed.kill(spare));
    wait_node(&bed, 0, &spare_id, "down", |n| n.state == NodeState::Down).await;
    let err = blocking(|| fails(&bed, 0, &["node", "promote", &spare_id]));
    assert!(
        err.contains(&format!("cannot promote node {spare_id}: it is down")),
        "{err}"
    );

    // Three clients append to the register through the three managers from here on.
    bed.client(0).write(&create_register()).await.unwrap();
    let clients: Vec<ManagerClient> = (0..3).map(|i| bed.client(i)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (1..=3)
        .map(|id| tokio::spawn(append_client(id, clients.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Promotion under load: the worker's daemon takes the manager role in place.
    let out = blocking(|| {
        let (done, out, err) = bed.bosun(0, &["node", "promote", &promoted_id]);
        assert!(
            done,
            "promote failed: {out}{err}\nits log:\n{}",
            bed.log(promoted)
        );
        out
    });
    assert!(out.contains("promoted to a manager (raft id 4)"), "{out}");
    let identity = NodeIdentity::load(&bed.members[promoted].root.join("cluster")).unwrap();
    assert_eq!(identity.identity().unwrap().role, NodeRole::Manager);
    // Its own API answers linearizable reads with the register the clients fill.
    let deadline = Instant::now() + Duration::from_secs(15);
    while read_register(&bed.client(promoted)).await.is_none() {
        assert!(Instant::now() < deadline, "{}", bed.log(promoted));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = bed.client(promoted).status().await.unwrap();
    let member = status.members.iter().find(|m| m.raft_id == 4).unwrap();
    assert_eq!(member.node_id, promoted_id);
    assert!(member.reachable, "{status:?}");
    assert_eq!((status.members.len(), status.quorum), (4, 3), "{status:?}");

    // Kill the old leader: 3 of 4 managers are left, and the quorum of 3 needs the promoted one.
    let leader = leader_index(&bed, 0).await;
    let victim = if leader == promoted { 0 } else { leader };
    blocking(|| bed.kill(victim));
    let survivor = (0..3).find(|i| *i != victim).unwrap();
    write_within(
        &bed.client(survivor),
        "after-leader-kill",
        Duration::from_secs(10),
    )
    .await;
    // The killed manager drops out of the reachable ones within an election timeout.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, reachable) = loop {
        let status = bed.client(survivor).status().await.unwrap();
        let reachable: Vec<u64> = status
            .members
            .iter()
            .filter(|m| m.reachable)
            .map(|m| m.raft_id)
            .collect();
        if reachable.len() == 3 || Instant::now() > deadline {
            break (status, reachable);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status.members.len(), 4, "{status:?}");
    assert_eq!(reachable.len(), 3, "{status:?}");
    assert!(
        reachable.contains(&4),
        "promoted manager not counted: {status:?}"
    );
    blocking(|| bed.restart(victim));

    // With the writers paused, all four managers reach the same state hash.
    stop.store(true, Ordering::Relaxed);
    let mut ops = Vec::new();
    for writer in writers {
        ops.extend(writer.await.unwrap());
    }
    let hash = converged(&bed, &[0, 1, 2, promoted], Duration::from_secs(20)).await;
    assert_eq!(hash.len(), 64, "{hash}");

    // Three new clients (their own values) write through the rest of the test.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (4..=6)
        .map(|id| tokio::spawn(append_client(id, clients.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Demotion under load: the node leaves the managers and its daemon carries on as a worker.
    ok(&bed, survivor, &["node", "demote", &promoted_id]);
    wait_node(&bed, survivor, &promoted_id, "a ready worker", |n| {
        n.role == NodeRole::Worker && n.raft_id.is_none() && n.state == NodeState::Ready
    })
    .await;
    let status = bed.client(survivor).status().await.unwrap();
    assert_eq!(status.members.len(), 3, "{status:?}");
    assert!(
        blocking(|| testbed::wait_certificate_role(
            &bed,
            promoted,
            NodeRole::Worker,
            Duration::from_secs(15)
        )),
        "{}",
        bed.log(promoted)
    );

    // Removal under load: refused while the demoted node's daemon reports, done once it
    // stopped and is down; the worker that went down first is removed too.
    let err = blocking(|| fails(&bed, survivor, &["node", "rm", &promoted_id]));
    assert!(err.contains("is not down"), "{err}");
    blocking(|| bed.kill(promoted));
    wait_node(&bed, survivor, &promoted_id, "down", |n| {
        n.state == NodeState::Down
    })
    .await;
    blocking(|| ok(&bed, survivor, &["node", "rm", &promoted_id]));
    blocking(|| ok(&bed, survivor, &["node", "rm", &spare_id]));

    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        ops.extend(writer.await.unwrap());
    }
    converged(&bed, &[0, 1, 2], Duration::from_secs(20)).await;
    let (register, _) = read_register(&bed.client(0)).await.unwrap();
    let summary = history::check(&ops, &register)
        .unwrap_or_else(|err| panic!("{err}\nregister: {register:?}\nhistory: {ops:#?}"));
    assert!(
        summary.acked >= 10,
        "too few acknowledged writes: {summary:?}"
    );
    let ls = blocking(|| ok(&bed, 0, &["node", "ls"]));
    assert!(
        !ls.contains(&promoted_id) && !ls.contains(&spare_id),
        "{ls}"
    );

    // A removed worker's daemon that comes back is refused and stops by itself.
    blocking(|| bed.restart(spare));
    assert!(
        blocking(|| testbed::wait_gone(&bed, spare, Duration::from_secs(10))),
        "{}",
        bed.log(spare)
    );
    drop(bed);
    assert_eq!(leftovers(&tag), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_marked_while_the_worker_is_stopped_completes_when_it_resumes() {
    use nix::sys::signal::Signal;
    let mut bed = blocking(|| {
        let mut bed = Bed::new_in_lab(bin(), 2);
        bed.init();
        bed.join_worker(1);
        bed
    });
    let tag = bed.lab().tag().to_owned();
    let worker_id = bed.node_id(1);
    let manager = bed.client(0);

    // A promotion can be cancelled before the worker takes it.
    manager.change_role(&worker_id, "manager").await.unwrap();
    manager.change_role(&worker_id, "worker").await.unwrap();
    let node = node_record(&bed, 0, &worker_id).await.unwrap();
    assert_eq!((node.role, node.desired_role), (NodeRole::Worker, None));

    // Marked while its daemon is frozen: the mark stays, through the node going down.
    bed.signal(1, Signal::SIGSTOP);
    manager.change_role(&worker_id, "manager").await.unwrap();
    let ls = blocking(|| ok(&bed, 0, &["node", "ls"]));
    let line = ls.lines().find(|l| l.contains(&worker_id)).unwrap();
    assert!(line.ends_with("Promoting"), "{ls}");
    wait_node(&bed, 0, &worker_id, "down and still marked", |n| {
        n.state == NodeState::Down && n.desired_role == Some(NodeRole::Manager)
    })
    .await;
    assert_eq!(manager.status().await.unwrap().members.len(), 1);

    // Resumed, it reports, takes the manager role and holds the cluster's state.
    bed.signal(1, Signal::SIGCONT);
    wait_node(&bed, 0, &worker_id, "a manager", |n| {
        n.role == NodeRole::Manager && n.raft_id == Some(2) && n.desired_role.is_none()
    })
    .await;
    write_within(&manager, "after-promotion", Duration::from_secs(15)).await;
    converged(&bed, &[0, 1], Duration::from_secs(20)).await;
    let status = bed.client(1).status().await.unwrap();
    assert_eq!(status.members.len(), 2, "{status:?}");
    assert!(status.members.iter().all(|m| m.reachable), "{status:?}");
    drop(bed);
    assert_eq!(leftovers(&tag), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_renews_its_certificate_and_stays_ready_past_the_first_expiry() {
    let mut bed = blocking(|| {
        let mut bed = Bed::new_in_lab(bin(), 2);
        bed.init_with(&["--cert-expiry", "8s"]);
        bed.join_worker(1);
        bed
    });
    let tag = bed.lab().tag().to_owned();
    let worker_id = bed.node_id(1);
    let dir = bed.members[1].root.join("cluster");
    let first = NodeIdentity::load(&dir)
        .unwrap()
        .identity()
        .unwrap()
        .not_after;
    // Renewed at 50-80 % of 8 s; wait until well past the first certificate's expiry.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        if now > first + 7 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let current = NodeIdentity::load(&dir).unwrap().identity().unwrap();
    assert!(current.not_after > first, "not renewed:\n{}", bed.log(1));
    assert_eq!(current.role, NodeRole::Worker);
    // Heartbeats kept arriving with the renewed certificate: a worker silent since the first
    // certificate expired would have been marked down by now.
    let node = node_record(&bed, 0, &worker_id).await.unwrap();
    assert_eq!(node.state, NodeState::Ready, "{}", bed.log(1));
    drop(bed);
    assert_eq!(leftovers(&tag), Vec::<String>::new());
}
