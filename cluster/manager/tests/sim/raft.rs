//! The managers' replicated store, reduced to what the control loop and the dispatcher see
//! of it: the committed store, the leader (none during an election or without a quorum),
//! the batches proposed in the leader's term that commit a little later with their version
//! guards (or are lost with the leader), and each manager's applied copy, which may lag.

use std::collections::BTreeMap;
use std::sync::Arc;

use cluster_state::{Batch, Command, Record, Store};

use super::Tick;

/// Who proposed a batch, so its outcome reaches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A control-loop pass.
    Control,
    /// A node's status reports: the node and the reports it sent.
    Reports(usize, Vec<cluster_manager::dispatcher::StatusReport>),
    /// Anything else (heartbeats, liveness, the user).
    Other,
}

/// A batch proposed by the leader, committed at `due` if the leader still leads.
#[derive(Debug)]
pub(crate) struct Proposal {
    /// The commands.
    pub commands: Vec<Command>,
    /// When it commits.
    pub due: Tick,
    /// Who asked.
    pub origin: Origin,
}

/// The outcome of a proposal.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Who asked.
    pub origin: Origin,
    /// Applied (false: refused by a guard, or lost with its leader).
    pub applied: bool,
}

/// The replicated store.
#[derive(Debug, Default)]
pub(crate) struct Raft {
    store: Store,
    /// Index of the last applied entry.
    pub index: u64,
    latest: Option<Arc<Vec<Record>>>,
    /// The leading manager (a node index), if any.
    pub leader: Option<usize>,
    /// The leader's term.
    pub term: u64,
    /// When the leader took office.
    pub leading_since: Tick,
    /// When the next leader is elected, during an election.
    pub election_at: Option<Tick>,
    /// Proposals of the current term not yet committed.
    pub pending: Vec<Proposal>,
    /// Each manager's applied copy (node index → index and records).
    pub applied: BTreeMap<usize, (u64, Arc<Vec<Record>>)>,
    /// When each manager last followed a leader with a quorum.
    pub last_led: BTreeMap<usize, Tick>,
}

impl Raft {
    /// A store holding `records`.
    pub(crate) fn new(records: Vec<Record>) -> Self {
        let mut raft = Raft::default();
        let batch = Batch::new(0, records.into_iter().map(Command::Create).collect());
        raft.apply(&batch).expect("the first records apply");
        raft
    }

    fn apply(&mut self, batch: &Batch) -> Result<(), cluster_state::ApplyError> {
        let index = self.index + 1;
        self.store.apply(index, batch)?;
        self.index = index;
        self.latest = None;
        Ok(())
    }

    /// Every record as of the last applied entry (a linearizable read on the leader).
    pub(crate) fn records(&mut self) -> Arc<Vec<Record>> {
        if let Some(latest) = &self.latest {
            return latest.clone();
        }
        let latest = Arc::new(self.store.iter().cloned().collect::<Vec<_>>());
        self.latest = Some(latest.clone());
        latest
    }

    /// The committed store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Proposes `commands` through the leader, committing at `due`; false without a leader.
    pub(crate) fn propose(&mut self, commands: Vec<Command>, due: Tick, origin: Origin) -> bool {
        if self.leader.is_none() || commands.is_empty() {
            return false;
        }
        self.pending.push(Proposal {
            commands,
            due,
            origin,
        });
        true
    }

    /// Commits the proposals due by `now` in log order (one not yet due holds back those
    /// behind it); their outcomes.
    pub(crate) fn commit_due(&mut self, now: Tick, stamp_ms: u64) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        let mut waiting = Vec::new();
        for proposal in std::mem::take(&mut self.pending) {
            if proposal.due > now || !waiting.is_empty() {
                waiting.push(proposal);
                continue;
            }
            let applied = self.apply(&Batch::new(stamp_ms, proposal.commands)).is_ok();
            outcomes.push(Outcome {
                origin: proposal.origin,
                applied,
            });
        }
        self.pending = waiting;
        outcomes
    }

    /// The leader is gone: each pending proposal either made it into the log of a quorum
    /// (`keep` says so; the next leader commits it) or is lost.
    pub(crate) fn lose_leader(
        &mut self,
        mut keep: impl FnMut() -> bool,
        stamp_ms: u64,
        election_at: Tick,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for proposal in std::mem::take(&mut self.pending) {
            let applied = keep() && self.apply(&Batch::new(stamp_ms, proposal.commands)).is_ok();
            outcomes.push(Outcome {
                origin: proposal.origin,
                applied,
            });
        }
        self.leader = None;
        self.election_at = Some(election_at);
        outcomes
    }

    /// Manager `m` applies everything committed so far.
    pub(crate) fn catch_up(&mut self, m: usize) {
        let latest = self.records();
        self.applied.insert(m, (self.index, latest));
    }
}
