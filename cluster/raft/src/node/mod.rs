//! The node driver: raft-rs's `RawNode` over durable storage and the store, driven by logical
//! ticks and messages. Synchronous; a transport calls [`RaftNode::step`] with received
//! messages, [`RaftNode::tick`] on a timer, and [`RaftNode::process_ready`] after either.

mod reads;
mod ready;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use raft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2, Message};
use raft::{RawNode, SnapshotStatus, StateRole};

pub use types::{Event, NodeError, NodeStatus, ProposeError, ReadId, Ticket, WriteError};

use super::config::NodeConfig;
use super::logger::raft_logger;
use super::membership::{self, NoQuorum};
use super::storage::RaftStorage;
use cluster_state::{Batch, Store};

/// File name of the raft database inside a node's directory.
pub const DB_FILE: &str = "raft.redb";

/// A change of the manager set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Add a manager (promote a worker or join a new manager).
    AddManager(u64),
    /// Remove a manager (demote or remove).
    RemoveManager(u64),
}

/// What a pending proposal was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingKind {
    Write,
    Membership,
}

/// One raft node with its store.
pub struct RaftNode {
    raw: RawNode<RaftStorage>,
    config: NodeConfig,
    store: Store,
    ticks: u64,
    /// Tick at which each peer was last heard from.
    heard: BTreeMap<u64, u64>,
    /// Proposals of this node awaiting their entry, by log index.
    pending: BTreeMap<u64, (u64, PendingKind)>,
    /// Reads not yet confirmed at an index, by read id (see [`reads`]).
    reads_open: BTreeMap<u64, reads::OpenRead>,
    /// Reads confirmed at an index, awaiting the store to apply it.
    reads_confirmed: Vec<(u64, u64)>,
    next_read: u64,
    leader: Option<u64>,
    events: Vec<Event>,
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("id", &self.config.id)
            .field("status", &self.status())
            .finish()
    }
}

impl RaftNode {
    /// Opens the node stored in `dir` (creating an empty, uninitialized one if none): the
    /// store and applied index come back from disk, so nothing is applied twice.
    /// An uninitialized node waits for a leader to send it a snapshot.
    pub fn open(config: NodeConfig, dir: &Path) -> Result<Self, NodeError> {
        let storage = RaftStorage::open(&dir.join(DB_FILE))?;
        Self::from_storage(config, storage)
    }

    /// Opens the node in `dir`, first making it the initial member set `voters` of a new
    /// cluster if the storage is empty.
    pub fn bootstrap(config: NodeConfig, dir: &Path, voters: &[u64]) -> Result<Self, NodeError> {
        let mut storage = RaftStorage::open(&dir.join(DB_FILE))?;
        if !storage.is_initialized() {
            storage.bootstrap(voters)?;
        }
        Self::from_storage(config, storage)
    }

    /// Opens the node in `dir` as the only manager of a new cluster built from its state,
    /// keeping every record (`cluster init --force-new-cluster`).
    pub fn force_new_cluster(config: NodeConfig, dir: &Path) -> Result<Self, NodeError> {
        let mut storage = RaftStorage::open(&dir.join(DB_FILE))?;
        storage.force_new_cluster(config.id)?;
        Self::from_storage(config, storage)
    }

    fn from_storage(config: NodeConfig, storage: RaftStorage) -> Result<Self, NodeError> {
        let store = storage.load_store()?;
        let raft_config = config.to_raft(storage.applied());
        let raw = RawNode::new(&raft_config, storage, &raft_logger(config.id))?;
        Ok(RaftNode {
            raw,
            config,
            store,
            ticks: 0,
            heard: BTreeMap::new(),
            pending: BTreeMap::new(),
            reads_open: BTreeMap::new(),
            reads_confirmed: Vec::new(),
            next_read: 1,
            leader: None,
            events: Vec::new(),
        })
    }

