//! Durable raft storage on redb: the log, HardState, ConfState, the compaction point, the
//! applied index and the store's records, all in one database file so that a Ready is
//! persisted (fsync'd) in a single transaction.
//!
//! The applied index is written in the same transaction as the records it produced, so a
//! restarted node neither loses nor re-applies an entry.

mod tables;
mod terms;
mod writer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage};
use redb::Database;

use super::codec::DecodeError;
use cluster_state::Store;
use tables::{
    LOG, META, RECORDS, db_err, decode_at, load_state, read_records, to_raft, write_meta,
};
pub(crate) use writer::LogWriter;

/// Errors of the raft storage.
/// Errors of the raft storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed.
    #[error("raft storage {path}: {source}")]
    Db {
        /// Database file.
        path: PathBuf,
        /// The redb error (boxed: it is large).
        #[source]
        source: Box<redb::Error>,
    },
    /// A stored value is corrupt.
    #[error("raft storage {path}: {source}")]
    Decode {
        /// Database file.
        path: PathBuf,
        /// What could not be decoded.
        #[source]
        source: DecodeError,
    },
    /// A stored record is corrupt.
    #[error("raft storage {path}: cannot decode record {key}: {source}")]
    Record {
        /// Database file.
        path: PathBuf,
        /// The record key.
        key: String,
        /// The json error.
        #[source]
        source: serde_json::Error,
    },
    /// A write that would break the log's invariants.
    #[error("raft storage {path}: {message}")]
    Invariant {
        /// Database file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The storage already holds a cluster.
    #[error("raft storage {0} is already initialized")]
    AlreadyInitialized(PathBuf),
}

/// Everything persisted besides the log entries and records, cached in memory.
/// Everything persisted besides the log entries and records, cached in memory.
#[derive(Debug, Clone, Default, PartialEq)]
struct PersistedState {
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the last entry removed from the log (the snapshot point).
    compacted: (u64, u64),
    last_index: u64,
    applied: u64,
    removed: BTreeSet<u64>,
}

/// Durable storage for one raft node, implementing raft-rs's [`Storage`].
pub struct RaftStorage {
    db: Database,
    path: PathBuf,
    state: PersistedState,
    /// The terms of the log's entries, so that [`Storage::term`] reads no entry.
    terms: terms::Terms,
}

impl std::fmt::Debug for RaftStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftStorage")
            .field("path", &self.path)
            .field("state", &self.state)
            .finish()
    }
}

