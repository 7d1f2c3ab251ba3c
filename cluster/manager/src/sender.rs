//! The raft transport's sender check: every raft message a manager receives must carry, as
//! `from`, the raft id the store assigns to the node whose certificate made the call (CN =
//! node id), so no manager can speak in another manager's name. Messages claiming another
//! node's raft id, or the id of a manager since removed or demoted, are dropped and counted;
//! a batch of nothing else is refused. An id the store has not handed out yet passes: the
//! caller may have joined or been promoted a moment ago, ahead of this store.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cluster_raft::eraftpb::Message;
use tonic::Status;

use super::roster::{Claim, Roster};

/// A message dropped by the sender check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The raft id the message claimed to come from.
    pub from: u64,
    /// What the store says of that id for this caller (never [`Claim::Own`] or
    /// [`Claim::Fresh`]).
    pub claim: Claim,
}

/// A batch of raft messages split by the sender check.
#[derive(Debug, Default)]
pub(crate) struct Screened {
    /// The messages the caller may send, in their order.
    pub kept: Vec<Message>,
    /// The messages sent in another node's name.
    pub dropped: Vec<Dropped>,
}

/// Splits `messages` sent by node `caller` into those it may send and those it may not, as
/// `roster` says.
pub(crate) fn screen(roster: &Roster, caller: &str, messages: Vec<Message>) -> Screened {
    let mut screened = Screened::default();
    for message in messages {
        match roster.claim(caller, message.from) {
            Claim::Own | Claim::Fresh => screened.kept.push(message),
            claim => screened.dropped.push(Dropped {
                from: message.from,
                claim,
            }),
        }
    }
    screened
}

/// Why `dropped` was refused, naming the caller's raft id and the one it claimed.
pub(crate) fn describe(roster: &Roster, caller: &str, dropped: &Dropped) -> String {
    let own = match roster.raft_id_of(caller) {
        Some(id) => format!("raft id {id}"),
        None => "no raft id in the cluster state yet".to_owned(),
    };
    let whose = match &dropped.claim {
        Claim::Foreign(owner) => format!("it is the raft id of node {owner}"),
        Claim::Retired => "it belonged to a manager since removed or demoted".to_owned(),
        Claim::Own | Claim::Fresh => "it is not this node's".to_owned(),
    };
    format!(
        "node {caller} ({own}) cannot send raft messages as raft id {}: {whose}",
        dropped.from
    )
}

/// The refusal of a batch in which every message was sent in another node's name, or `None`
/// when the batch keeps a message (or held none).
pub(crate) fn refusal(roster: &Roster, caller: &str, screened: &Screened) -> Option<Status> {
    match (screened.kept.is_empty(), screened.dropped.first()) {
        (true, Some(first)) => Some(Status::permission_denied(describe(roster, caller, first))),
        _ => None,
    }
}

/// The raft messages this manager dropped because their `from` was not their caller's: a
/// count, and a warning logged once per caller.
#[derive(Debug, Default)]
pub(crate) struct ForeignSenders {
    dropped: AtomicU64,
    /// The callers already warned about. A std mutex: never held across an await.
    warned: Mutex<HashSet<String>>,
}

