//! Durable raft storage on redb: the log, HardState, ConfState, the compaction point, the
//! applied index and the store's records, all in one database file so that a Ready is
//! persisted (fsync'd) in a single transaction.
//!
//! The applied index is written in the same transaction as the records it produced, so a
//! restarted node neither loses nor re-applies an entry.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage};
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use super::codec::{self, DecodeError};
use crate::store::{Record, RecordKey, Store};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("store_records");

const HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const COMPACTED: &str = "compacted";
const APPLIED: &str = "applied";
const REMOVED: &str = "removed_ids";

/// Errors of the raft storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed.
    #[error("raft storage {path}: {source}")]
    Db {
        /// Database file.
        path: PathBuf,
        /// The redb error.
        #[source]
        source: redb::Error,
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
}

impl std::fmt::Debug for RaftStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftStorage")
            .field("path", &self.path)
            .field("state", &self.state)
            .finish()
    }
}

/// One pending transaction: a Ready's snapshot, entries, HardState and applied records.
/// Nothing is visible to raft until [`RaftStorage::commit`].
pub struct LogWriter {
    txn: WriteTransaction,
    state: PersistedState,
    path: PathBuf,
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
        Ok(RaftStorage { db, path, state })
    }

    /// Makes this storage the first member set of a new cluster: `voters` at index 1, term 1.
    /// Refused when the storage already holds a cluster.
    pub fn bootstrap(&mut self, voters: &[u64]) -> Result<(), StorageError> {
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

    /// Whether the storage holds a cluster membership.
    pub fn is_initialized(&self) -> bool {
        self.state.conf_state != ConfState::default()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of the last entry applied to the store.
    pub fn applied(&self) -> u64 {
        self.state.applied
    }

    /// The persisted HardState.
    pub fn hard_state(&self) -> &HardState {
        &self.state.hard_state
    }

    /// The membership as of the applied index.
    pub fn conf_state(&self) -> &ConfState {
        &self.state.conf_state
    }

    /// Index and term of the last compacted entry.
    pub fn compacted(&self) -> (u64, u64) {
        self.state.compacted
    }

    /// Raft ids removed from the cluster; never to be used again.
    pub fn removed_ids(&self) -> &BTreeSet<u64> {
        &self.state.removed
    }

    /// Loads the store's records as of the applied index.
    pub fn load_store(&self) -> Result<Store, StorageError> {
        let txn = self.db.begin_read().map_err(|e| db_err(&self.path, e))?;
        let table = txn.open_table(RECORDS).map_err(|e| db_err(&self.path, e))?;
        read_records(&self.path, &table)
    }

    /// Starts a transaction.
    pub fn writer(&self) -> Result<LogWriter, StorageError> {
        let txn = self.db.begin_write().map_err(|e| db_err(&self.path, e))?;
        Ok(LogWriter {
            txn,
            state: self.state.clone(),
            path: self.path.clone(),
        })
    }

    /// Commits a transaction durably (fsync) and makes it visible to raft.
    pub fn commit(&mut self, writer: LogWriter) -> Result<(), StorageError> {
        let LogWriter { txn, state, .. } = writer;
        {
            let mut meta = txn.open_table(META).map_err(|e| db_err(&self.path, e))?;
            write_meta(&self.path, &mut meta, &state)?;
        }
        txn.commit().map_err(|e| db_err(&self.path, e))?;
        self.state = state;
        Ok(())
    }

    /// Reads the log entries in `[low, high)` that are still stored.
    pub fn log_entries(&self, low: u64, high: u64) -> Result<Vec<Entry>, StorageError> {
        self.read_entries(low.max(self.state.compacted.0 + 1), high)
    }

    /// Index of the last entry in the log.
    pub fn last_index(&self) -> u64 {
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
        let mut snapshot = Snapshot::default();
        snapshot.data = store
            .encode()
            .map_err(|source| StorageError::Record {
                path: self.path.clone(),
                key: "snapshot".to_owned(),
                source,
            })?
            .into();
        let metadata = snapshot.mut_metadata();
        metadata.index = state.applied;
        metadata.term = term;
        metadata.conf_state = Some(state.conf_state);
        Ok(snapshot)
    }
}

impl LogWriter {
    /// Replaces everything with a snapshot received from the leader: the store, the log (now
    /// empty after the snapshot point), the membership and the applied index.
    pub fn install_snapshot(
        &mut self,
        snapshot: &Snapshot,
        store: &Store,
    ) -> Result<(), StorageError> {
        let meta = snapshot.get_metadata();
        let (index, term) = (meta.index, meta.term);
        let path = self.path.clone();
        {
            let mut log = self.txn.open_table(LOG).map_err(|e| db_err(&path, e))?;
            log.retain(|_, _| false).map_err(|e| db_err(&path, e))?;
            let mut records = self.txn.open_table(RECORDS).map_err(|e| db_err(&path, e))?;
            records.retain(|_, _| false).map_err(|e| db_err(&path, e))?;
            for record in store.iter() {
                put_record(&path, &mut records, record)?;
            }
        }
        let state = &mut self.state;
        state.compacted = (index, term);
        state.last_index = index;
        state.applied = index;
        state.conf_state = meta.get_conf_state().clone();
        state.hard_state.commit = state.hard_state.commit.max(index);
        state.hard_state.term = state.hard_state.term.max(term);
        Ok(())
    }

    /// Appends entries, first dropping any conflicting suffix of the log.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        if first.index <= self.state.compacted.0 || first.index > self.state.last_index + 1 {
            return Err(StorageError::Invariant {
                path: self.path.clone(),
                message: format!(
                    "cannot append entries from {} to a log holding {}..={}",
                    first.index,
                    self.state.compacted.0 + 1,
                    self.state.last_index
                ),
            });
        }
        let path = self.path.clone();
        let mut log = self.txn.open_table(LOG).map_err(|e| db_err(&path, e))?;
        log.retain_in(first.index.., |_, _| false)
            .map_err(|e| db_err(&path, e))?;
        for entry in entries {
            log.insert(entry.index, codec::encode(entry).as_slice())
                .map_err(|e| db_err(&path, e))?;
        }
        self.state.last_index = last.index;
        Ok(())
    }

    /// Sets the HardState.
    pub fn set_hard_state(&mut self, hard_state: &HardState) {
        self.state.hard_state = hard_state.clone();
    }

    /// Raises the commit index of the HardState.
    pub fn set_commit(&mut self, commit: u64) {
        self.state.hard_state.commit = commit;
    }

    /// Sets the membership (as of the applied index).
    pub fn set_conf_state(&mut self, conf_state: &ConfState) {
        self.state.conf_state = conf_state.clone();
    }

    /// Records a raft id as removed forever.
    pub fn add_removed(&mut self, id: u64) {
        self.state.removed.insert(id);
    }

    /// Sets the applied index.
    pub fn set_applied(&mut self, index: u64) {
        self.state.applied = index;
    }

    /// The applied index as of this transaction.
    pub fn applied(&self) -> u64 {
        self.state.applied
    }

    /// The compaction point as of this transaction.
    pub fn compacted(&self) -> (u64, u64) {
        self.state.compacted
    }

    /// Writes the current content of the records under `keys` (deleting absent ones).
    pub fn write_records<'a>(
        &mut self,
        store: &Store,
        keys: impl IntoIterator<Item = &'a RecordKey>,
    ) -> Result<(), StorageError> {
        let path = self.path.clone();
        let mut records = self.txn.open_table(RECORDS).map_err(|e| db_err(&path, e))?;
        for key in keys {
            match store.get(key) {
                Some(record) => put_record(&path, &mut records, record)?,
                None => {
                    records
                        .remove(key.to_string().as_str())
                        .map_err(|e| db_err(&path, e))?;
                }
            }
        }
        Ok(())
    }

    /// Drops log entries up to and including `index`, which must be applied.
    pub fn compact(&mut self, index: u64) -> Result<(), StorageError> {
        if index <= self.state.compacted.0 {
            return Ok(());
        }
        if index > self.state.applied {
            return Err(StorageError::Invariant {
                path: self.path.clone(),
                message: format!(
                    "cannot compact to {index} beyond applied index {}",
                    self.state.applied
                ),
            });
        }
        let path = self.path.clone();
        let mut log = self.txn.open_table(LOG).map_err(|e| db_err(&path, e))?;
        let term = match log.get(index).map_err(|e| db_err(&path, e))? {
            Some(value) => decode_at::<Entry>(&path, value.value(), "log entry")?.term,
            None => {
                return Err(StorageError::Invariant {
                    path,
                    message: format!("cannot compact to {index}: entry missing"),
                });
            }
        };
        log.retain_in(..=index, |_, _| false)
            .map_err(|e| db_err(&path, e))?;
        self.state.compacted = (index, term);
        Ok(())
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

fn to_raft(err: StorageError) -> raft::Error {
    raft::Error::Store(raft::StorageError::Other(Box::new(err)))
}

fn db_err(path: &Path, err: impl Into<redb::Error>) -> StorageError {
    StorageError::Db {
        path: path.to_path_buf(),
        source: err.into(),
    }
}

fn decode_at<T: prost::Message + Default>(
    path: &Path,
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StorageError> {
    codec::decode(bytes, what).map_err(|source| StorageError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

fn load_state(
    path: &Path,
    log: &impl ReadableTable<u64, &'static [u8]>,
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<PersistedState, StorageError> {
    let get = |key: &str| -> Result<Option<Vec<u8>>, StorageError> {
        Ok(meta
            .get(key)
            .map_err(|e| db_err(path, e))?
            .map(|v| v.value().to_vec()))
    };
    let hard_state = match get(HARD_STATE)? {
        Some(bytes) => decode_at(path, &bytes, "hard state")?,
        None => HardState::default(),
    };
    let conf_state = match get(CONF_STATE)? {
        Some(bytes) => decode_at(path, &bytes, "conf state")?,
        None => ConfState::default(),
    };
    let compacted = match get(COMPACTED)? {
        Some(bytes) => (read_u64(path, &bytes, 0)?, read_u64(path, &bytes, 8)?),
        None => (0, 0),
    };
    let applied = match get(APPLIED)? {
        Some(bytes) => read_u64(path, &bytes, 0)?,
        None => 0,
    };
    let mut removed = BTreeSet::new();
    if let Some(bytes) = get(REMOVED)? {
        for offset in (0..bytes.len()).step_by(8) {
            removed.insert(read_u64(path, &bytes, offset)?);
        }
    }
    let last_index = match log.last().map_err(|e| db_err(path, e))? {
        Some((key, _)) => key.value(),
        None => compacted.0,
    };
    Ok(PersistedState {
        hard_state,
        conf_state,
        compacted,
        last_index: last_index.max(compacted.0),
        applied,
        removed,
    })
}

fn write_meta(
    path: &Path,
    meta: &mut redb::Table<&'static str, &'static [u8]>,
    state: &PersistedState,
) -> Result<(), StorageError> {
    let mut compacted = state.compacted.0.to_le_bytes().to_vec();
    compacted.extend_from_slice(&state.compacted.1.to_le_bytes());
    let removed: Vec<u8> = state
        .removed
        .iter()
        .flat_map(|id| id.to_le_bytes())
        .collect();
    let values: [(&str, Vec<u8>); 5] = [
        (HARD_STATE, codec::encode(&state.hard_state)),
        (CONF_STATE, codec::encode(&state.conf_state)),
        (COMPACTED, compacted),
        (APPLIED, state.applied.to_le_bytes().to_vec()),
        (REMOVED, removed),
    ];
    for (key, value) in values {
        meta.insert(key, value.as_slice())
            .map_err(|e| db_err(path, e))?;
    }
    Ok(())
}

fn read_u64(path: &Path, bytes: &[u8], offset: usize) -> Result<u64, StorageError> {
    bytes
        .get(offset..offset + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| StorageError::Invariant {
            path: path.to_path_buf(),
            message: "truncated integer in metadata".to_owned(),
        })
}

fn put_record(
    path: &Path,
    table: &mut redb::Table<&'static str, &'static [u8]>,
    record: &Record,
) -> Result<(), StorageError> {
    let key = record.key().to_string();
    let bytes = serde_json::to_vec(record).map_err(|source| StorageError::Record {
        path: path.to_path_buf(),
        key: key.clone(),
        source,
    })?;
    table
        .insert(key.as_str(), bytes.as_slice())
        .map_err(|e| db_err(path, e))?;
    Ok(())
}

fn read_records(
    path: &Path,
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Store, StorageError> {
    let mut records = Vec::new();
    for item in table.iter().map_err(|e| db_err(path, e))? {
        let (key, value) = item.map_err(|e| db_err(path, e))?;
        let record: Record =
            serde_json::from_slice(value.value()).map_err(|source| StorageError::Record {
                path: path.to_path_buf(),
                key: key.value().to_owned(),
                source,
            })?;
        records.push(record);
    }
    Ok(Store::from_records(records))
}
