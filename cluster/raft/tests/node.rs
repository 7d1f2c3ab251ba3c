//! The node driver over real storage, with messages delivered at once between nodes that are
//! not cut off: elections, acknowledged writes, quorum errors, restarts from disk, snapshot
//! catch-up of a new manager, membership guards and linearizable reads.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use cluster_raft::eraftpb::{Message, MessageType};
use cluster_raft::{
    Event, MembershipChange, MembershipError, NodeConfig, ProposeError, RaftNode, ReadId, Ticket,
    WriteError,
};
use cluster_state::{Batch, Command, Kind, Meta, Record, RecordKey, Volume};

struct Cluster {
    dir: tempfile::TempDir,
    nodes: BTreeMap<u64, RaftNode>,
    cut: BTreeSet<u64>,
    events: BTreeMap<u64, Vec<Event>>,
    snapshot_interval: u64,
}

fn config(id: u64, snapshot_interval: u64) -> NodeConfig {
    let mut config = NodeConfig::new(id);
    config.election_ticks = 4 + 2 * id as usize;
    config.randomized_election = false;
    config.snapshot_interval = snapshot_interval;
    config.catchup_entries = 1;
    config
}

fn volume(id: &str) -> Batch {
    Batch::new(
        1_000,
        vec![Command::Create(Record::Volume(Volume {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            name: format!("vol-{id}"),
            driver: "local".to_owned(),
        }))],
    )
}

impl Cluster {
    fn new(n: u64, snapshot_interval: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let voters: Vec<u64> = (1..=n).collect();
        let mut nodes = BTreeMap::new();
        for id in 1..=n {
            let path = dir.path().join(id.to_string());
            std::fs::create_dir_all(&path).unwrap();
            let node = RaftNode::bootstrap(config(id, snapshot_interval), &path, &voters).unwrap();
            nodes.insert(id, node);
        }
        Cluster {
            dir,
            nodes,
            cut: BTreeSet::new(),
            events: BTreeMap::new(),
            snapshot_interval,
        }
    }

    /// Processes every node's Ready and delivers messages until the network is quiet.
    fn settle(&mut self) {
        for _ in 0..1_000 {
            let mut outbox: Vec<Message> = Vec::new();
            for node in self.nodes.values_mut() {
                node.process_ready(&mut |msgs| outbox.extend(msgs)).unwrap();
                self.events
                    .entry(node.id())
                    .or_default()
                    .extend(node.take_events());
            }
            if outbox.is_empty() {
                return;
            }
            for message in outbox {
                let (from, to) = (message.from, message.to);
                let lost = self.cut.contains(&from) || self.cut.contains(&to);
                let snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
                match self.nodes.get_mut(&to) {
                    Some(node) if !lost => node.step(message).unwrap(),
                    _ => {}
                }
                if snapshot {
                    if let Some(sender) = self.nodes.get_mut(&from) {
                        sender.report_snapshot(to, !lost);
                    }
                }
            }
        }
        panic!("network never settled");
    }

    fn tick(&mut self, ticks: usize) {
        for _ in 0..ticks {
            for node in self.nodes.values_mut() {
                node.tick();
            }
            self.settle();
        }
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .values()
            .find(|n| n.is_leader() && !self.cut.contains(&n.id()))
            .map(RaftNode::id)
    }

    fn elect(&mut self) -> u64 {
        for _ in 0..100 {
            if let Some(leader) = self.leader() {
                return leader;
            }
            self.tick(1);
        }
        panic!("no leader elected");
    }

    fn node(&mut self, id: u64) -> &mut RaftNode {
        self.nodes.get_mut(&id).unwrap()
    }

    fn outcome(&self, id: u64, ticket: Ticket) -> Option<Result<(), WriteError>> {
        self.events.get(&id)?.iter().find_map(|e| match e {
            Event::Proposal { ticket: t, outcome } if *t == ticket => Some(outcome.clone()),
            _ => None,
        })
    }

