//! Deterministic simulation of a manager cluster: real [`RaftNode`]s with real durable storage
//! (one directory per node), driven by logical ticks over a simulated network that drops,
//! delays, duplicates and partitions messages, with crashes and restarts from disk. Every
//! choice comes from one seeded generator, so a failing seed replays exactly.

mod checker;
mod network;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use raft::eraftpb::{Message, MessageType};

pub use checker::{Checker, Violation};
pub use network::{Fate, Faults, Network};

use crate::{Event, NodeConfig, NodeError, RaftNode, Ticket};
use cluster_state::{Batch, Command, Meta, Record, Volume};

/// Parameters of one simulation run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of managers.
    pub nodes: usize,
    /// Ticks with faults.
    pub fault_ticks: u64,
    /// Ticks allowed, after the faults stop, for the cluster to converge.
    pub heal_ticks: u64,
    /// Network faults while faults are on.
    pub faults: Faults,
    /// Per-tick probability of crashing a running node.
    pub crash_rate: f64,
    /// Per-tick probability of changing the partition (cutting or healing).
    pub partition_rate: f64,
    /// Per-tick probability of a client write.
    pub write_rate: f64,
    /// Base election timeout in ticks (each node gets a distinct value above it).
    pub election_ticks: usize,
    /// Compaction interval of the nodes.
    pub snapshot_interval: u64,
    /// Entries kept at compaction.
    pub catchup_entries: u64,
}

impl SimConfig {
    /// A faulty run of `nodes` managers for `seed`.
    pub fn faulty(seed: u64, nodes: usize) -> Self {
        SimConfig {
            seed,
            nodes,
            fault_ticks: 120,
            heal_ticks: 200,
            faults: Faults {
                drop_rate: 0.1,
                duplicate_rate: 0.05,
                max_delay: 3,
            },
            crash_rate: 0.02,
            partition_rate: 0.03,
            write_rate: 0.5,
            election_ticks: 6,
            snapshot_interval: 12,
            catchup_entries: 3,
        }
    }
}

/// Errors of a simulation run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A node failed.
    #[error("node {id}: {source}")]
    Node {
        /// Raft id.
        id: u64,
        /// The failure.
        #[source]
        source: NodeError,
    },
    /// A safety invariant broke.
    #[error("seed {seed}: {violation}")]
    Violation {
        /// The run's seed.
        seed: u64,
        /// What broke.
        violation: Violation,
    },
    /// The cluster did not converge after the faults stopped.
    #[error("seed {seed}: no convergence after healing: {detail}")]
    NoConvergence {
        /// The run's seed.
        seed: u64,
        /// What differed.
        detail: String,
    },
}

/// What a run observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReport {
    /// Distinct committed indexes.
    pub committed: usize,
    /// Acknowledged writes.
    pub acked: usize,
    /// Terms that had a leader.
    pub terms_with_leader: usize,
    /// Crashes injected.
    pub crashes: usize,
    /// The common state hash after convergence.
    pub state_hash: String,
}

/// A simulated cluster.
pub struct Sim {
    config: SimConfig,
    rng: fastrand::Rng,
    dirs: Vec<PathBuf>,
    node_configs: Vec<NodeConfig>,
    nodes: Vec<Option<RaftNode>>,
    restart_at: Vec<u64>,
    crashed_state: Vec<Option<(u64, String)>>,
    net: Network,
    faults: Faults,
    now: u64,
    checker: Checker,
    next_id: u64,
    crashes: usize,
}

impl Sim {
    /// Creates the nodes, each in its own directory under `base`, as one initial cluster.
    pub fn new(config: SimConfig, base: &Path) -> Result<Self, SimError> {
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let voters: Vec<u64> = (1..=config.nodes as u64).collect();
        let mut offsets: Vec<usize> = (0..config.nodes).map(|k| 2 * k).collect();
        rng.shuffle(&mut offsets);
        let mut sim = Sim {
            faults: config.faults,
            rng,
            dirs: Vec::new(),
            node_configs: Vec::new(),
            nodes: Vec::new(),
            restart_at: vec![0; config.nodes],
            crashed_state: vec![None; config.nodes],
            net: Network::new(),
            now: 0,
            checker: Checker::new(),
            next_id: 1,
            crashes: 0,
            config,
        };
        for (k, &id) in voters.iter().enumerate() {
            let dir = base.join(format!("node-{id}"));
            let mut node_config = NodeConfig::new(id);
            node_config.election_ticks = sim.config.election_ticks + offsets[k];
            node_config.randomized_election = false;
            node_config.snapshot_interval = sim.config.snapshot_interval;
            node_config.catchup_entries = sim.config.catchup_entries;
            node_config.observe_applied = true;
            std::fs::create_dir_all(&dir).map_err(|e| SimError::Node {
                id,
                source: NodeError::Storage(crate::StorageError::Invariant {
                    path: dir.clone(),
                    message: format!("cannot create node directory: {e}"),
                }),
            })?;
            let node = RaftNode::bootstrap(node_config.clone(), &dir, &voters)
                .map_err(|source| SimError::Node { id, source })?;
            sim.dirs.push(dir);
            sim.node_configs.push(node_config);
            sim.nodes.push(Some(node));
        }
        Ok(sim)
    }

