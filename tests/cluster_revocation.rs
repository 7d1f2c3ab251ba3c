//! A certificate is only as good as its node's current record: a demoted manager's old
//! certificate loses the manager api and the raft transport at once, a removed node's
//! certificates lose every api; a manager cannot send raft messages in another manager's
//! name; and a linearizable read made right after the leader is killed answers with the
//! latest acknowledged write. Each manager is a real `bosun` process.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::time::Duration;

use cluster_manager::pki::NodeIdentity;
use cluster_manager::proto::RaftBatch;
use cluster_manager::proto::manager_client::ManagerClient as RawClient;
use cluster_manager::{LocalState, ManagerClient, tls};
use cluster_raft::encode_message;
use cluster_raft::eraftpb::{Message, MessageType};
use cluster_state::{NodeRole, Record};
use testbed::{Bed, config, converged, leader_index};

/// Member `i`'s identity as its files hold it now.
fn identity(bed: &Bed, i: usize) -> NodeIdentity {
    NodeIdentity::load(&bed.members[i].root.join("cluster")).unwrap()
}

/// Sends an empty raft batch to `addr` as `identity`: the raft transport's answer.
async fn raft_call(addr: &str, identity: &NodeIdentity) -> Result<(), String> {
    raft_batch(addr, identity, &[]).await
}

/// Sends `messages` in one raft batch to `addr` as `identity`: the raft transport's answer.
async fn raft_batch(
    addr: &str,
    identity: &NodeIdentity,
    messages: &[Message],
) -> Result<(), String> {
    let channel = tls::channel(addr, tls::client_config(identity).unwrap(), true).unwrap();
    let messages = messages.iter().map(encode_message).collect();
    RawClient::new(channel)
        .raft(RaftBatch { messages })
        .await
        .map(|_| ())
        .map_err(|status| status.message().to_owned())
}

/// Member `i`'s raft id.
fn raft_id(bed: &Bed, i: usize) -> u64 {
    LocalState::load(&bed.members[i].root)
        .unwrap()
        .raft_id
        .unwrap()
}

/// A heartbeat response from raft id `from` to `to` with no term: a leader notes the peer as
/// active, a follower ignores it.
fn heartbeat_response(from: u64, to: u64) -> Message {
    Message {
        msg_type: MessageType::MsgHeartbeatResponse as i32,
        from,
        to,
        ..Message::default()
    }
}

