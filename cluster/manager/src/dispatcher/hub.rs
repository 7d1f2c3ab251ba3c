//! The assignments of every node as this manager's applied store says, recomputed when
//! entries apply (at most every [`DEBOUNCE`], or every twice the time the last recompute
//! took when that is longer) and shared with the sessions through a watch
//! channel. A follower serves them from its own store: it may lag the leader by a few
//! entries, and it keeps serving the last set it had while the managers lack a quorum (so
//! nodes keep their tasks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::dispatcher::sets::{AllSets, assignments};
use crate::driver::{Query, RaftHandle};
use cluster_state::{Kind, Record};

/// The least time between two recomputations.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(50);

/// Every node's end of the routing mesh, by node id.
pub(crate) type AllIngress = std::collections::BTreeMap<
    orchestrator::swarm::NodeId,
    crate::dispatcher::networks::NodeIngress,
>;

/// Every node's standalone containers on attachable overlays, by node id.
pub(crate) type AllAttached = std::collections::BTreeMap<
    orchestrator::swarm::NodeId,
    crate::dispatcher::networks::NodeAttachments,
>;

/// Recomputes the sets into `sets` (and the nodes' ends of the routing mesh into `ingress`,
/// their standalone containers on overlays into `attached`) whenever the store applies
/// entries, until the raft thread stops.
pub(crate) async fn run(
    raft: RaftHandle,
    sets: watch::Sender<Arc<AllSets>>,
    (ingress, attached): (
        watch::Sender<Arc<AllIngress>>,
        watch::Sender<Arc<AllAttached>>,
    ),
) {
    let mut applied = raft.progress();
    loop {
        let read = async {
            // Nodes and networks: the overlay side of the assignments (underlay addresses,
            // liveness, VXLAN identifiers).
            let kinds = vec![Kind::Service, Kind::Task, Kind::Node, Kind::Network];
            let (mut records, _) = raft.local_records(Query::Kinds(kinds)).await?;
            // Secrets and configs (unsealed by the read): only when a task's spec has files.
            if records.iter().any(has_files) {
                let (files, _) = raft
                    .local_records(Query::Kinds(vec![Kind::Secret, Kind::Config]))
                    .await?;
                records.extend(files);
            }
            Ok::<_, crate::driver::Refused>(records)
        };
        let started = Instant::now();
        let Ok(records) = read.await else {
            return;
        };
        // Computing every node's set (and comparing it with the last) costs time in the
        // number of tasks: off the runtime's workers, which answer heartbeats and sessions.
        let last = (
            Arc::clone(&ingress.borrow()),
            Arc::clone(&attached.borrow()),
            Arc::clone(&sets.borrow()),
        );
        let computed = tokio::task::spawn_blocking(move || {
            let (mesh, standalone) = crate::dispatcher::networks::mesh_and_attachments(&records);
            let next = assignments(&records);
            (
                (*last.0 != mesh).then_some(mesh),
                (*last.1 != standalone).then_some(standalone),
                (*last.2 != next).then_some(next),
            )
        })
        .await;
        let (mesh, standalone, next) = match computed {
            Ok(computed) => computed,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            // The runtime is shutting down.
            Err(_) => return,
        };
        // Only this task sends on these channels: what was compared is what they hold.
        if let Some(mesh) = mesh {
            ingress.send_replace(Arc::new(mesh));
        }
        if let Some(standalone) = standalone {
            attached.send_replace(Arc::new(standalone));
        }
        if let Some(next) = next {
            sets.send_replace(Arc::new(next));
        }
        // Under a stream of entries (a thousand nodes reporting), recompute at most half of
        // the time: the read is answered on the raft thread, which also keeps the leadership.
        tokio::time::sleep(DEBOUNCE.max(started.elapsed())).await;
        if applied.changed().await.is_err() {
            return;
        }
    }
}

/// Whether `record` is a task whose spec names secrets or configs.
fn has_files(record: &Record) -> bool {
    matches!(record, Record::Task(t) if !t.task.spec.secrets.is_empty() || !t.task.spec.configs.is_empty())
}

/// How often a manager checks that it still follows a leader with a quorum.
pub(crate) const LEADER_CHECK: Duration = Duration::from_secs(1);

/// Publishes into `led` whether this manager knows a leader and sees a quorum, checked every
/// [`LEADER_CHECK`], until the raft thread stops. Sessions end, and new ones are refused,
/// while it does not: its store may then lag without bound, and nodes keep their saved sets.
pub(crate) async fn watch_leader(raft: RaftHandle, led: watch::Sender<bool>) {
    loop {
        let Ok(view) = raft.status().await else {
            return;
        };
        let leads = view.status.leader.is_some() && view.quorum_error.is_none();
        led.send_if_modified(|current| {
            let changed = *current != leads;
            *current = leads;
            changed
        });
        tokio::time::sleep(LEADER_CHECK).await;
    }
}