    /// Proposes on the leader and waits for the acknowledgement.
    fn write(&mut self, batch: &Batch) -> Ticket {
        let leader = self.elect();
        let ticket = self.node(leader).propose(batch).unwrap();
        for _ in 0..50 {
            self.settle();
            if let Some(outcome) = self.outcome(leader, ticket) {
                outcome.unwrap();
                return ticket;
            }
            self.tick(1);
        }
        panic!("write never acknowledged");
    }

    fn hashes(&self) -> BTreeSet<String> {
        self.nodes
            .values()
            .map(|n| n.store().state_hash())
            .collect()
    }

    fn restart_all(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        self.nodes.clear();
        for id in ids {
            let path = self.dir.path().join(id.to_string());
            let node = RaftNode::open(config(id, self.snapshot_interval), &path).unwrap();
            self.nodes.insert(id, node);
        }
    }
}

#[test]
fn a_write_is_acknowledged_and_applied_on_every_manager() {
    let mut cluster = Cluster::new(3, 1_000);
    let ticket = cluster.write(&volume("v1"));
    cluster.tick(2);
    let key = RecordKey::new(Kind::Volume, "v1");
    for node in cluster.nodes.values() {
        let record = node.store().get(&key).expect("volume on every manager");
        assert_eq!(record.meta().version, ticket.index);
        assert_eq!(record.meta().created_at_ms, 1_000);
    }
    assert_eq!(cluster.hashes().len(), 1);
}

#[test]
fn a_follower_names_the_leader_and_a_refused_batch_reports_why() {
    let mut cluster = Cluster::new(3, 1_000);
    let leader = cluster.elect();
    cluster.tick(2);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let err = cluster.node(follower).propose(&volume("v1")).unwrap_err();
    assert_eq!(err, ProposeError::NotLeader { leader });
    cluster.write(&volume("v1"));
    let ticket = cluster.node(leader).propose(&volume("v1")).unwrap();
    cluster.tick(2);
    let outcome = cluster.outcome(leader, ticket).unwrap();
    assert_eq!(outcome.unwrap_err().to_string(), "volume/v1 already exists");
}

#[test]
fn an_isolated_manager_refuses_writes_with_the_no_quorum_error() {
    let mut cluster = Cluster::new(3, 1_000);
    let old = cluster.elect();
    cluster.tick(2);
    cluster.cut.insert(old);
    // check_quorum makes the isolated leader step down; the majority elects a new one.
    cluster.tick(30);
    assert!(!cluster.node(old).is_leader());
    let err = cluster.node(old).propose(&volume("v1")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no quorum: 1 of 3 managers reachable (need 2)"
    );
    let read = cluster.node(old).read_index().unwrap_err();
    assert_eq!(
        read.to_string(),
        "no quorum: 1 of 3 managers reachable (need 2)"
    );
    let new = cluster.leader().expect("majority elects a leader");
    assert_ne!(new, old);
    cluster.write(&volume("v2"));
    cluster.cut.clear();
    cluster.tick(30);
    assert_eq!(cluster.hashes().len(), 1, "the old leader catches up");
}

#[test]
fn a_pending_write_fails_when_its_leader_loses_leadership() {
    let mut cluster = Cluster::new(3, 1_000);
    let leader = cluster.elect();
    cluster.tick(2);
    cluster.cut.insert(leader);
    let ticket = cluster.node(leader).propose(&volume("v1")).unwrap();
    cluster.tick(30);
    assert_eq!(
        cluster.outcome(leader, ticket),
        Some(Err(WriteError::LeadershipLost))
    );
    cluster.cut.clear();
    cluster.tick(30);
    let key = RecordKey::new(Kind::Volume, "v1");
    assert!(
        cluster
            .nodes
            .values()
            .all(|n| n.store().get(&key).is_none())
    );
}

