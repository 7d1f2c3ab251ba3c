//! The write side of the raft storage: one transaction per Ready, holding the snapshot,
//! entries, HardState, applied records and applied index until it is committed.

use std::path::PathBuf;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use redb::{ReadableTable, WriteTransaction};

use super::tables::{LOG, RECORDS, db_err, decode_at, put_record};
use super::{PersistedState, StorageError};
use crate::codec;
use cluster_state::{RecordKey, Store};

/// One pending transaction: a Ready's snapshot, entries, HardState and applied records.
/// Nothing is visible to raft until [`RaftStorage::commit`].
pub(crate) struct LogWriter {
    pub(super) txn: WriteTransaction,
    pub(super) state: PersistedState,
    pub(super) path: PathBuf,
    /// Index and term of each entry appended, in order, for the storage's terms.
    pub(super) appended: Vec<(u64, u64)>,
}

impl LogWriter {
    /// Replaces everything with a snapshot received from the leader: the store, the log (now
    /// empty after the snapshot point), the membership and the applied index.
    pub(crate) fn install_snapshot(
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
    pub(crate) fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
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
            self.appended.push((entry.index, entry.term));
        }
        self.state.last_index = last.index;
        Ok(())
    }

    /// Sets the HardState.
    pub(crate) fn set_hard_state(&mut self, hard_state: &HardState) {
        self.state.hard_state = hard_state.clone();
    }

    /// Raises the commit index of the HardState.
    pub(crate) fn set_commit(&mut self, commit: u64) {
        self.state.hard_state.commit = commit;
    }

    /// Sets the membership (as of the applied index).
    pub(crate) fn set_conf_state(&mut self, conf_state: &ConfState) {
        self.state.conf_state = conf_state.clone();
    }

    /// Records a raft id as removed forever.
    pub(crate) fn add_removed(&mut self, id: u64) {
        self.state.removed.insert(id);
    }

    /// Sets the applied index.
    pub(crate) fn set_applied(&mut self, index: u64) {
        self.state.applied = index;
    }

    /// The applied index as of this transaction.
    pub(crate) fn applied(&self) -> u64 {
        self.state.applied
    }

    /// The compaction point as of this transaction.
    pub(crate) fn compacted(&self) -> (u64, u64) {
        self.state.compacted
    }

    /// Writes the current content of the records under `keys` (deleting absent ones).
    pub(crate) fn write_records<'a>(
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
    pub(crate) fn compact(&mut self, index: u64) -> Result<(), StorageError> {
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

    /// Turns this member into the only manager of a new cluster built from its state: the log
    /// beyond the applied index is dropped, the applied prefix compacted, every other manager
    /// recorded as removed, and the term raised so that the rebuilt cluster never mixes with
    /// the old one's votes.
    pub(crate) fn force_new_cluster(&mut self, id: u64) -> Result<(), StorageError> {
        let applied = self.state.applied;
        if applied > self.state.compacted.0 {
            self.compact(applied)?;
        }
        let path = self.path.clone();
        {
            let mut log = self.txn.open_table(LOG).map_err(|e| db_err(&path, e))?;
            log.retain(|_, _| false).map_err(|e| db_err(&path, e))?;
        }
        let others: Vec<u64> = self
            .state
            .conf_state
            .voters
            .iter()
            .chain(&self.state.conf_state.learners)
            .copied()
            .filter(|other| *other != id)
            .collect();
        self.state.removed.extend(others);
        self.state.last_index = applied;
        self.state.conf_state = ConfState::from((vec![id], Vec::<u64>::new()));
        let term = self.state.hard_state.term.max(self.state.compacted.1) + 1;
        self.state.hard_state = HardState {
            term,
            vote: 0,
            commit: applied,
        };
        Ok(())
    }
}