    /// Runs the faulty phase, then heals everything and checks convergence and the invariants.
    pub fn run(&mut self) -> Result<SimReport, SimError> {
        for _ in 0..self.config.fault_ticks {
            self.inject_faults()?;
            self.step()?;
        }
        self.faults = Faults::none();
        self.net.heal();
        for k in 0..self.nodes.len() {
            if self.nodes[k].is_none() {
                self.restart(k)?;
            }
        }
        let mut final_write: Option<Ticket> = None;
        let mut final_acked = false;
        for _ in 0..self.config.heal_ticks {
            self.step()?;
            if final_write.is_none() {
                final_write = self.write_on_leader();
            }
            if let Some(ticket) = final_write {
                final_acked |= self.checker_acked(ticket);
            }
            if final_acked && self.converged() {
                break;
            }
        }
        if !final_acked {
            return Err(self.no_convergence("no write acknowledged after healing".to_owned()));
        }
        if !self.converged() {
            let detail = self
                .nodes
                .iter()
                .flatten()
                .map(|n| format!("{}@{}", n.id(), n.storage().applied()))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(self.no_convergence(format!("applied indexes differ: {detail}")));
        }
        self.check_logs()?;
        self.checker.check_acked().map_err(|v| self.violation(v))?;
        let state_hash = self.nodes[0]
            .as_ref()
            .map(|n| n.store().state_hash())
            .unwrap_or_default();
        Ok(SimReport {
            committed: self.checker.committed_len(),
            acked: self.checker.acked_len(),
            terms_with_leader: self.checker.terms_with_leader(),
            crashes: self.crashes,
            state_hash,
        })
    }

    /// One tick: restarts due nodes, delivers due messages, ticks every node, maybe a write.
    fn step(&mut self) -> Result<(), SimError> {
        self.now += 1;
        for k in 0..self.nodes.len() {
            if self.nodes[k].is_none() && self.restart_at[k] <= self.now {
                self.restart(k)?;
            }
        }
        for (message, fate) in self.net.due(self.now) {
            let k = (message.to - 1) as usize;
            let from = message.from;
            let is_snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
            let target = match fate {
                Fate::Queued => self.nodes.get_mut(k).and_then(Option::as_mut),
                Fate::Lost => None,
            };
            match target {
                Some(node) => {
                    node.step(message).map_err(|source| SimError::Node {
                        id: k as u64 + 1,
                        source,
                    })?;
                    if is_snapshot {
                        self.with_node(from, |n| n.report_snapshot(k as u64 + 1, true));
                    }
                    self.process(k)?;
                }
                None if is_snapshot => {
                    self.with_node(from, |n| n.report_snapshot(k as u64 + 1, false));
                }
                None => {}
            }
        }
        for k in 0..self.nodes.len() {
            if let Some(node) = self.nodes[k].as_mut() {
                node.tick();
                self.process(k)?;
            }
        }
        if self.rng.f64() < self.config.write_rate {
            self.write_anywhere()?;
        }
        Ok(())
    }

    fn with_node(&mut self, id: u64, f: impl FnOnce(&mut RaftNode)) {
        if let Some(node) = self
            .nodes
            .get_mut((id - 1) as usize)
            .and_then(Option::as_mut)
        {
            f(node);
        }
    }

    /// Processes node `k`'s Ready, sends its messages, feeds its events to the checker.
    fn process(&mut self, k: usize) -> Result<(), SimError> {
        let Some(node) = self.nodes[k].as_mut() else {
            return Ok(());
        };
        let mut outbox: Vec<Message> = Vec::new();
        node.process_ready(&mut |msgs| outbox.extend(msgs))
            .map_err(|source| SimError::Node {
                id: k as u64 + 1,
                source,
            })?;
        let id = node.id();
        let events = node.take_events();
        let leader_term = node.is_leader().then(|| node.status().term);
        if let Some(term) = leader_term {
            self.checker
                .observe_leader(id, term)
                .map_err(|v| self.violation(v))?;
        }
        for event in events {
            match event {
                Event::Applied(entry) => self
                    .checker
                    .observe_applied(id, &entry)
                    .map_err(|v| self.violation(v))?,
                Event::Proposal {
                    ticket,
                    outcome: Ok(()),
                } => self
                    .checker
                    .observe_acked(ticket)
                    .map_err(|v| self.violation(v))?,
                _ => {}
            }
        }
        for message in outbox {
            let (from, to) = (message.from, message.to);
            let is_snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
            let fate = self
                .net
                .send(&mut self.rng, &self.faults, self.now, message);
            if fate == Fate::Lost && is_snapshot {
                self.with_node(from, |n| n.report_snapshot(to, false));
            }
        }
        Ok(())
    }

