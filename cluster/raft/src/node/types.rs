//! What a node hands back to its driver: tickets for proposals, events, and errors.

use crate::membership::{MembershipError, NoQuorum};
use crate::storage::StorageError;
use cluster_state::ApplyError;

/// Where a proposal was placed in the leader's log. It is acknowledged only when the entry
/// at `index` applies with the same `term`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket {
    /// Log index of the proposed entry.
    pub index: u64,
    /// Term in which it was proposed.
    pub term: u64,
}

/// Identifies one linearizable read request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId(pub u64);

/// Why a write (or read) was not accepted at all. Nothing was proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Another manager leads; forward the request to it.
    #[error("not the leader: manager {leader} is")]
    NotLeader {
        /// Raft id of the leader.
        leader: u64,
    },
    /// An election is under way with a quorum reachable; retry shortly.
    #[error("no leader elected yet")]
    NoLeader,
    /// Too few managers reachable.
    #[error(transparent)]
    NoQuorum(#[from] NoQuorum),
    /// A refused membership change.
    #[error(transparent)]
    Membership(#[from] MembershipError),
    /// Another membership change is still in progress.
    #[error("another membership change is in progress")]
    MembershipBusy,
    /// raft-rs dropped the proposal (for example during a leadership transfer).
    #[error("proposal dropped by raft: {0}")]
    Dropped(String),
    /// The batch could not be encoded.
    #[error("cannot encode proposal: {0}")]
    Encode(String),
}

/// Why a proposal that was accepted did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The entry was committed but the store refused it; nothing changed.
    #[error(transparent)]
    Refused(#[from] ApplyError),
    /// Another leader overwrote the entry: it was not applied.
    #[error("write at index {index} was overwritten by a new leader and not applied")]
    Overwritten {
        /// Index of the lost entry.
        index: u64,
    },
    /// This node lost leadership before the entry applied: it may or may not apply later.
    #[error("leadership lost before the write was committed; it may or may not apply")]
    LeadershipLost,
    /// raft-rs replaced a membership change with an empty entry (another one was pending).
    #[error("membership change was dropped because another one was pending")]
    MembershipDropped,
    /// The entry's data could not be decoded; every manager refuses it alike.
    #[error("undecodable entry at index {index}")]
    Undecodable {
        /// Index of the entry.
        index: u64,
    },
}

/// Something the driver should react to, produced while processing a Ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A proposal finished: applied (acknowledged) or failed.
    Proposal {
        /// The proposal's ticket.
        ticket: Ticket,
        /// Its outcome.
        outcome: Result<(), WriteError>,
    },
    /// A read may now be served from the local store: it reflects every write committed
    /// before the read was issued.
    ReadReady(ReadId),
    /// A read could not be confirmed (leadership changed); retry it.
    ReadFailed(ReadId),
    /// Leadership changed.
    LeaderChanged {
        /// The new leader, if known.
        leader: Option<u64>,
        /// The current term.
        term: u64,
    },
    /// This node was removed from the cluster's managers.
    Removed,
    /// An entry was applied (only with [`crate::NodeConfig::observe_applied`]).
    Applied(raft::eraftpb::Entry),
}

/// A failure of the node itself. After a storage error the node must be dropped and reopened
/// from its storage (its in-memory state may be ahead of the disk).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The durable storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// raft-rs refused an operation.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// A snapshot from the leader could not be decoded.
    #[error("cannot decode snapshot at index {index}: {source}")]
    Snapshot {
        /// Snapshot index.
        index: u64,
        /// The json error.
        #[source]
        source: serde_json::Error,
    },
    /// A committed membership change could not be decoded.
    #[error("cannot decode membership change at index {index}: {source}")]
    ConfChange {
        /// Entry index.
        index: u64,
        /// The protobuf error.
        #[source]
        source: crate::codec::DecodeError,
    },
}

/// A point-in-time view of a node, for `cluster status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// This node's raft id.
    pub id: u64,
    /// The leader, if known.
    pub leader: Option<u64>,
    /// Current term.
    pub term: u64,
    /// Commit index.
    pub commit: u64,
    /// Applied index.
    pub applied: u64,
    /// Managers (raft voters).
    pub voters: Vec<u64>,
}
