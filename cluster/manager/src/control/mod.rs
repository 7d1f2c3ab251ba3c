//! The leader's control loop: turns services into tasks and tasks into assignments.
//!
//! It runs on every manager but acts only while that manager leads. It wakes when the store
//! applies a change (debounced: it waits until the store has been quiet for
//! [`DEBOUNCE`], at most [`DEBOUNCE_CAP`] after the first change), at the time the last pass
//! asked for (a restart delay ending), and every [`RESYNC`] (liveness that lives outside the
//! store, such as raft reachability, or a worker's grace after a leader change, ends).
//!
//! Each pass reads the store with a linearizable read (so a new leader sees everything
//! committed before it), resolves the nodes' liveness, decides with [`plan::plan`], and
//! commits the result as one raft batch per service, with version guards. The loop keeps
//! nothing between passes but the time to wake: a new leader resumes from the store alone,
//! and a batch refused because the store moved on is simply decided again on the next pass.

// Public only to the simulation (the `testing` feature).
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

mod diff;
mod liveness;
pub mod plan;
mod store;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orchestrator::swarm::{TaskId, Timestamp};
use tokio::sync::watch;

use super::driver::{Progress, RaftHandle, Refused};
use super::workers::{DOWN_AFTER, FAILOVER_GRACE, Liveness};
pub use liveness::LivenessView;
pub use plan::{Plan, Snapshot};
pub use store::{RaftStore, StoreView};

/// The store must be quiet this long before a pass runs.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// A pass runs at most this long after the first change it waits on.
pub const DEBOUNCE_CAP: Duration = Duration::from_secs(1);
/// A pass runs at least this often while leading.
pub const RESYNC: Duration = Duration::from_secs(1);
/// Wait before deciding again after a pass failed (no quorum, a read that timed out).
const RETRY: Duration = Duration::from_millis(200);
/// Time allowed for a pass's read or one commit.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The leader's time, as stamped into decisions.
pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
    )
}

/// A new task id: 12 random bytes in hex, like node ids.
pub fn new_task_id() -> TaskId {
    let mut bytes = [0u8; 12];
    crate::pki::secure_random(&mut bytes);
    TaskId(hex::encode(bytes))
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Batches committed.
    pub committed: usize,
    /// Batches refused (the store moved on; decided again next pass).
    pub refused: usize,
    /// When the pass asked to run again.
    pub wake_at: Option<Timestamp>,
}

/// The decision step of a pass, pure: the store's records as read, each node's liveness
/// (`status`), the leader's time and a source of task ids in; the guarded batches to commit
/// and the time to run again out. [`pass`] wraps it between the read and the commits; a
/// simulation calls it directly.
pub fn decide(
    records: Vec<cluster_state::Record>,
    status: impl Fn(&cluster_state::Node) -> orchestrator::swarm::NodeStatus,
    now: Timestamp,
    next_id: impl FnMut() -> TaskId,
) -> Plan {
    plan::plan(&Snapshot::from_records(records, status), now, next_id)
}