#[test]
fn restart_resumes_from_the_persisted_applied_index() {
    let mut cluster = Cluster::new(3, 4);
    for i in 0..10 {
        cluster.write(&volume(&format!("v{i}")));
    }
    cluster.tick(3);
    let before: BTreeMap<u64, (u64, String)> = cluster
        .nodes
        .values()
        .map(|n| (n.id(), (n.storage().applied(), n.store().state_hash())))
        .collect();
    assert!(
        cluster
            .nodes
            .values()
            .all(|n| n.storage().compacted().0 > 1)
    );
    cluster.restart_all();
    let after: BTreeMap<u64, (u64, String)> = cluster
        .nodes
        .values()
        .map(|n| (n.id(), (n.storage().applied(), n.store().state_hash())))
        .collect();
    assert_eq!(before, after);
    cluster.write(&volume("after-restart"));
    cluster.tick(3);
    assert_eq!(cluster.hashes().len(), 1);
    for node in cluster.nodes.values() {
        assert_eq!(node.store().iter_kind(Kind::Volume).count(), 11);
    }
}

#[test]
fn a_new_manager_catches_up_from_a_snapshot() {
    let mut cluster = Cluster::new(3, 4);
    for i in 0..12 {
        cluster.write(&volume(&format!("v{i}")));
    }
    let leader = cluster.elect();
    assert!(cluster.node(leader).storage().compacted().0 > 5);
    let ticket = cluster
        .node(leader)
        .propose_membership(MembershipChange::AddManager(4))
        .unwrap();
    let path = cluster.dir.path().join("4");
    std::fs::create_dir_all(&path).unwrap();
    let newcomer = RaftNode::open(config(4, 4), &path).unwrap();
    assert!(!newcomer.storage().is_initialized());
    cluster.nodes.insert(4, newcomer);
    cluster.tick(10);
    assert_eq!(cluster.outcome(leader, ticket), Some(Ok(())));
    assert_eq!(cluster.node(4).voters(), BTreeSet::from([1, 2, 3, 4]));
    assert!(
        cluster.node(4).storage().compacted().0 > 5,
        "installed a snapshot"
    );
    cluster.write(&volume("after-join"));
    cluster.tick(3);
    assert_eq!(cluster.hashes().len(), 1);
    assert_eq!(cluster.node(4).store().iter_kind(Kind::Volume).count(), 13);
}

#[test]
fn removal_is_guarded_and_removed_ids_are_never_reused() {
    let mut cluster = Cluster::new(3, 1_000);
    let leader = cluster.elect();
    cluster.tick(2);
    let mut followers = (1..=3).filter(|id| *id != leader);
    let (victim, other) = (followers.next().unwrap(), followers.next().unwrap());

    // With `other` unreachable, removing `victim` would leave 1 of 2 managers reachable.
    cluster.cut.insert(other);
    cluster.tick(12);
    assert!(cluster.node(leader).is_leader(), "2 of 3 keep the leader");
    let err = cluster
        .node(leader)
        .propose_membership(MembershipChange::RemoveManager(victim))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot remove manager {victim}: 1 of the 2 remaining managers would be reachable (need 2)"
        )
    );
    cluster.cut.clear();
    cluster.tick(3);

    let ticket = cluster
        .node(leader)
        .propose_membership(MembershipChange::RemoveManager(victim))
        .unwrap();
    cluster.tick(3);
    assert_eq!(cluster.outcome(leader, ticket), Some(Ok(())));
    assert!(cluster.events[&victim].contains(&Event::Removed));
    assert_eq!(
        cluster.node(leader).voters(),
        BTreeSet::from([leader, other])
    );
    assert_eq!(
        cluster
            .node(leader)
            .propose_membership(MembershipChange::AddManager(victim))
            .unwrap_err(),
        ProposeError::Membership(MembershipError::IdRemoved(victim))
    );
    // The removed id stays refused after a restart.
    cluster.nodes.remove(&victim);
    cluster.restart_all();
    let leader = cluster.elect();
    assert!(
        cluster
            .node(leader)
            .storage()
            .removed_ids()
            .contains(&victim)
    );
    assert_eq!(
        cluster
            .node(leader)
            .propose_membership(MembershipChange::AddManager(victim))
            .unwrap_err(),
        ProposeError::Membership(MembershipError::IdRemoved(victim))
    );
}