impl ForeignSenders {
    /// How many raft messages were dropped since this manager started.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts `dropped`, sent by node `caller`, and warns the first time `caller` does so;
    /// answers whether it warned.
    pub(crate) fn record(&self, roster: &Roster, caller: &str, dropped: &[Dropped]) -> bool {
        let Some(first) = dropped.first() else {
            return false;
        };
        let total = self
            .dropped
            .fetch_add(dropped.len() as u64, Ordering::Relaxed)
            + dropped.len() as u64;
        let first_time = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(caller.to_owned());
        let reason = describe(roster, caller, first);
        if first_time {
            tracing::warn!(
                node = %caller,
                messages = dropped.len(),
                total,
                "dropped raft messages sent in another node's name: {reason} (later drops from this node are only counted)"
            );
        } else {
            tracing::debug!(node = %caller, messages = dropped.len(), total, "dropped raft messages: {reason}");
        }
        first_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::{Availability, Meta, Node, NodeRole, NodeState, Record, Store};

    fn manager(id: &str, raft_id: Option<u64>) -> Record {
        Record::Node(Node {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            hostname: id.to_owned(),
            addr: String::new(),
            role: if raft_id.is_some() {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            },
            raft_id,
            availability: Availability::Active,
            state: NodeState::Ready,
            desired_role: None,
            demoted_at_ms: None,
            platform: Default::default(),
            resources: Default::default(),
        })
    }

    /// Managers `one` (raft id 1) and `three` (3); raft id 2 was removed, `four` was demoted
    /// from raft id 4; ids from 5 on were never handed out.
    fn roster() -> Roster {
        let info = crate::roster::tests::cluster_info(5, &["two"]);
        Roster::from_store(&Store::from_records([
            Record::Cluster(info),
            manager("one", Some(1)),
            manager("three", Some(3)),
            manager("four", None),
        ]))
    }

    fn message(from: u64) -> Message {
        Message {
            from,
            to: 1,
            ..Message::default()
        }
    }

    #[test]
    fn each_message_must_come_from_the_callers_raft_id() {
        let roster = roster();
        let foreign = |owner: &str| Claim::Foreign(owner.to_owned());
        let cases: [(&str, u64, Claim); 10] = [
            ("three", 3, Claim::Own),
            ("three", 1, foreign("one")),
            ("three", 2, Claim::Retired),
            ("three", 4, Claim::Retired),
            ("three", 0, Claim::Retired),
            // Promoted again here but not yet applied: a new raft id.
            ("four", 5, Claim::Fresh),
            ("four", 4, Claim::Retired),
            // Joined a moment ago: not in this store yet.
            ("stranger", 6, Claim::Fresh),
            ("stranger", 3, foreign("three")),
            ("stranger", 1, foreign("one")),
        ];
        for (caller, from, want) in cases {
            assert_eq!(
                roster.claim(caller, from),
                want,
                "{caller} as raft id {from}"
            );
        }
    }

    #[test]
    fn an_empty_store_lets_every_raft_id_through() {
        let roster = Roster::from_store(&Store::default());
        let screened = screen(&roster, "anyone", vec![message(1), message(7)]);
        assert_eq!(screened.kept.len(), 2);
        assert!(screened.dropped.is_empty());
    }

    #[test]
    fn foreign_messages_are_dropped_and_the_rest_kept_in_order() {
        let roster = roster();
        let batch = vec![message(3), message(1), message(3), message(2)];
        let screened = screen(&roster, "three", batch);
        let kept: Vec<u64> = screened.kept.iter().map(|m| m.from).collect();
        assert_eq!(kept, [3, 3]);
        let dropped: Vec<u64> = screened.dropped.iter().map(|d| d.from).collect();
        assert_eq!(dropped, [1, 2]);
        assert!(refusal(&roster, "three", &screened).is_none());
    }

    #[test]
    fn a_batch_of_only_foreign_messages_is_refused_naming_both_ids() {
        let roster = roster();
        let cases = [
            (
                "three",
                1,
                "node three (raft id 3) cannot send raft messages as raft id 1: it is the raft id of node one",
            ),
            (
                "stranger",
                2,
                "node stranger (no raft id in the cluster state yet) cannot send raft messages as raft id 2: it belonged to a manager since removed or demoted",
            ),
        ];
        for (caller, from, want) in cases {
            let screened = screen(&roster, caller, vec![message(from), message(from)]);
            let status = refusal(&roster, caller, &screened).expect("every message is foreign");
            assert_eq!(status.code(), tonic::Code::PermissionDenied);
            assert_eq!(status.message(), want);
        }
        let empty = screen(&roster, "three", Vec::new());
        assert!(refusal(&roster, "three", &empty).is_none());
    }

    #[test]
    fn drops_are_counted_per_message_and_warned_about_once_per_caller() {
        let roster = roster();
        let senders = ForeignSenders::default();
        let mut warned = Vec::new();
        for caller in ["three", "three", "one"] {
            let screened = screen(&roster, caller, vec![message(1), message(3), message(2)]);
            warned.push(senders.record(&roster, caller, &screened.dropped));
        }
        assert!(!senders.record(&roster, "stranger", &[]));
        assert_eq!(warned, [true, false, true]);
        assert_eq!(senders.dropped(), 6);
    }
}
