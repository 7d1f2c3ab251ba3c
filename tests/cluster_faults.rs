//! Five managers, each a real `bosun` process in its own network namespace on a private lab
//! bridge: leader kills, minority and asymmetric partitions (nftables drops between the
//! namespaces), a pulled link, kill -9 during a stream of writes checked against the recorded
//! client history, refused membership changes, demotion under load and a forced rebuild.
//! Needs root (namespaces, links, nftables).

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster_manager::ManagerClient;
use cluster_state::{Batch, Command, NodeRole, Record, Service};
use orchestrator::swarm;
use testbed::history;
use testbed::lab::{Lab, in_netns, leftovers};
use testbed::register::{append_client, create_register, read_register};
use testbed::{Bed, config, converged, leader_index, write_within};

/// Whether a TCP connection from node `from`'s namespace reaches `to` within a second.
fn connects(lab: &Lab, from: usize, to: std::net::SocketAddr) -> bool {
    in_netns(&lab.netns(from), move || {
        std::net::TcpStream::connect_timeout(&to, Duration::from_secs(1)).is_ok()
    })
}

/// Whether node `from` reaches `to` within five seconds (a link just brought up needs a moment,
/// and a failed neighbour entry a retry).
fn reconnects(lab: &Lab, from: usize, to: std::net::SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if connects(lab, from, to) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn lab_cuts_links_and_partitions_and_leaves_nothing_behind() {
    let mut lab = Lab::new(3);
    let tag = lab.tag().to_owned();
    // Three namespaces, the bridge, three veths, the table and the owner file.
    assert_eq!(
        leftovers(&tag).len(),
        3 + 1 + 3 + 1 + 1,
        "{:?}",
        leftovers(&tag)
    );
    // A listener in node 1's namespace, reached from node 0, node 2 and the host.
    let listener = in_netns(&lab.netns(1), || {
        std::net::TcpListener::bind("0.0.0.0:7000")
    })
    .expect("listen in node 1");
    // Handshakes complete in the kernel's backlog: nothing needs to accept them.
    let target = std::net::SocketAddr::from((lab.addr(1), 7000));
    assert!(connects(&lab, 0, target));
    assert!(std::net::TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok());

    lab.partition(&[0], &[1]);
    assert!(!connects(&lab, 0, target), "the partition let 0 reach 1");
    assert!(connects(&lab, 2, target), "the partition cut 2 off too");
    lab.heal();
    assert!(reconnects(&lab, 0, target));

    // One way: 1 → 0 dropped, so 0's connection attempt gets no answer.
    lab.drop_one_way(1, 0);
    assert!(!connects(&lab, 0, target));
    lab.heal();

    lab.set_link(1, false);
    assert!(!connects(&lab, 2, target));
    assert!(std::net::TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_err());
    lab.heal();
    assert!(reconnects(&lab, 2, target));

    drop(listener);
    drop(lab);
    assert_eq!(leftovers(&tag), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_managers_survive_leader_kill_partitions_and_a_pulled_link() {
    let mut bed = blocking(|| Bed::cluster_in_lab(bin(), 5));
    let tag = bed.lab().tag().to_owned();
    let status = bed.client(0).status().await.unwrap();
    assert_eq!(status.members.len(), 5, "{status:?}");
    assert_eq!((status.quorum, status.tolerates), (3, 2));
    write_within(&bed.client(0), "first", Duration::from_secs(5)).await;

    // Leader kill: a new leader within a few election timeouts (1 s each), writes resume.
    let leader = leader_index(&bed, 0).await;
    blocking(|| bed.kill(leader));
    let survivor = (leader + 1) % 5;
    let took = write_within(&bed.client(survivor), "after-kill", Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(4), "failover took {took:?}");
    let new_leader = leader_index(&bed, survivor).await;
    assert_ne!(new_leader, leader);
    blocking(|| bed.restart(leader));

    // Minority partition {leader, one follower} against the other three: the majority elects
    // a leader and commits; the minority refuses at once with the no-quorum error.
    let leader = leader_index(&bed, survivor).await;
    let minority = [leader, (leader + 1) % 5];
    let majority: Vec<usize> = (0..5).filter(|i| !minority.contains(i)).collect();
    bed.lab().partition(&minority, &majority);
    write_within(
        &bed.client(majority[0]),
        "majority-side",
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for &i in &minority {
        let start = Instant::now();
        let err = bed.client(i).write(&config("minority")).await.unwrap_err();
        // The old leader steps down and goes quiet, so its partner may see only itself.
        let text = err.to_string();
        assert!(
            [1, 2]
                .iter()
                .any(|n| text == format!("no quorum: {n} of 5 managers reachable (need 3)")),
            "member {i}: {text}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
    bed.lab().heal();
    write_within(&bed.client(minority[0]), "healed", Duration::from_secs(15)).await;
    converged(&bed, &[0, 1, 2, 3, 4], Duration::from_secs(10)).await;

    // Asymmetric: the leader's packets to one follower are dropped; the cluster keeps
    // committing, and the follower catches up once healed.
    let leader = leader_index(&bed, 0).await;
    let cut = (leader + 2) % 5;
    bed.lab().drop_one_way(leader, cut);
    for k in 0..5 {
        write_within(
            &bed.client(leader),
            &format!("one-way-{k}"),
            Duration::from_secs(10),
        )
        .await;
    }
    bed.lab().heal();

    // A pulled link: the others keep going; plugged back, it converges.
    let leader = leader_index(&bed, 0).await;
    let pulled = (leader + 1) % 5;
    bed.lab().set_link(pulled, false);
    let other = (leader + 3) % 5;
    write_within(&bed.client(other), "link-down", Duration::from_secs(10)).await;
    bed.lab().set_link(pulled, true);
    let hash = converged(&bed, &[0, 1, 2, 3, 4], Duration::from_secs(15)).await;
    let (data, _) = bed.client(pulled).read("kind:config").await.unwrap();
    let text = String::from_utf8(data).unwrap();
    for id in [
        "first",
        "after-kill",
        "majority-side",
        "healed",
        "one-way-4",
        "link-down",
    ] {
        assert!(text.contains(&format!("\"{id}\"")), "{id} lost: {text}");
    }
    assert!(!text.contains("\"minority\""), "a refused write applied");
    assert_eq!(hash.len(), 64);
    drop(bed);
    assert_eq!(leftovers(&tag), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_during_writes_loses_no_acknowledged_write() {
    let mut bed = blocking(|| Bed::cluster_in_lab(bin(), 5));
    bed.client(0).write(&create_register()).await.unwrap();
    let clients: Vec<ManagerClient> = (0..5).map(|i| bed.client(i)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (1..=3)
        .map(|id| tokio::spawn(append_client(id, clients.clone(), stop.clone())))
        .collect();

    // Kill -9 a random manager (the leader every other time), restart it a second later.
    let start = Instant::now();
    let mut kills = 0;
    while start.elapsed() < Duration::from_secs(14) {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let victim = if kills % 2 == 0 {
            leader_index(&bed, testbed::random_below(5)).await
        } else {
            testbed::random_below(5)
        };
        blocking(|| bed.kill(victim));
        kills += 1;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        blocking(|| bed.restart(victim));
    }
    stop.store(true, Ordering::Relaxed);
    let mut ops = Vec::new();
    for task in tasks {
        ops.extend(task.await.unwrap());
    }
    converged(&bed, &[0, 1, 2, 3, 4], Duration::from_secs(20)).await;
    let (register, _) = read_register(&bed.client(0)).await.unwrap();
    let summary = history::check(&ops, &register)
        .unwrap_or_else(|err| panic!("{err}\nregister: {register:?}\nhistory: {ops:#?}"));
    assert!(
        summary.acked >= 20,
        "too few acknowledged writes: {summary:?}"
    );
    assert!(kills >= 5, "{kills}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_keep_quorum_and_a_forced_rebuild_keeps_services() {
    let mut bed = blocking(|| Bed::cluster_in_lab(bin(), 5));
    let service = Batch::new(
        0,
        vec![Command::Create(Record::Service(Box::new(Service::new(
            swarm::Service::new(
                swarm::ServiceId("svc1".to_owned()),
                "web",
                swarm::ServiceSpec {
                    image: "busybox".to_owned(),
                    mode: swarm::Mode::Replicated { replicas: 3 },
                    ..swarm::ServiceSpec::default()
                },
                swarm::Timestamp(0),
            ),
        ))))],
    );
    bed.client(0).write(&service).await.unwrap();

    // Two of five down: demoting or removing a third reachable manager would leave 2 of 4.
    let leader = leader_index(&bed, 0).await;
    let down = [(leader + 1) % 5, (leader + 2) % 5];
    for &i in &down {
        blocking(|| bed.kill(i));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = bed.client(leader).status().await.unwrap();
    assert_eq!(status.tolerates, 0, "{status:?}");
    let victim = (leader + 3) % 5;
    let victim_id = status
        .members
        .iter()
        .find(|m| m.raft_id == victim as u64 + 1)
        .unwrap()
        .node_id
        .clone();
    let expected = format!(
        "cannot remove manager {}: 2 of the 4 remaining managers would be reachable (need 3)",
        victim + 1
    );
    let err = bed
        .client(leader)
        .change_role(&victim_id, "worker")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), expected);
    let err = bed
        .client(leader)
        .remove_node(&victim_id, true)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), expected);
    for &i in &down {
        blocking(|| bed.restart(i));
    }

    // Demote a follower while writes stream through the leader: no write fails for it.
    converged(&bed, &[0, 1, 2, 3, 4], Duration::from_secs(15)).await;
    let leader = leader_index(&bed, 0).await;
    let writer = bed.client(leader);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("load-{k}");
                if writer.write(&config(&id)).await.is_ok() {
                    acked.push(id);
                }
                k += 1;
            }
            (acked, k)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    bed.client(leader)
        .change_role(&victim_id, "worker")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, sent) = load.await.unwrap();
    assert_eq!(acked.len(), sent, "writes failed during the demotion");
    let status = bed.client(leader).status().await.unwrap();
    assert_eq!(status.members.len(), 4, "{status:?}");
    // The demoted manager's daemon carries on as a worker, with a worker certificate.
    assert!(blocking(|| testbed::wait_certificate_role(
        &bed,
        victim,
        NodeRole::Worker,
        Duration::from_secs(10)
    )));
    let (data, _) = bed.client(leader).read("kind:config").await.unwrap();
    let text = String::from_utf8(data).unwrap();
    for id in &acked {
        assert!(text.contains(&format!("\"{id}\"")), "{id} lost");
    }

    // Quorum lost for good: rebuild a one-manager cluster from a survivor, keeping services.
    let survivor = leader;
    for i in (0..5).filter(|i| *i != survivor) {
        blocking(|| bed.kill(i));
    }
    blocking(|| bed.kill(survivor));
    let (ok, out, err) =
        blocking(|| bed.bosun(survivor, &["cluster", "init", "--force-new-cluster"]));
    assert!(ok, "{out}{err}");
    blocking(|| bed.record_pid(survivor));
    let status = bed.client(survivor).status().await.unwrap();
    assert_eq!(status.members.len(), 1, "{status:?}");
    let (data, _) = bed.client(survivor).read("kind:service").await.unwrap();
    let text = String::from_utf8(data).unwrap();
    assert!(text.contains("\"web\""), "{text}");
    write_within(
        &bed.client(survivor),
        "after-rebuild",
        Duration::from_secs(5),
    )
    .await;
}
