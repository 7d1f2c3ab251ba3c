//! The redb tables of the raft storage and the encoding of what they hold.

use std::collections::BTreeSet;
use std::path::Path;

use raft::eraftpb::{ConfState, HardState};
use redb::{ReadableTable, TableDefinition};

use super::{PersistedState, StorageError};
use crate::codec;
use cluster_state::{Record, Store};

pub(super) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
pub(super) const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("store_records");

const HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const COMPACTED: &str = "compacted";
const APPLIED: &str = "applied";
const REMOVED: &str = "removed_ids";

pub(super) fn to_raft(err: StorageError) -> raft::Error {
    raft::Error::Store(raft::StorageError::Other(Box::new(err)))
}

pub(super) fn db_err(path: &Path, err: impl Into<redb::Error>) -> StorageError {
    StorageError::Db {
        path: path.to_path_buf(),
        source: Box::new(err.into()),
    }
}

pub(super) fn decode_at<T: prost::Message + Default>(
    path: &Path,
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StorageError> {
    codec::decode(bytes, what).map_err(|source| StorageError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn load_state(
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

pub(super) fn write_meta(
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

pub(super) fn read_u64(path: &Path, bytes: &[u8], offset: usize) -> Result<u64, StorageError> {
    bytes
        .get(offset..offset + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| StorageError::Invariant {
            path: path.to_path_buf(),
            message: "truncated integer in metadata".to_owned(),
        })
}

pub(super) fn put_record(
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

pub(super) fn read_records(
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
