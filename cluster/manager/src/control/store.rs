//! Where the control loop reads and writes: a small trait, so the loop's batching and commit
//! logic can be tested against a fake store, and its implementation over the raft thread.

use std::future::Future;
use std::time::Duration;

use cluster_state::{Batch, Command, Kind, Record};

use crate::driver::{Query, RaftHandle, Refused};

/// The store as the control loop uses it.
pub trait StoreView: Sync {
    /// Every node, service, task and network record, as of one linearizable read.
    fn snapshot(&self) -> impl Future<Output = Result<Vec<Record>, Refused>> + Send;
    /// Proposes `commands` as one batch; resolves once applied (with the index) or refused.
    fn commit(&self, commands: Vec<Command>) -> impl Future<Output = Result<u64, Refused>> + Send;
}

/// The store behind this manager's raft thread.
#[derive(Debug, Clone)]
pub struct RaftStore {
    raft: RaftHandle,
    timeout: Duration,
}

impl RaftStore {
    /// The store of `raft`; reads and commits give up after `timeout` (a proposal lost to a
    /// leadership change never answers).
    pub fn new(raft: RaftHandle, timeout: Duration) -> Self {
        RaftStore { raft, timeout }
    }
}

impl StoreView for RaftStore {
    async fn snapshot(&self) -> Result<Vec<Record>, Refused> {
        let kinds = vec![Kind::Node, Kind::Service, Kind::Task, Kind::Network];
        let (records, _) =
            tokio::time::timeout(self.timeout, self.raft.read_records(Query::Kinds(kinds)))
                .await
                .map_err(|_| Refused::ReadInterrupted)??;
        Ok(records)
    }

    async fn commit(&self, commands: Vec<Command>) -> Result<u64, Refused> {
        tokio::time::timeout(self.timeout, self.raft.write(Batch::new(0, commands)))
            .await
            .map_err(|_| Refused::ReadInterrupted)?
    }
}