#[test]
fn reads_complete_once_the_store_has_every_earlier_write() {
    let mut cluster = Cluster::new(3, 1_000);
    let leader = cluster.elect();
    cluster.write(&volume("v1"));
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let on_leader = cluster.node(leader).read_index().unwrap();
    let on_follower = cluster.node(follower).read_index().unwrap();
    cluster.tick(2);
    let ready = |cluster: &Cluster, id: u64, read: ReadId| {
        cluster.events[&id].contains(&Event::ReadReady(read))
    };
    assert!(ready(&cluster, leader, on_leader));
    assert!(ready(&cluster, follower, on_follower));
    let key = RecordKey::new(Kind::Volume, "v1");
    assert!(cluster.node(follower).store().get(&key).is_some());
}

#[test]
fn a_read_on_a_leader_elected_just_now_completes_once_its_term_commits() {
    let mut cluster = Cluster::new(3, 1_000);
    let old = cluster.elect();
    cluster.write(&volume("v1"));
    let next = (1..=3).find(|id| *id != old).unwrap();
    cluster.node(old).transfer_leader(next);
    // Deliver messages one round at a time until `next` wins, before it commits anything.
    let mut read = None;
    for _ in 0..20 {
        let mut outbox: Vec<Message> = Vec::new();
        for node in cluster.nodes.values_mut() {
            node.process_ready(&mut |msgs| outbox.extend(msgs)).unwrap();
            let events = node.take_events();
            cluster.events.entry(node.id()).or_default().extend(events);
        }
        for message in outbox {
            let to = message.to;
            cluster.node(to).step(message).unwrap();
            if to == next && cluster.node(next).is_leader() && read.is_none() {
                read = Some(cluster.node(next).read_index().unwrap());
            }
        }
        if read.is_some() {
            break;
        }
    }
    let read = read.expect("leadership moved to the transferee");
    cluster.tick(3);
    assert!(
        cluster.events[&next].contains(&Event::ReadReady(read)),
        "{:?}",
        cluster.events[&next]
    );
}

#[test]
fn a_follower_read_sent_to_a_leader_that_died_completes_through_the_next_leader() {
    let mut cluster = Cluster::new(3, 1_000);
    let old = cluster.elect();
    cluster.write(&volume("v1"));
    let follower = (1..=3).find(|id| *id != old).unwrap();
    // The follower still knows the old leader: its request goes there and is lost.
    cluster.cut.insert(old);
    let read = cluster.node(follower).read_index().unwrap();
    cluster.tick(20);
    let new = cluster.leader().expect("the majority elects a new leader");
    assert_ne!(new, old);
    let events = &cluster.events[&follower];
    assert!(events.contains(&Event::ReadReady(read)), "{events:?}");
    assert!(!events.contains(&Event::ReadFailed(read)), "{events:?}");
    let key = RecordKey::new(Kind::Volume, "v1");
    assert!(cluster.node(follower).store().get(&key).is_some());
}

#[test]
fn a_read_no_leader_confirms_fails_after_a_few_election_timeouts() {
    let mut cluster = Cluster::new(3, 1_000);
    let leader = cluster.elect();
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    cluster.cut.insert(follower);
    let read = cluster.node(follower).read_index().unwrap();
    cluster.tick(10);
    assert!(
        !cluster.events[&follower].contains(&Event::ReadFailed(read)),
        "failed before its time"
    );
    cluster.tick(100);
    let events = &cluster.events[&follower];
    assert!(events.contains(&Event::ReadFailed(read)), "{events:?}");
    assert!(!events.contains(&Event::ReadReady(read)), "{events:?}");
}