    /// This node's raft id.
    pub fn id(&self) -> u64 {
        self.config.id
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The store as of the applied index.
    pub fn store(&self) -> &Store {
        &self.store
    }

    testing_pub! {
        /// The durable storage.
        #[cfg(any(feature = "sim", feature = "testing"))]
        fn storage(&self) -> &RaftStorage {
            self.raw.store()
        }
    }

    /// Whether this node leads.
    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    /// The leader as this node knows it.
    pub fn leader(&self) -> Option<u64> {
        match self.raw.raft.leader_id {
            0 => None,
            id => Some(id),
        }
    }

    /// The current managers (raft voters).
    pub fn voters(&self) -> BTreeSet<u64> {
        self.raw
            .raft
            .prs()
            .conf()
            .to_conf_state()
            .voters
            .into_iter()
            .collect()
    }

    /// A status summary.
    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            id: self.config.id,
            leader: self.leader(),
            term: self.raw.raft.term,
            commit: self.raw.raft.raft_log.committed,
            applied: self.raw.store().applied(),
            voters: self.voters().into_iter().collect(),
        }
    }

    /// Managers heard from within one election timeout, this one included.
    pub fn reachable(&self) -> BTreeSet<u64> {
        let window = self.config.election_ticks as u64;
        self.voters()
            .into_iter()
            .filter(|id| {
                *id == self.config.id
                    || self
                        .heard
                        .get(id)
                        .is_some_and(|at| self.ticks.saturating_sub(*at) <= window)
            })
            .collect()
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.ticks += 1;
        self.raw.tick();
    }

    /// Hands a message from a peer to raft.
    pub fn step(&mut self, message: Message) -> Result<(), NodeError> {
        self.heard.insert(message.from, self.ticks);
        match self.raw.step(message) {
            // Messages from unknown peers (removed managers, stale senders) are dropped.
            Err(raft::Error::StepPeerNotFound) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Hands leadership to manager `to` (it campaigns once its log is up to date); proposals
    /// are dropped until the transfer completes or times out after an election timeout.
    pub fn transfer_leader(&mut self, to: u64) {
        self.raw.transfer_leader(to);
    }

    /// The reachable manager, other than this one, whose log matches the leader's furthest:
    /// the one to hand leadership to.
    pub fn best_transferee(&self) -> Option<u64> {
        let progress = self.raw.raft.prs();
        self.reachable()
            .into_iter()
            .filter(|id| *id != self.config.id)
            .max_by_key(|id| progress.get(*id).map(|p| p.matched).unwrap_or_default())
    }

    /// Tells raft a peer could not be reached.
    pub fn report_unreachable(&mut self, id: u64) {
        self.raw.report_unreachable(id);
    }

    /// Tells raft whether a snapshot reached a peer.
    pub fn report_snapshot(&mut self, id: u64, delivered: bool) {
        let status = if delivered {
            SnapshotStatus::Finish
        } else {
            SnapshotStatus::Failure
        };
        self.raw.report_snapshot(id, status);
    }

    /// Refuses a write unless this node leads with a quorum reachable.
    fn check_can_write(&self) -> Result<(), ProposeError> {
        let voters = self.voters().len();
        let reachable = self.reachable().len();
        if self.is_leader() {
            return Ok(membership::check_quorum(reachable, voters)?);
        }
        if let Some(leader) = self.leader() {
            return Err(ProposeError::NotLeader { leader });
        }
        membership::check_quorum(reachable, voters).map_err(ProposeError::from)?;
        Err(ProposeError::NoLeader)
    }

    /// Proposes a batch. The returned ticket completes with an [`Event::Proposal`].
    pub fn propose(&mut self, batch: &Batch) -> Result<Ticket, ProposeError> {
        self.check_can_write()?;
        let data = batch
            .encode()
            .map_err(|e| ProposeError::Encode(e.to_string()))?;
        self.raw
            .propose(vec![], data)
            .map_err(|e| ProposeError::Dropped(e.to_string()))?;
        Ok(self.track(PendingKind::Write))
    }

    /// Proposes a change of the manager set, after the membership guards.
    pub fn propose_membership(&mut self, change: MembershipChange) -> Result<Ticket, ProposeError> {
        self.check_can_write()?;
        if self.raw.raft.has_pending_conf() {
            return Err(ProposeError::MembershipBusy);
        }
        let voters = self.voters();
        let (id, change_type) = match change {
            MembershipChange::AddManager(id) => {
                membership::check_add(&voters, self.raw.store().removed_ids(), id)?;
                (id, ConfChangeType::AddNode)
            }
            MembershipChange::RemoveManager(id) => {
                membership::check_remove(&voters, &self.reachable(), id)?;
                (id, ConfChangeType::RemoveNode)
            }
        };
        let single = ConfChangeSingle {
            node_id: id,
            change_type: change_type as i32,
        };
        let cc = ConfChangeV2 {
            changes: vec![single],
            ..ConfChangeV2::default()
        };
        self.raw
            .propose_conf_change(vec![], cc)
            .map_err(|e| ProposeError::Dropped(e.to_string()))?;
        Ok(self.track(PendingKind::Membership))
    }

    fn track(&mut self, kind: PendingKind) -> Ticket {
        let ticket = Ticket {
            index: self.raw.raft.raft_log.last_index(),
            term: self.raw.raft.term,
        };
        self.pending.insert(ticket.index, (ticket.term, kind));
        ticket
    }

    /// Takes the events produced so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The quorum error a write would get now, if any.
    pub fn quorum_error(&self) -> Option<NoQuorum> {
        membership::check_quorum(self.reachable().len(), self.voters().len()).err()
    }
}
