//! What the raft thread answers with: the queries a read asks, the refusals, and a
//! manager's view of the cluster.

use std::collections::{BTreeMap, BTreeSet};

use cluster_raft::{NoQuorum, NodeStatus, ProposeError, WriteError};
use cluster_state::{Kind, Node, RecordKey};

/// What a read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Every record.
    All,
    /// Every record of one kind.
    Kind(Kind),
    /// Every record of these kinds, as of one moment.
    Kinds(Vec<Kind>),
    /// One record.
    Key(RecordKey),
    /// The records of these keys that exist, as of one moment.
    Keys(Vec<RecordKey>),
    /// The state hash.
    Hash,
}

/// Why the raft thread did not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refused {
    /// Another manager leads; the request should go there.
    #[error("not the leader: manager {leader} is")]
    NotLeader {
        /// Its raft id.
        leader: u64,
        /// Its address, if known.
        addr: Option<String>,
    },
    /// Too few managers reachable.
    #[error(transparent)]
    NoQuorum(#[from] NoQuorum),
    /// The proposal was refused before reaching the log.
    #[error(transparent)]
    Propose(ProposeError),
    /// The proposal reached the log but did not succeed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// No leader confirmed a read within a few election timeouts.
    #[error("no leader confirmed the read in time; retry")]
    ReadInterrupted,
    /// The raft thread has stopped.
    #[error("the manager's raft loop has stopped")]
    Stopped,
}

/// A manager's view of the cluster.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// Raft status of this node.
    pub status: NodeStatus,
    /// Managers heard from within an election timeout.
    pub reachable: BTreeSet<u64>,
    /// Node records of the managers, by raft id.
    pub members: BTreeMap<u64, Option<Node>>,
    /// Set when writes would be refused for lack of quorum.
    pub quorum_error: Option<NoQuorum>,
    /// State hash of the applied store, when asked for
    /// ([`super::driver::RaftHandle::status_with_hash`]).
    pub state_hash: Option<String>,
    /// Address of the leader, if known.
    pub leader_addr: Option<String>,
    /// The manager to hand leadership to (reachable, log furthest along), when this leads.
    pub successor: Option<u64>,
}