    fn inject_faults(&mut self) -> Result<(), SimError> {
        if self.rng.f64() < self.config.crash_rate {
            let k = self.rng.usize(0..self.nodes.len());
            if self.nodes[k].is_some() {
                self.crash(k)?;
            }
        }
        if self.rng.f64() < self.config.partition_rate {
            if self.net.is_partitioned() {
                self.net.heal();
            } else {
                let side: BTreeSet<u64> = (1..=self.nodes.len() as u64)
                    .filter(|_| self.rng.bool())
                    .collect();
                self.net.partition(side);
            }
        }
        Ok(())
    }

    /// Drops a node's process state; it restarts later from its directory. Before dropping,
    /// remembers its applied index and store hash: the restarted node must come back with
    /// exactly that state.
    fn crash(&mut self, k: usize) -> Result<(), SimError> {
        let Some(node) = self.nodes[k].take() else {
            return Ok(());
        };
        self.crashed_state[k] = Some((node.storage().applied(), node.store().state_hash()));
        drop(node);
        self.crashes += 1;
        let downtime = self.rng.u64(1..=3 * self.config.election_ticks as u64);
        self.restart_at[k] = self.now + downtime;
        Ok(())
    }

    /// Reopens node `k` from its directory; it must come back exactly as it crashed.
    fn restart(&mut self, k: usize) -> Result<(), SimError> {
        let id = k as u64 + 1;
        let node = RaftNode::open(self.node_configs[k].clone(), &self.dirs[k])
            .map_err(|source| SimError::Node { id, source })?;
        if let Some(before) = self.crashed_state[k].take() {
            let after = (node.storage().applied(), node.store().state_hash());
            if before != after {
                return Err(self.violation(Violation(format!(
                    "node {id} restarted at applied {} with another state than it crashed with at {}",
                    after.0, before.0
                ))));
            }
        }
        self.nodes[k] = Some(node);
        Ok(())
    }

    /// A client write to a random running node (refused unless it leads with a quorum).
    fn write_anywhere(&mut self) -> Result<(), SimError> {
        let k = self.rng.usize(0..self.nodes.len());
        if self.nodes[k].is_some() {
            self.write_to(k);
            self.process(k)?;
        }
        Ok(())
    }

    fn write_on_leader(&mut self) -> Option<Ticket> {
        let k = self
            .nodes
            .iter()
            .position(|n| n.as_ref().is_some_and(RaftNode::is_leader))?;
        self.write_to(k)
    }

    fn write_to(&mut self, k: usize) -> Option<Ticket> {
        let id = self.next_id;
        let stamp = self.now * 100;
        let batch = Batch::new(
            stamp,
            vec![Command::Create(Record::Volume(Volume {
                meta: Meta {
                    id: format!("v{id}"),
                    ..Meta::default()
                },
                name: format!("vol-{}", id % 50),
                driver: "local".to_owned(),
            }))],
        );
        let node = self.nodes[k].as_mut()?;
        let ticket = node.propose(&batch).ok()?;
        self.next_id += 1;
        let data = batch.encode().ok()?;
        self.checker.observe_proposed(ticket, data);
        Some(ticket)
    }

    fn checker_acked(&self, ticket: Ticket) -> bool {
        self.nodes
            .iter()
            .flatten()
            .any(|n| n.storage().applied() >= ticket.index)
            && self.checker.check_acked().is_ok()
    }

    fn converged(&self) -> bool {
        let mut states = self
            .nodes
            .iter()
            .map(|n| n.as_ref().map(|n| (n.storage().applied(), n.leader())));
        let Some(Some(first)) = states.next() else {
            return false;
        };
        first.1.is_some() && states.all(|s| s == Some(first)) && {
            let hashes: BTreeSet<String> = self
                .nodes
                .iter()
                .flatten()
                .map(|n| n.store().state_hash())
                .collect();
            hashes.len() == 1
        }
    }

    fn check_logs(&self) -> Result<(), SimError> {
        let mut logs = Vec::new();
        for node in self.nodes.iter().flatten() {
            let storage = node.storage();
            let log = storage
                .log_entries(0, storage.last_log_index() + 1)
                .map_err(|e| SimError::Node {
                    id: node.id(),
                    source: NodeError::Storage(e),
                })?;
            self.checker
                .check_committed_prefix(node.id(), node.status().commit, &log)
                .map_err(|v| self.violation(v))?;
            logs.push((node.id(), log));
        }
        for (i, a) in logs.iter().enumerate() {
            for b in &logs[i + 1..] {
                Checker::check_log_matching((a.0, &a.1), (b.0, &b.1))
                    .map_err(|v| self.violation(v))?;
            }
        }
        Ok(())
    }

    fn violation(&self, violation: Violation) -> SimError {
        SimError::Violation {
            seed: self.config.seed,
            violation,
        }
    }

    fn no_convergence(&self, detail: String) -> SimError {
        SimError::NoConvergence {
            seed: self.config.seed,
            detail,
        }
    }
}
