//! The raft thread: owns the [`RaftNode`], ticks it every tick interval, steps messages from
//! the transport, proposes, serves linearizable reads, and hands outgoing messages to the
//! peers. It never runs on a tokio worker; async callers talk to it through [`RaftHandle`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cluster_raft::eraftpb::{Message, MessageType};
use tokio::sync::{oneshot, watch};

use super::peers::Peers;
use super::roster::Roster;
use cluster_raft::{Event, MembershipChange, ProposeError, RaftNode, ReadId, Ticket};
use cluster_state::{Batch, Kind, Record, SealKey};

pub use super::view::{Query, Refused, StatusView};

type Reply<T> = oneshot::Sender<Result<T, Refused>>;
/// A read waiting for its ReadIndex: the query and where to answer.
type PendingRead = (Query, ReadReply);

/// Where a read's answer goes: as json (what the API hands on) or as the records themselves
/// (callers in this process, spared encoding and decoding the whole store).
enum ReadReply {
    Json(Reply<(Vec<u8>, u64)>),
    Records(Reply<(Vec<Record>, u64)>),
}

impl ReadReply {
    /// The caller stopped waiting.
    fn is_closed(&self) -> bool {
        match self {
            ReadReply::Json(reply) => reply.is_closed(),
            ReadReply::Records(reply) => reply.is_closed(),
        }
    }

    /// Answers with `refused`.
    fn refuse(self, refused: Refused) {
        match self {
            ReadReply::Json(reply) => {
                let _ = reply.send(Err(refused));
            }
            ReadReply::Records(reply) => {
                let _ = reply.send(Err(refused));
            }
        }
    }
}

enum Input {
    Raft(Vec<Message>),
    Propose(Batch, Reply<u64>),
    Membership(MembershipChange, Reply<u64>),
    Read(Query, ReadReply),
    LocalRead(Query, oneshot::Sender<(Vec<u8>, u64)>),
    LocalRecords(Query, oneshot::Sender<(Vec<Record>, u64)>),
    /// The view; with the store's state hash when true (a pass over the whole store).
    Status(bool, oneshot::Sender<StatusView>),
    Reachable(oneshot::Sender<std::collections::BTreeSet<u64>>),
    Unreachable(u64),
    Snapshot(u64, bool),
    Transfer(u64),
}

/// Where this manager stands, as of the raft thread's last step: what it applied and whether
/// it leads. The leader's control loop wakes on its changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Index of the last entry applied to the store.
    pub applied: u64,
    /// Whether this manager is the leader.
    pub leader: bool,
    /// The raft term.
    pub term: u64,
    /// The raft id of the leader this manager knows of, if any.
    pub leader_id: Option<u64>,
}

/// A cloneable handle to the raft thread.
#[derive(Clone)]
pub struct RaftHandle {
    tx: mpsc::Sender<Input>,
    roster: watch::Receiver<Arc<Roster>>,
    progress: watch::Receiver<Progress>,
}

impl std::fmt::Debug for RaftHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RaftHandle")
    }
}

