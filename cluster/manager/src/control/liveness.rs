//! A node's liveness as the swarm logic sees it ([`NodeStatus`]), from what the leader knows:
//! the record's state (the liveness watch marks silent workers `down`), since when raft has
//! not heard from a manager, and whether a worker has reported since this manager became
//! leader.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cluster_state::{Node, NodeState};
use orchestrator::swarm::NodeStatus;

/// What the leader knows of the nodes' liveness at one moment.
#[derive(Debug, Clone)]
pub struct LivenessView<'a, F> {
    /// Now.
    pub now: Instant,
    /// When this manager became leader.
    pub leading_since: Instant,
    /// A manager raft does not hear from is given this long before it counts as down.
    pub grace: Duration,
    /// A worker is given this long after a leader change before anything is decided about it
    /// (the time the liveness watch waits before marking it down).
    pub failover_grace: Duration,
    /// Raft ids of the managers raft hears from.
    pub reachable: &'a BTreeSet<u64>,
    /// When this leader last saw each manager reachable (by raft id).
    pub last_reachable: &'a BTreeMap<u64, Instant>,
    /// Whether the worker with this id reported since the given time.
    pub heard_since: F,
}

impl<F: Fn(&str, Instant) -> bool> LivenessView<'_, F> {
    /// The status of `node`: `down` as its record says, and a manager raft has not heard
    /// from for the grace period (counted from when this leader last saw it reachable, or
    /// from when it took office); a manager raft does not hear from before that, and a worker
    /// not heard from during the failover grace after a leader change, `unknown` (nothing is
    /// placed there, nothing is taken away); otherwise `ready`.
    pub fn status(&self, node: &Node) -> NodeStatus {
        if node.state == NodeState::Down {
            return NodeStatus::Down;
        }
        match node.raft_id {
            Some(raft_id) if !self.reachable.contains(&raft_id) => {
                let since = self
                    .last_reachable
                    .get(&raft_id)
                    .map_or(self.leading_since, |at| (*at).max(self.leading_since));
                if self.now.saturating_duration_since(since) >= self.grace {
                    NodeStatus::Down
                } else {
                    NodeStatus::Unknown
                }
            }
            Some(_) => NodeStatus::Ready,
            None if self.now.saturating_duration_since(self.leading_since) < self.failover_grace
                && !(self.heard_since)(&node.meta.id, self.leading_since) =>
            {
                NodeStatus::Unknown
            }
            None => NodeStatus::Ready,
        }
    }
}
