//! The assignments of every node as this manager's applied store says, recomputed when
//! entries apply (at most every [`DEBOUNCE`]) and shared with the sessions through a watch
//! channel. A follower serves them from its own store: it may lag the leader by a few
//! entries, and it keeps serving the last set it had while the managers lack a quorum (so
//! nodes keep their tasks).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::admin::decode_records;
use crate::dispatcher::sets::{AllSets, assignments};
use crate::driver::{Query, RaftHandle};
use cluster_state::{Kind, Record};

/// The least time between two recomputations.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Recomputes the sets into `sets` whenever the store applies entries, until the raft
/// thread stops.
pub(crate) async fn run(raft: RaftHandle, sets: watch::Sender<Arc<AllSets>>) {
    let mut applied = raft.applied();
    loop {
        let read = async {
            let (services, _) = raft.local_read(Query::Kind(Kind::Service)).await?;
            let (tasks, _) = raft.local_read(Query::Kind(Kind::Task)).await?;
            Ok::<_, crate::driver::Refused>((services, tasks))
        };
        let Ok((services, tasks)) = read.await else {
            return;
        };
        let mut records: Vec<Record> = decode_records(&services).unwrap_or_default();
        records.extend(decode_records(&tasks).unwrap_or_default());
        let next = assignments(&records);
        sets.send_if_modified(|current| {
            let changed = **current != next;
            if changed {
                *current = Arc::new(next);
            }
            changed
        });
        tokio::time::sleep(DEBOUNCE).await;
        if applied.changed().await.is_err() {
            return;
        }
    }
}
