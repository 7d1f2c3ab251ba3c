//! Multi-process tests of the manager cluster: real `bosun` managers on loopback ports, each
//! with its own data root, faults by SIGKILL, SIGSTOP and restart.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::bin;

use std::time::{Duration, Instant};

use cluster_manager::ManagerClient;
use cluster_state::{Batch, Blob, Command, Meta, Record};
use nix::sys::signal::Signal;
use testbed::{Bed, config, leader_index, status_until, write_within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_managers_fail_over_refuse_without_quorum_and_agree_after_restart() {
    let mut bed = Bed::cluster(bin(), 3);
    let status = bed.client(0).status().await.unwrap();
    assert_eq!(status.members.len(), 3, "{status:?}");
    assert_eq!((status.quorum, status.tolerates), (2, 1));

    // Writes through the leader and through a follower (forwarded) both apply.
    let leader = leader_index(&bed, 0).await;
    let follower = (leader + 1) % 3;
    write_within(&bed.client(leader), "via-leader", Duration::from_secs(5)).await;
    write_within(
        &bed.client(follower),
        "via-follower",
        Duration::from_secs(5),
    )
    .await;
    let (data, _) = bed.client(follower).read("kind:config").await.unwrap();
    let text = String::from_utf8(data).unwrap();
    assert!(
        text.contains("via-leader") && text.contains("via-follower"),
        "{text}"
    );

    // Kill the leader: a new one is elected and writes resume within a few seconds.
    bed.kill(leader);
    let survivor = (leader + 1) % 3;
    let took = write_within(&bed.client(survivor), "after-kill", Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "failover took {took:?}");
    let new_leader = leader_index(&bed, survivor).await;
    assert_ne!(new_leader, leader);
    bed.restart(leader);
    write_within(
        &bed.client(leader),
        "after-restart",
        Duration::from_secs(10),
    )
    .await;

    // Pause one manager: the other two keep serving. Pause a second: the last one refuses
    // writes at once with the no-quorum error.
    let (a, b, c) = (new_leader, (new_leader + 1) % 3, (new_leader + 2) % 3);
    bed.signal(b, Signal::SIGSTOP);
    write_within(&bed.client(a), "two-of-three", Duration::from_secs(10)).await;
    bed.signal(a, Signal::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lonely = bed.client(c);
    let start = Instant::now();
    let err = lonely.write(&config("refused")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no quorum: 1 of 3 managers reachable (need 2)"
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    bed.signal(a, Signal::SIGCONT);
    bed.signal(b, Signal::SIGCONT);
    write_within(&bed.client(c), "healed", Duration::from_secs(15)).await;

    // Restart every manager: all come back with the same state.
    for i in 0..3 {
        bed.kill(i);
    }
    for i in 0..3 {
        bed.restart(i);
    }
    write_within(
        &bed.client(0),
        "after-full-restart",
        Duration::from_secs(15),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = Vec::new();
        for i in 0..3 {
            // A read on each manager waits until it applied everything committed before.
            let (hash, applied) = bed.client(i).read("hash").await.unwrap();
            seen.push((String::from_utf8(hash).unwrap(), applied));
        }
        if seen.iter().all(|s| *s == seen[0]) {
            let (data, _) = bed.client(2).read("kind:config").await.unwrap();
            let text = String::from_utf8(data).unwrap();
            for id in [
                "via-leader",
                "after-kill",
                "two-of-three",
                "healed",
                "after-full-restart",
            ] {
                assert!(text.contains(id), "{id} lost: {text}");
            }
            assert!(
                !text.contains("\"refused\""),
                "a refused write applied: {text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "managers disagree: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_foreign_ca_and_worker_certificates_are_refused() {
    let ours = Bed::cluster(bin(), 1);
    let theirs = Bed::cluster(bin(), 1);
    let addr = ours.members[0].addr.clone();
    let token = ours.token(0, "worker");

    // A token with this cluster's digest but a wrong secret.
    let digest = token.split('-').nth(2).unwrap();
    let forged = format!("BOSUN-1-{digest}-wrongsecretwrongsecret123");
    let err = ManagerClient::join(&addr, &forged, "h", "")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid join token: it matches none of this cluster's current join tokens"
    );

    // Another cluster's token: the joining node refuses our manager's CA.
    let foreign = theirs.token(0, "manager");
    let err = ManagerClient::join(&addr, &foreign, "h", "")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the join token's ca digest"),
        "{err}"
    );

    // A manager certificate of the other cluster is refused by TLS.
    let theirs_identity =
        cluster_manager::pki::NodeIdentity::load(&theirs.members[0].root.join("cluster")).unwrap();
    let stranger = ManagerClient::new(&addr, &theirs_identity).unwrap();
    assert!(stranger.status().await.is_err());

    // A worker certificate of this cluster may not call the manager API.
    let worker = ManagerClient::join(&addr, &token, "w1", "").await.unwrap();
    assert_eq!(worker.role, "worker");
    let as_worker = ManagerClient::new(&addr, &worker.identity).unwrap();
    let err = as_worker.write(&config("x")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("workers cannot call the manager api"),
        "{err}"
    );

    // Rotating the worker token invalidates the old one.
    let (ok, _, _) = ours.bosun(0, &["cluster", "join-token", "worker", "--rotate", "-q"]);
    assert!(ok);
    let err = ManagerClient::join(&addr, &token, "w2", "")
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid join token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_guards_and_force_new_cluster() {
    let mut bed = Bed::cluster(bin(), 3);
    write_within(&bed.client(0), "before", Duration::from_secs(5)).await;
    // With one manager down, removing another would leave 1 of 2: refused.
    bed.kill(2);
    let status = status_until(
        &bed,
        0,
        "manager 2 seen down",
        Duration::from_secs(10),
        |s| s.tolerates == 0,
    )
    .await;
    let target = status
        .members
        .iter()
        .find(|m| m.raft_id == 2)
        .unwrap()
        .node_id
        .clone();
    let err = bed
        .client(0)
        .change_role(&target, "worker")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot remove manager 2: 1 of the 2 remaining managers would be reachable (need 2)"
    );
    // Lose quorum, then rebuild a one-manager cluster from the survivor with its state.
    bed.kill(1);
    bed.kill(0);
    let (ok, out, err) = bed.bosun(0, &["cluster", "init", "--force-new-cluster"]);
    assert!(ok, "{out}{err}");
    bed.record_pid(0);
    let status = bed.client(0).status().await.unwrap();
    assert_eq!(status.members.len(), 1, "{status:?}");
    let (data, _) = bed.client(0).read("kind:config").await.unwrap();
    assert!(String::from_utf8(data).unwrap().contains("before"));
    write_within(&bed.client(0), "after-rebuild", Duration::from_secs(5)).await;
    let (ok, _, err) = bed.bosun(0, &["cluster", "status"]);
    assert!(ok, "{err}");
}

fn secret(id: &str, data: &[u8]) -> Batch {
    Batch::new(
        0,
        vec![Command::Create(Record::Secret(Blob {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            name: id.to_owned(),
            data: data.to_vec(),
        }))],
    )
}

/// Whether `haystack` holds `data` as raw bytes or as the json number list records use.
fn holds(haystack: &[u8], data: &[u8]) -> bool {
    let json = serde_json::to_vec(&data.to_vec()).unwrap();
    let json = &json[1..json.len() - 1];
    haystack.windows(data.len()).any(|w| w == data)
        || haystack.windows(json.len()).any(|w| w == json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_sealed_in_the_log_records_and_snapshots() {
    let early = b"early-secret-payload-7d1f".as_slice();
    let late = b"late-secret-payload-93ab".as_slice();
    let public = b"public-config-payload-51c2".as_slice();
    let mut bed = Bed::new(bin(), 2);
    bed.init();
    bed.client(0).write(&secret("early", early)).await.unwrap();
    let mut plain = config("plain");
    if let Command::Create(Record::Config(blob)) = &mut plain.commands[0] {
        blob.data = public.to_vec();
    }
    bed.client(0).write(&plain).await.unwrap();
    // The second manager receives the first secret in the leader's snapshot.
    bed.join(1);
    bed.client(1).write(&secret("late", late)).await.unwrap();
    converged_hashes(&bed, 2).await;

    let (data, _) = bed.client(1).read("kind:secret").await.unwrap();
    let records: Vec<Record> = serde_json::from_slice(&data).unwrap();
    let payloads: Vec<Vec<u8>> = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Secret(blob) => Some(blob.data),
            _ => None,
        })
        .collect();
    assert_eq!(payloads, vec![early.to_vec(), late.to_vec()]);

    for member in &bed.members {
        let db = std::fs::read(member.root.join("cluster/raft.redb")).unwrap();
        // The check would see a payload: the unsealed config is there.
        assert!(holds(&db, public), "{} lacks the config", member.addr);
        for payload in [early, late] {
            assert!(
                !holds(&db, payload),
                "{} holds a secret in clear",
                member.addr
            );
        }
        assert!(
            !holds(&db, b"PRIVATE KEY"),
            "{} holds the ca key in clear",
            member.addr
        );
    }
}

/// Waits until `n` managers report the same state hash by linearizable reads.
async fn converged_hashes(bed: &Bed, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = Vec::new();
        for i in 0..n {
            seen.push(bed.client(i).read("hash").await.ok().map(|(h, _)| h));
        }
        if seen[0].is_some() && seen.iter().all(|s| *s == seen[0]) {
            return;
        }
        assert!(Instant::now() < deadline, "managers disagree: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn not_after(bed: &Bed, i: usize) -> i64 {
    let dir = bed.members[i].root.join("cluster");
    let identity = cluster_manager::pki::NodeIdentity::load(&dir).unwrap();
    identity.identity().unwrap().not_after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_renew_before_expiry_without_dropping_connections() {
    // 20 s certificates: each manager renews between 10 s and 16 s after issue.
    let mut bed = Bed::new(bin(), 2);
    bed.init_with(&["--cert-expiry", "20s"]);
    bed.join(1);
    let issued = Instant::now();
    let first = [not_after(&bed, 0), not_after(&bed, 1)];
    // A connection opened now, with the first certificate of member 0.
    let early = bed.client(0);
    early.read("kind:node").await.unwrap();

    let mut k = 0;
    while [not_after(&bed, 0), not_after(&bed, 1)]
        .iter()
        .zip(&first)
        .any(|(now, before)| now == before)
    {
        assert!(
            issued.elapsed() < Duration::from_secs(19),
            "certificates not renewed before expiry"
        );
        write_within(&bed.client(0), &format!("w{k}"), Duration::from_secs(5)).await;
        k += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let renewed_at = issued.elapsed();
    assert!(
        renewed_at >= Duration::from_secs(8),
        "renewed at {renewed_at:?}"
    );

    // Past the first certificates' expiry: the connection opened with them still works, and
    // fresh handshakes between the managers (member 1 restarted) use the renewed ones.
    let expiry = Duration::from_secs(21);
    tokio::time::sleep(expiry.saturating_sub(issued.elapsed())).await;
    early.read("kind:node").await.unwrap();
    bed.kill(1);
    bed.restart(1);
    write_within(&bed.client(1), "after-expiry", Duration::from_secs(10)).await;
    converged_hashes(&bed, 2).await;
}