/// Every api a node certificate can call, through `addr` as `identity`: the errors, by api.
async fn every_api(addr: &str, identity: &NodeIdentity, node_id: &str) -> Vec<(String, String)> {
    let client = ManagerClient::new(addr, identity).unwrap();
    let answers = [
        ("read", client.read("kind:node").await.map(drop)),
        (
            "write",
            client.write(&config("by-a-stranger")).await.map(drop),
        ),
        ("status", client.status().await.map(drop)),
        ("heartbeat", client.heartbeat(node_id).await.map(drop)),
        ("renew", client.renew(identity).await.map(drop)),
    ];
    let mut errors: Vec<(String, String)> = answers
        .into_iter()
        .map(|(api, answer)| {
            let error = answer.map_or_else(|e| e.to_string(), |()| "succeeded".to_owned());
            (api.to_owned(), error)
        })
        .collect();
    let raft = raft_call(addr, identity).await;
    errors.push(("raft".to_owned(), raft.err().unwrap_or("succeeded".into())));
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_managers_old_certificate_is_refused_and_a_removed_node_is_locked_out() {
    let mut bed = blocking(|| Bed::cluster(bin(), 3));
    let victim = 2;
    let victim_id = bed.node_id(victim);
    // A copy of the manager's certificate and key, kept before the demotion.
    let old = identity(&bed, victim);
    assert_eq!(old.identity().unwrap().role, NodeRole::Manager);
    let addrs: Vec<String> = (0..2).map(|i| bed.members[i].addr.clone()).collect();
    for addr in &addrs {
        let before = ManagerClient::new(addr, &old).unwrap();
        before.read("kind:node").await.unwrap();
        raft_call(addr, &old).await.unwrap();
    }

    let (done, out, err) = blocking(|| bed.bosun(0, &["node", "demote", &victim_id]));
    assert!(done, "demote failed: {out}{err}");
    assert!(
        blocking(|| testbed::wait_certificate_role(
            &bed,
            victim,
            NodeRole::Worker,
            Duration::from_secs(15)
        )),
        "{}",
        bed.log(victim)
    );
    converged(&bed, &[0, 1], Duration::from_secs(10)).await;
    let demoted =
        format!("node {victim_id} was demoted to a worker: workers cannot call the manager api");
    for addr in &addrs {
        let client = ManagerClient::new(addr, &old).unwrap();
        let read = client.read("kind:node").await.unwrap_err().to_string();
        assert_eq!(read, demoted, "read through {addr}");
        let write = client.write(&config("by-the-demoted")).await.unwrap_err();
        assert_eq!(write.to_string(), demoted, "write through {addr}");
        assert_eq!(
            raft_call(addr, &old).await.unwrap_err(),
            demoted,
            "raft through {addr}"
        );
        // Node calls stay open to it: it is still a worker of the cluster.
        client.heartbeat(&victim_id).await.unwrap();
    }
    // Its new worker certificate is refused by its role, as any worker's.
    let worker = identity(&bed, victim);
    let as_worker = ManagerClient::new(&addrs[0], &worker).unwrap();
    let err = as_worker.read("kind:node").await.unwrap_err().to_string();
    assert!(
        err.ends_with("workers cannot call the manager api"),
        "{err}"
    );

    // Removed: every certificate it ever had is refused on every api, by every manager.
    blocking(|| bed.kill(victim));
    let (done, out, err) = blocking(|| bed.bosun(0, &["node", "rm", "--force", &victim_id]));
    assert!(done, "rm failed: {out}{err}");
    converged(&bed, &[0, 1], Duration::from_secs(10)).await;
    let removed = format!("node {victim_id} was removed from the cluster");
    for addr in &addrs {
        for certificate in [&old, &worker] {
            for (api, error) in every_api(addr, certificate, &victim_id).await {
                assert_eq!(error, removed, "{api} through {addr}");
            }
        }
    }
    // The managers still serve each other and their own certificates.
    bed.client(1).write(&config("after-removal")).await.unwrap();
    let (data, _) = bed.client(0).read("kind:node").await.unwrap();
    let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_cannot_send_raft_messages_in_another_managers_name() {
    let bed = blocking(|| Bed::cluster(bin(), 3));
    let sender = 1;
    let certificate = identity(&bed, sender);
    let (sender_id, sender_raft) = (bed.node_id(sender), raft_id(&bed, sender));
    for target in [0, 2] {
        let addr = &bed.members[target].addr;
        let to = raft_id(&bed, target);
        for claimed in [0, 2] {
            let (claimed_id, claimed_raft) = (bed.node_id(claimed), raft_id(&bed, claimed));
            let forged = heartbeat_response(claimed_raft, to);
            let refused = raft_batch(addr, &certificate, &[forged.clone(), forged.clone()])
                .await
                .unwrap_err();
            assert_eq!(
                refused,
                format!(
                    "node {sender_id} (raft id {sender_raft}) cannot send raft messages as raft id \
                     {claimed_raft}: it is the raft id of node {claimed_id}"
                ),
                "to member {target}"
            );
            // Mixed with its own messages, the forged one is dropped and the rest delivered.
            let own = heartbeat_response(sender_raft, to);
            raft_batch(addr, &certificate, &[forged, own])
                .await
                .unwrap_or_else(|e| panic!("own message to member {target}: {e}"));
        }
    }
    // The cluster kept serving, with the sender among its managers.
    for i in 0..3 {
        let id = format!("after-forged-raft-{i}");
        bed.client(i).write(&config(&id)).await.unwrap();
    }
    converged(&bed, &[0, 1, 2], Duration::from_secs(10)).await;
    let log: String = [0, 2]
        .map(|i| std::fs::read_to_string(bed.members[i].root.join("cluster/manager.log")).unwrap())
        .concat();
    assert!(
        log.contains(&format!(
            "node {sender_id} (raft id {sender_raft}) cannot send raft messages as raft id"
        )),
        "no warning logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_right_after_the_leader_is_killed_returns_the_latest_write() {
    let mut bed = blocking(|| Bed::cluster(bin(), 3));
    for round in 0..3 {
        let leader = leader_index(&bed, 0).await;
        let id = format!("written-before-kill-{round}");
        bed.client(leader).write(&config(&id)).await.unwrap();
        blocking(|| bed.kill(leader));
        // One read through each survivor, started at once: each waits for the new leader
        // (within the api's timeout) rather than failing, and sees the acknowledged write.
        let reads: Vec<_> = (0..3)
            .filter(|i| *i != leader)
            .map(|i| {
                let client = bed.client(i);
                let query = format!("key:config/{id}");
                tokio::spawn(async move { (i, client.read(&query).await) })
            })
            .collect();
        for read in reads {
            let (i, answer) = read.await.unwrap();
            let (data, _) =
                answer.unwrap_or_else(|e| panic!("read through {i}: {e}\n{}", bed.log(i)));
            let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
            assert!(
                matches!(records.as_slice(), [Record::Config(blob)] if blob.meta.id == id),
                "read through {i} after round {round}: {records:?}"
            );
        }
        blocking(|| bed.restart(leader));
        converged(&bed, &[0, 1, 2], Duration::from_secs(20)).await;
    }
}