/// Runs one pass against `store`: read, decide, commit. A refused batch does not stop the
/// others; a refusal that concerns the whole manager (not the leader, no quorum, stopped)
/// ends the pass with that refusal.
///
/// The nodes' liveness is resolved here; the decision itself, whose cost grows with the
/// number of tasks (a second or more for 30,000), runs on a blocking thread, so that the
/// runtime's workers keep answering heartbeats and sessions meanwhile.
pub async fn pass<S: StoreView>(
    store: &S,
    status: impl Fn(&cluster_state::Node) -> orchestrator::swarm::NodeStatus,
    now: Timestamp,
    next_id: impl FnMut() -> TaskId + Send + 'static,
) -> Result<PassOutcome, Refused> {
    let records = store.snapshot().await?;
    let encrypted: Vec<cluster_state::Network> = records
        .iter()
        .filter_map(|r| match r {
            cluster_state::Record::Network(n) if n.encryption.is_some() => Some(n.clone()),
            _ => None,
        })
        .collect();
    let statuses: HashMap<String, orchestrator::swarm::NodeStatus> = records
        .iter()
        .filter_map(|record| match record {
            cluster_state::Record::Node(node) => Some((node.meta.id.clone(), status(node))),
            _ => None,
        })
        .collect();
    let decided = tokio::task::spawn_blocking(move || {
        let status = |node: &cluster_state::Node| {
            statuses.get(&node.meta.id).copied().unwrap_or_default()
        };
        decide(records, status, now, next_id)
    })
    .await;
    let plan = match decided {
        Ok(plan) => plan,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        // The runtime is shutting down.
        Err(_) => return Err(Refused::Stopped),
    };
    let mut outcome = PassOutcome {
        wake_at: plan.wake_at,
        ..PassOutcome::default()
    };
    // Overlay keys are rotated beside the plan (a new key's secret comes from the system's
    // random source, which the pure plan does not take).
    if let Some(at) = crate::networks::keys::rotate(store, &encrypted, now).await? {
        outcome.wake_at = Some(outcome.wake_at.map_or(at, |w| w.min(at)));
    }
    for batch in plan.batches {
        match store.commit(batch).await {
            Ok(_) => outcome.committed += 1,
            Err(Refused::Write(cluster_raft::WriteError::Refused(err))) => {
                tracing::debug!(cause = %err, "control batch refused; deciding again");
                outcome.refused += 1;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(outcome)
}

/// Runs the control loop of this manager until its raft thread stops.
pub async fn run(raft: RaftHandle, liveness: Arc<Liveness>) {
    let mut progress = raft.progress();
    let store = RaftStore::new(raft.clone(), CALL_TIMEOUT);
    loop {
        let term = match progress.wait_for(|p| p.leader).await {
            Ok(p) => p.term,
            Err(_) => return,
        };
        tracing::info!(term, "leading: control loop starts");
        lead(&store, &raft, &liveness, &mut progress, term).await;
        tracing::info!(term, "control loop stops: no longer leading");
    }
}

fn still_leads(progress: &watch::Receiver<Progress>, term: u64) -> bool {
    let p = *progress.borrow();
    p.leader && p.term == term
}

/// Passes while this manager leads in `term`.
async fn lead(
    store: &RaftStore,
    raft: &RaftHandle,
    liveness: &Liveness,
    progress: &mut watch::Receiver<Progress>,
    term: u64,
) {
    let leading_since = Instant::now();
    // When each manager was last reachable while this manager led.
    let mut last_reachable: BTreeMap<u64, Instant> = BTreeMap::new();
    loop {
        let mut next = Instant::now() + RESYNC;
        let Ok(reachable) = raft.reachable().await else {
            return;
        };
        let seen = Instant::now();
        for raft_id in &reachable {
            last_reachable.insert(*raft_id, seen);
        }
        let view = LivenessView {
            now: seen,
            leading_since,
            grace: DOWN_AFTER,
            failover_grace: FAILOVER_GRACE,
            reachable: &reachable,
            last_reachable: &last_reachable,
            heard_since: |node: &str, since: Instant| liveness.heard_since(node, since),
        };
        let started = now();
        match pass(store, |node| view.status(node), started, new_task_id).await {
            Ok(outcome) => {
                if outcome.committed + outcome.refused > 0 {
                    tracing::debug!(?outcome, "control pass");
                }
                if outcome.refused > 0 {
                    next = next.min(Instant::now() + RETRY);
                }
                if let Some(at) = outcome.wake_at {
                    let wait = at.since(now());
                    next = next.min(Instant::now() + wait);
                }
            }
            Err(Refused::Stopped) => return,
            Err(refused) => {
                tracing::debug!(cause = %refused, "control pass failed");
                next = next.min(Instant::now() + RETRY);
            }
        }
        if !still_leads(progress, term) {
            return;
        }
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() {
                    return;
                }
                debounce(progress).await;
            }
            () = tokio::time::sleep_until(next.into()) => {}
        }
        if !still_leads(progress, term) {
            return;
        }
    }
}

/// Waits until `progress` has been quiet for [`DEBOUNCE`], or [`DEBOUNCE_CAP`] passed.
async fn debounce(progress: &mut watch::Receiver<Progress>) {
    let cap = tokio::time::Instant::now() + DEBOUNCE_CAP;
    loop {
        let quiet = (tokio::time::Instant::now() + DEBOUNCE).min(cap);
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() || tokio::time::Instant::now() >= cap {
                    return;
                }
            }
            () = tokio::time::sleep_until(quiet) => return,
        }
    }
}