impl RaftHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Input) -> Result<T, Refused> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| Refused::Stopped)?;
        rx.await.map_err(|_| Refused::Stopped)?
    }

    /// Proposes a batch (the leader stamps its time); resolves with the applied index.
    pub async fn write(&self, batch: Batch) -> Result<u64, Refused> {
        self.ask(|reply| Input::Propose(batch, reply)).await
    }

    /// Proposes a membership change; resolves once it applied.
    pub async fn membership(&self, change: MembershipChange) -> Result<u64, Refused> {
        self.ask(|reply| Input::Membership(change, reply)).await
    }

    /// A linearizable read: json of the matching records (or the hash) and the applied index.
    pub async fn read(&self, query: Query) -> Result<(Vec<u8>, u64), Refused> {
        self.ask(|reply| Input::Read(query, ReadReply::Json(reply)))
            .await
    }

    /// A linearizable read of the matching records themselves (sealed fields opened) and the
    /// applied index, for callers in this process: no json in between. [`Query::Hash`]
    /// matches no record.
    pub async fn read_records(&self, query: Query) -> Result<(Vec<Record>, u64), Refused> {
        self.ask(|reply| Input::Read(query, ReadReply::Records(reply)))
            .await
    }

    /// The records matching `query` in the store as applied on this manager, with its
    /// applied index: no consensus round, so it answers without a quorum and may lag the
    /// leader (the dispatcher serves assignments this way).
    pub async fn local_read(&self, query: Query) -> Result<(Vec<u8>, u64), Refused> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::LocalRead(query, reply))
            .map_err(|_| Refused::Stopped)?;
        rx.await.map_err(|_| Refused::Stopped)
    }

    /// [`RaftHandle::local_read`] of the records themselves, for callers in this process.
    pub async fn local_records(&self, query: Query) -> Result<(Vec<Record>, u64), Refused> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::LocalRecords(query, reply))
            .map_err(|_| Refused::Stopped)?;
        rx.await.map_err(|_| Refused::Stopped)
    }

    /// The callers the applied store knows, as of the last entry applied: a local read.
    pub fn roster(&self) -> Arc<Roster> {
        self.roster.borrow().clone()
    }

    /// A watch of what this manager applied and whether it leads.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// This node's view, without any consensus round and without the state hash
    /// ([`StatusView::state_hash`] is `None`): cheap enough for every heartbeat.
    pub async fn status(&self) -> Result<StatusView, Refused> {
        self.view(false).await
    }

    /// This node's view with the hash of its applied store: hashing reads the whole store
    /// on the raft thread, so only the status answer asks for it.
    pub async fn status_with_hash(&self) -> Result<StatusView, Refused> {
        self.view(true).await
    }

    async fn view(&self, hash: bool) -> Result<StatusView, Refused> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Status(hash, reply))
            .map_err(|_| Refused::Stopped)?;
        rx.await.map_err(|_| Refused::Stopped)
    }

    /// The managers raft heard from within an election timeout (this one included): the
    /// cheap part of [`RaftHandle::status`].
    pub async fn reachable(&self) -> Result<std::collections::BTreeSet<u64>, Refused> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Reachable(reply))
            .map_err(|_| Refused::Stopped)?;
        rx.await.map_err(|_| Refused::Stopped)
    }

    /// Hands received raft messages to the node.
    pub fn step(&self, messages: Vec<Message>) -> Result<(), Refused> {
        self.tx
            .send(Input::Raft(messages))
            .map_err(|_| Refused::Stopped)
    }

    /// Asks this node, if it leads, to hand leadership to manager `to`.
    pub fn transfer_leader(&self, to: u64) -> Result<(), Refused> {
        self.tx
            .send(Input::Transfer(to))
            .map_err(|_| Refused::Stopped)
    }

    /// Reports that a peer could not be reached.
    pub(crate) fn unreachable(&self, id: u64) {
        let _ = self.tx.send(Input::Unreachable(id));
    }

    /// Reports whether a snapshot reached a peer.
    pub(crate) fn snapshot_status(&self, id: u64, delivered: bool) {
        let _ = self.tx.send(Input::Snapshot(id, delivered));
    }
}

/// How the raft thread ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Still running.
    Running,
    /// Every handle was dropped.
    Stopped,
    /// This manager was removed from the cluster.
    Removed,
    /// The node failed (storage error); the message says why.
    Failed(String),
}

/// Starts the raft thread for `node`, sending through `peers`; `seed` gives manager
/// addresses until the store's node records are known. With `seal`, the sensitive fields of
/// every proposed batch are sealed before they enter the log, and opened again in reads.
pub(crate) fn spawn(
    node: RaftNode,
    seed: BTreeMap<u64, String>,
    seal: Option<SealKey>,
    peers: impl FnOnce(RaftHandle) -> Peers,
) -> std::io::Result<(RaftHandle, watch::Receiver<Exit>)> {
    let (tx, rx) = mpsc::channel();
    let (roster_tx, roster) = watch::channel(Arc::new(Roster::from_store(node.store())));
    let (progress_tx, progress) = watch::channel(Progress::default());
    let handle = RaftHandle {
        tx,
        roster,
        progress,
    };
    let peers = peers(handle.clone());
    let (exit_tx, exit_rx) = watch::channel(Exit::Running);
    std::thread::Builder::new()
        .name(format!("raft-{}", node.id()))
        .spawn(move || {
            let mut driver = Driver {
                node,
                peers,
                writes: HashMap::new(),
                reads: HashMap::new(),
                addrs: seed.clone(),
                seed,
                addrs_at: u64::MAX,
                seal,
                roster: roster_tx,
                progress: progress_tx,
            };
            let exit = driver.run(rx);
            let _ = exit_tx.send(exit);
        })?;
    Ok((handle, exit_rx))
}

