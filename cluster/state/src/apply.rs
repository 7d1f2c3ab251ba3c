//! Deterministic application of a committed batch to the store.

use std::collections::BTreeSet;

use super::Store;
use super::command::{Batch, Command};
use super::records::{Record, RecordKey, Task};

/// Why a batch was refused. A refused batch changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The id is already taken.
    #[error("{0} already exists")]
    Exists(RecordKey),
    /// Another record of the kind has the name.
    #[error("{kind} name {name:?} already in use by {kind}/{holder}")]
    NameInUse {
        /// Record kind.
        kind: super::Kind,
        /// The contested name.
        name: String,
        /// Id of the record holding it.
        holder: String,
    },
    /// The record is not in the store.
    #[error("{0} not found")]
    NotFound(RecordKey),
    /// The record changed since the proposer read it.
    #[error("{key} is at version {actual}, expected {expected}")]
    VersionMismatch {
        /// Which record.
        key: RecordKey,
        /// Version the proposer expected.
        expected: u64,
        /// Version in the store.
        actual: u64,
    },
    /// A record without an id.
    #[error("{0} record has an empty id")]
    EmptyId(super::Kind),
    /// A command that only writes task records given another kind.
    #[error("{0} is not a task: only tasks are written with their decisions alone")]
    NotATask(RecordKey),
}

impl Store {
    /// Applies `batch`, committed at raft `index`, all-or-nothing: on success returns the keys
    /// written or deleted; on refusal the commands already applied are undone, so the store is
    /// unchanged.
    pub fn apply(&mut self, index: u64, batch: &Batch) -> Result<BTreeSet<RecordKey>, ApplyError> {
        let mut undo: Vec<(RecordKey, Option<Record>)> = Vec::new();
        for command in &batch.commands {
            match self.apply_one(index, batch.stamp_ms, command) {
                Ok(previous) => undo.push(previous),
                Err(err) => {
                    for (key, previous) in undo.into_iter().rev() {
                        match previous {
                            Some(record) => self.insert(record),
                            None => self.remove(&key),
                        };
                    }
                    return Err(err);
                }
            }
        }
        Ok(undo.into_iter().map(|(key, _)| key).collect())
    }

    fn apply_one(
        &mut self,
        index: u64,
        stamp_ms: u64,
        command: &Command,
    ) -> Result<(RecordKey, Option<Record>), ApplyError> {
        match command {
            Command::Create(record) => {
                let key = record.key();
                if key.id.is_empty() {
                    return Err(ApplyError::EmptyId(key.kind));
                }
                if self.get(&key).is_some() {
                    return Err(ApplyError::Exists(key));
                }
                self.check_name(record)?;
                let mut record = record.clone();
                let meta = record.meta_mut();
                meta.version = index;
                meta.created_at_ms = stamp_ms;
                meta.updated_at_ms = stamp_ms;
                if let Record::Task(task) = &mut record {
                    task.decided = index;
                }
                let previous = self.insert(record);
                Ok((key, previous))
            }
            Command::Update {
                record,
                expected_version,
            } => {
                let key = record.key();
                let current = self
                    .get(&key)
                    .ok_or_else(|| ApplyError::NotFound(key.clone()))?;
                check_version(&key, *expected_version, current.meta().version)?;
                let created = current.meta().created_at_ms;
                self.check_name(record)?;
                let mut record = record.clone();
                if let (Record::Task(task), Record::Task(before)) = (&mut record, current) {
                    task.decided = decided_at(task, before, index);
                }
                let meta = record.meta_mut();
                meta.version = index;
                meta.created_at_ms = created;
                meta.updated_at_ms = stamp_ms;
                let previous = self.insert(record);
                Ok((key, previous))
            }
            Command::UpdateDecided {
                record,
                expected_version,
                expected_decided,
            } => {
                let key = record.key();
                let current = self
                    .get(&key)
                    .ok_or_else(|| ApplyError::NotFound(key.clone()))?;
                let (Record::Task(task), Record::Task(before)) = (record, current) else {
                    return Err(ApplyError::NotATask(key));
                };
                let mut task = task.clone();
                if before.meta.version != *expected_version {
                    // Only status reports came in since the read: the decisions hold, the
                    // status stays as reported.
                    if *expected_decided == 0 || before.decided != *expected_decided {
                        check_version(&key, *expected_version, before.meta.version)?;
                    }
                    task.task.status = before.task.status.clone();
                }
                task.decided = decided_at(&task, before, index);
                task.meta.version = index;
                task.meta.created_at_ms = before.meta.created_at_ms;
                task.meta.updated_at_ms = stamp_ms;
                let previous = self.insert(Record::Task(task));
                Ok((key, previous))
            }
            Command::Delete {
                key,
                expected_version,
            } => {
                let current = self
                    .get(key)
                    .ok_or_else(|| ApplyError::NotFound(key.clone()))?;
                if let Some(expected) = expected_version {
                    check_version(key, *expected, current.meta().version)?;
                }
                let previous = self.remove(key);
                Ok((key.clone(), previous))
            }
        }
    }

    /// Refuses a name held by another record of the same kind.
    fn check_name(&self, record: &Record) -> Result<(), ApplyError> {
        let Some(name) = record.name() else {
            return Ok(());
        };
        let kind = record.kind();
        match self.by_name(kind, name) {
            Some(holder) if holder.meta().id != record.meta().id => Err(ApplyError::NameInUse {
                kind,
                name: name.to_owned(),
                holder: holder.meta().id.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// The `decided` of task record `task` written at `index` over `before`: kept when only the
/// status changed, `index` otherwise.
fn decided_at(task: &Task, before: &Task, index: u64) -> u64 {
    if task.same_decisions(before) {
        before.decided
    } else {
        index
    }
}

fn check_version(key: &RecordKey, expected: u64, actual: u64) -> Result<(), ApplyError> {
    if expected == actual {
        Ok(())
    } else {
        Err(ApplyError::VersionMismatch {
            key: key.clone(),
            expected,
            actual,
        })
    }
}