impl RaftStorage {
    /// Opens (or creates) the database at `path` and loads its persisted state.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let path = path.to_path_buf();
        let db = Database::create(&path).map_err(|e| db_err(&path, e))?;
        let txn = db.begin_write().map_err(|e| db_err(&path, e))?;
        let state = {
            let log = txn.open_table(LOG).map_err(|e| db_err(&path, e))?;
            let meta = txn.open_table(META).map_err(|e| db_err(&path, e))?;
            txn.open_table(RECORDS).map_err(|e| db_err(&path, e))?;
            load_state(&path, &log, &meta)?
        };
        txn.commit().map_err(|e| db_err(&path, e))?;
        let mut storage = RaftStorage {
            db,
            path,
            state,
            terms: terms::Terms::default(),
        };
        let (first, last) = (storage.state.compacted.0 + 1, storage.state.last_index);
        for entry in storage.read_entries(first, last + 1)? {
            storage.terms.put(entry.index, entry.term);
        }
        Ok(storage)
    }

    /// Makes this storage the first member set of a new cluster: `voters` at index 1, term 1.
    /// Refused when the storage already holds a cluster.
    pub(crate) fn bootstrap(&mut self, voters: &[u64]) -> Result<(), StorageError> {
        if self.is_initialized() {
            return Err(StorageError::AlreadyInitialized(self.path.clone()));
        }
        let mut writer = self.writer()?;
        writer.state.conf_state = ConfState::from((voters.iter().copied(), Vec::<u64>::new()));
        writer.state.compacted = (1, 1);
        writer.state.last_index = 1;
        writer.state.applied = 1;
        writer.state.hard_state.term = 1;
        writer.state.hard_state.commit = 1;
        self.commit(writer)
    }

    /// Rebuilds a one-manager cluster of `id` from this storage's applied state (disaster
    /// recovery); see [`LogWriter::force_new_cluster`].
    pub(crate) fn force_new_cluster(&mut self, id: u64) -> Result<(), StorageError> {
        if !self.is_initialized() {
            return Err(StorageError::Invariant {
                path: self.path.clone(),
                message: "no cluster state to rebuild from".to_owned(),
            });
        }
        let mut writer = self.writer()?;
        writer.force_new_cluster(id)?;
        self.commit(writer)
    }

    testing_pub! {
        /// Whether the storage holds a cluster membership.
        fn is_initialized(&self) -> bool {
            self.state.conf_state != ConfState::default()
        }
    }

    testing_pub! {
        /// Index of the last entry applied to the store.
        fn applied(&self) -> u64 {
            self.state.applied
        }
    }

    /// The persisted HardState.
    #[cfg(test)]
    pub(crate) fn hard_state(&self) -> &HardState {
        &self.state.hard_state
    }

    /// Index and term of the last compacted entry.
    #[cfg(feature = "testing")]
    pub fn compacted(&self) -> (u64, u64) {
        self.state.compacted
    }

    testing_pub! {
        /// Raft ids removed from the cluster; never to be used again.
        fn removed_ids(&self) -> &BTreeSet<u64> {
            &self.state.removed
        }
    }

    /// Loads the store's records as of the applied index.
    pub fn load_store(&self) -> Result<Store, StorageError> {
        let txn = self.db.begin_read().map_err(|e| db_err(&self.path, e))?;
        let table = txn.open_table(RECORDS).map_err(|e| db_err(&self.path, e))?;
        read_records(&self.path, &table)
    }

    /// Starts a transaction.
    pub(crate) fn writer(&self) -> Result<LogWriter, StorageError> {
        let txn = self.db.begin_write().map_err(|e| db_err(&self.path, e))?;
        Ok(LogWriter {
            txn,
            state: self.state.clone(),
            path: self.path.clone(),
            appended: Vec::new(),
        })
    }

    /// Commits a transaction durably (fsync) and makes it visible to raft.
    pub(crate) fn commit(&mut self, writer: LogWriter) -> Result<(), StorageError> {
        let LogWriter {
            txn,
            state,
            appended,
            ..
        } = writer;
        {
            let mut meta = txn.open_table(META).map_err(|e| db_err(&self.path, e))?;
            write_meta(&self.path, &mut meta, &state)?;
        }
        txn.commit().map_err(|e| db_err(&self.path, e))?;
        for (index, term) in appended {
            self.terms.put(index, term);
        }
        self.terms.keep(state.compacted.0 + 1, state.last_index);
        self.state = state;
        Ok(())
    }

    /// Reads the log entries in `[low, high)` that are still stored.
    #[cfg(feature = "sim")]
    pub(crate) fn log_entries(&self, low: u64, high: u64) -> Result<Vec<Entry>, StorageError> {
        self.read_entries(low.max(self.state.compacted.0 + 1), high)
    }

    /// Index of the last entry in the log.
    #[cfg(feature = "sim")]
    pub(crate) fn last_log_index(&self) -> u64 {
        self.state.last_index
    }

    fn read_entries(&self, low: u64, high: u64) -> Result<Vec<Entry>, StorageError> {
        let txn = self.db.begin_read().map_err(|e| db_err(&self.path, e))?;
        let log = txn.open_table(LOG).map_err(|e| db_err(&self.path, e))?;
        let mut entries = Vec::with_capacity(high.saturating_sub(low) as usize);
        if low >= high {
            return Ok(entries);
        }
        for item in log.range(low..high).map_err(|e| db_err(&self.path, e))? {
            let (_, value) = item.map_err(|e| db_err(&self.path, e))?;
            entries.push(decode_at(&self.path, value.value(), "log entry")?);
        }
        Ok(entries)
    }

    fn entry_term(&self, index: u64) -> Result<Option<u64>, StorageError> {
        let txn = self.db.begin_read().map_err(|e| db_err(&self.path, e))?;
        let log = txn.open_table(LOG).map_err(|e| db_err(&self.path, e))?;
        let value = log.get(index).map_err(|e| db_err(&self.path, e))?;
        match value {
            Some(value) => Ok(Some(
                decode_at::<Entry>(&self.path, value.value(), "log entry")?.term,
            )),
            None => Ok(None),
        }
    }

    /// Builds a snapshot of the store at its applied index, read in one transaction.
    fn build_snapshot(&self) -> Result<Snapshot, StorageError> {
        let txn = self.db.begin_read().map_err(|e| db_err(&self.path, e))?;
        let log = txn.open_table(LOG).map_err(|e| db_err(&self.path, e))?;
        let meta = txn.open_table(META).map_err(|e| db_err(&self.path, e))?;
        let records = txn.open_table(RECORDS).map_err(|e| db_err(&self.path, e))?;
        let state = load_state(&self.path, &log, &meta)?;
        let store = read_records(&self.path, &records)?;
        let term = if state.applied == state.compacted.0 {
            state.compacted.1
        } else {
            let value = log
                .get(state.applied)
                .map_err(|e| db_err(&self.path, e))?
                .ok_or_else(|| StorageError::Invariant {
                    path: self.path.clone(),
                    message: format!("applied entry {} missing from the log", state.applied),
                })?;
            decode_at::<Entry>(&self.path, value.value(), "log entry")?.term
        };
        let data = store.encode().map_err(|source| StorageError::Record {
            path: self.path.clone(),
            key: "snapshot".to_owned(),
            source,
        })?;
        let mut snapshot = Snapshot {
            data,
            ..Snapshot::default()
        };
        let metadata = snapshot.mut_metadata();
        metadata.index = state.applied;
        metadata.term = term;
        metadata.conf_state = Some(state.conf_state);
        Ok(snapshot)
    }
}

impl Storage for RaftStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.state.hard_state.clone(),
            self.state.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.state.compacted.0 {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > self.state.last_index + 1 {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        let mut entries = self.read_entries(low, high).map_err(to_raft)?;
        raft::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let (compacted, compacted_term) = self.state.compacted;
        if idx == compacted {
            return Ok(compacted_term);
        }
        if idx < compacted {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if idx > self.state.last_index {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        if let Some(term) = self.terms.get(idx) {
            return Ok(term);
        }
        self.entry_term(idx)
            .map_err(to_raft)?
            .ok_or(raft::Error::Store(raft::StorageError::Unavailable))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.state.compacted.0 + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.state.last_index)
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let snapshot = self.build_snapshot().map_err(to_raft)?;
        if snapshot.get_metadata().index < request_index {
            return Err(raft::Error::Store(
                raft::StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(snapshot)
    }
}