struct Driver {
    node: RaftNode,
    peers: Peers,
    writes: HashMap<Ticket, Reply<u64>>,
    reads: HashMap<ReadId, PendingRead>,
    addrs: BTreeMap<u64, String>,
    seed: BTreeMap<u64, String>,
    addrs_at: u64,
    seal: Option<SealKey>,
    roster: watch::Sender<Arc<Roster>>,
    progress: watch::Sender<Progress>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl Driver {
    fn run(&mut self, rx: mpsc::Receiver<Input>) -> Exit {
        let interval = self.node.config().tick_interval;
        let mut next_tick = Instant::now() + interval;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(input) => {
                    self.handle(input);
                    // What is queued, but no further than the tick: a steady stream of
                    // requests must not keep the node from ticking and sending.
                    while Instant::now() < next_tick {
                        let Ok(input) = rx.try_recv() else { break };
                        self.handle(input);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Exit::Stopped,
            }
            if Instant::now() >= next_tick {
                self.cancel_abandoned_reads();
                self.node.tick();
                next_tick += interval;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + interval;
                }
            }
            if let Err(err) = self.ready() {
                tracing::error!(cause = %err, "raft node failed");
                return Exit::Failed(err.to_string());
            }
            if self.process_events() {
                return Exit::Removed;
            }
            self.publish_progress();
        }
    }

    fn ready(&mut self) -> Result<(), cluster_raft::NodeError> {
        let Driver {
            node, peers, addrs, ..
        } = self;
        node.process_ready(&mut |messages| {
            for message in messages {
                let addr = addrs.get(&message.to).cloned();
                peers.send(message, addr);
            }
        })?;
        self.refresh_addrs();
        Ok(())
    }

    /// Keeps the raft id → address map and the roster in step with the store's records.
    fn refresh_addrs(&mut self) {
        let applied = self.node.status().applied;
        if applied == self.addrs_at {
            return;
        }
        self.addrs_at = applied;
        let mut addrs = self.seed.clone();
        addrs.extend(
            self.node
                .store()
                .iter_kind(Kind::Node)
                .filter_map(|record| match record {
                    Record::Node(node) => node.raft_id.map(|id| (id, node.addr.clone())),
                    _ => None,
                }),
        );
        self.addrs = addrs;
        let roster = Roster::from_store(self.node.store());
        self.roster.send_if_modified(|current| {
            let changed = **current != roster;
            if changed {
                *current = Arc::new(roster);
            }
            changed
        });
    }

    /// Tells the watchers of [`RaftHandle::progress`] what changed.
    fn publish_progress(&self) {
        let status = self.node.status();
        let now = Progress {
            applied: status.applied,
            leader: status.leader == Some(status.id),
            term: status.term,
            leader_id: status.leader,
        };
        self.progress.send_if_modified(|current| {
            let changed = *current != now;
            *current = now;
            changed
        });
    }

    /// Drops the reads whose callers stopped waiting (their request timed out).
    fn cancel_abandoned_reads(&mut self) {
        let node = &mut self.node;
        self.reads.retain(|id, (_, reply)| {
            let open = !reply.is_closed();
            if !open {
                node.cancel_read(*id);
            }
            open
        });
    }

    fn refuse(&self, err: ProposeError) -> Refused {
        match err {
            ProposeError::NotLeader { leader } => Refused::NotLeader {
                leader,
                addr: self.addrs.get(&leader).cloned(),
            },
            ProposeError::NoQuorum(no) => Refused::NoQuorum(no),
            other => Refused::Propose(other),
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Raft(messages) => {
                for message in messages {
                    let snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
                    if let Err(err) = self.node.step(message) {
                        tracing::warn!(cause = %err, snapshot, "raft refused a message");
                    }
                }
            }
            Input::Propose(mut batch, reply) => {
                batch.stamp_ms = now_ms();
                if let Some(key) = &self.seal {
                    key.seal_batch(&mut batch);
                }
                match self.node.propose(&batch) {
                    Ok(ticket) => {
                        self.writes.insert(ticket, reply);
                    }
                    Err(err) => {
                        let _ = reply.send(Err(self.refuse(err)));
                    }
                }
            }
            Input::Membership(change, reply) => match self.node.propose_membership(change) {
                Ok(ticket) => {
                    self.writes.insert(ticket, reply);
                }
                Err(err) => {
                    let _ = reply.send(Err(self.refuse(err)));
                }
            },
            Input::Read(query, reply) => match self.node.read_index() {
                Ok(id) => {
                    self.reads.insert(id, (query, reply));
                }
                Err(err) => {
                    reply.refuse(self.refuse(err));
                }
            },
            Input::LocalRead(query, reply) => {
                let _ = reply.send(self.answer(&query));
            }
            Input::LocalRecords(query, reply) => {
                let _ = reply.send(self.records(&query));
            }
            Input::Status(hash, reply) => {
                let _ = reply.send(self.status(hash));
            }
            Input::Reachable(reply) => {
                let _ = reply.send(self.node.reachable());
            }
            Input::Unreachable(id) => self.node.report_unreachable(id),
            Input::Snapshot(id, delivered) => self.node.report_snapshot(id, delivered),
            Input::Transfer(to) => self.node.transfer_leader(to),
        }
    }

    fn status(&self, hash: bool) -> StatusView {
        let status = self.node.status();
        let mut members: BTreeMap<u64, Option<cluster_state::Node>> =
            status.voters.iter().map(|id| (*id, None)).collect();
        // One pass over the nodes: the first record naming a voter's raft id is its own.
        for record in self.node.store().iter_kind(Kind::Node) {
            if let Record::Node(node) = record
                && let Some(slot) = node.raft_id.and_then(|id| members.get_mut(&id))
                && slot.is_none()
            {
                *slot = Some(node.clone());
            }
        }
        StatusView {
            leader_addr: status.leader.and_then(|l| self.addrs.get(&l).cloned()),
            reachable: self.node.reachable(),
            members,
            quorum_error: self.node.quorum_error(),
            state_hash: hash.then(|| self.node.store().state_hash()),
            successor: self.node.best_transferee(),
            status,
        }
    }

    /// Resolves waiting callers; true when this node was removed.
    fn process_events(&mut self) -> bool {
        let mut removed = false;
        for event in self.node.take_events() {
            match event {
                Event::Proposal { ticket, outcome } => {
                    if let Some(reply) = self.writes.remove(&ticket) {
                        let _ = reply.send(outcome.map(|()| ticket.index).map_err(Refused::from));
                    }
                }
                Event::ReadReady(id) => match self.reads.remove(&id) {
                    Some((query, ReadReply::Json(reply))) => {
                        let _ = reply.send(Ok(self.answer(&query)));
                    }
                    Some((query, ReadReply::Records(reply))) => {
                        let _ = reply.send(Ok(self.records(&query)));
                    }
                    None => {}
                },
                Event::ReadFailed(id) => {
                    if let Some((_, reply)) = self.reads.remove(&id) {
                        let refused = match self.node.quorum_error() {
                            Some(no) => Refused::NoQuorum(no),
                            None => Refused::ReadInterrupted,
                        };
                        reply.refuse(refused);
                    }
                }
                Event::LeaderChanged { leader, term } => {
                    tracing::info!(?leader, term, "leader changed");
                }
                Event::Removed => removed = true,
                Event::Applied(_) => {}
            }
        }
        removed
    }

    /// The answer to `query` as json (the hash's text for [`Query::Hash`]).
    fn answer(&self, query: &Query) -> (Vec<u8>, u64) {
        if let Query::Hash = query {
            let hash = self.node.store().state_hash().into_bytes();
            return (hash, self.node.status().applied);
        }
        let (records, applied) = self.records(query);
        // Records are plain data with ordered maps: serializing them cannot fail.
        let data = serde_json::to_vec(&records).expect("records serialize to json");
        (data, applied)
    }

    /// The records matching `query`, sealed fields opened ([`Query::Hash`] matches none).
    fn records(&self, query: &Query) -> (Vec<Record>, u64) {
        let store = self.node.store();
        let applied = self.node.status().applied;
        let mut records: Vec<Record> = match query {
            Query::Hash => Vec::new(),
            Query::All => store.iter().cloned().collect(),
            Query::Kind(kind) => store.iter_kind(*kind).cloned().collect(),
            Query::Kinds(kinds) => kinds
                .iter()
                .flat_map(|kind| store.iter_kind(*kind).cloned())
                .collect(),
            Query::Key(key) => store.get(key).into_iter().cloned().collect(),
            Query::Keys(keys) => keys.iter().filter_map(|k| store.get(k)).cloned().collect(),
        };
        if let Some(key) = &self.seal {
            for record in &mut records {
                if let Err(err) = key.open_record(record) {
                    tracing::warn!(record = %record.key(), cause = %err, "sealed field left sealed");
                }
            }
        }
        (records, applied)
    }
}
