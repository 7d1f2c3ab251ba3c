//! Tests of the redb raft storage: the raft-rs `Storage` contract, conflicts, compaction,
//! snapshots and what survives a reopen.

use raft::eraftpb::{Entry, HardState};
use raft::{GetEntriesContext, Storage};

use super::storage::RaftStorage;
use cluster_state::{Batch, Command, Meta, Record, Store, Volume};

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("e{index}t{term}").into_bytes(),
        ..Entry::default()
    }
}

fn open(dir: &tempfile::TempDir) -> RaftStorage {
    RaftStorage::open(&dir.path().join("raft.redb")).unwrap()
}

fn bootstrapped(dir: &tempfile::TempDir) -> RaftStorage {
    let mut storage = open(dir);
    storage.bootstrap(&[1, 2, 3]).unwrap();
    let mut writer = storage.writer().unwrap();
    writer
        .append(&(2..=6).map(|i| entry(i, 1)).collect::<Vec<_>>())
        .unwrap();
    storage.commit(writer).unwrap();
    storage
}

fn ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

#[test]
fn bootstrap_sets_the_initial_membership_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = open(&dir);
    assert!(!storage.is_initialized());
    storage.bootstrap(&[1, 2, 3]).unwrap();
    let state = storage.initial_state().unwrap();
    assert_eq!(state.conf_state.voters, vec![1, 2, 3]);
    assert_eq!((state.hard_state.term, state.hard_state.commit), (1, 1));
    assert_eq!(storage.first_index().unwrap(), 2);
    assert_eq!(storage.last_index().unwrap(), 1);
    assert_eq!(storage.term(1).unwrap(), 1);
    let err = storage.bootstrap(&[1]).unwrap_err();
    assert!(err.to_string().ends_with("is already initialized"), "{err}");
}

#[test]
fn entries_and_terms_follow_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    let storage = bootstrapped(&dir);
    let got = storage.entries(2, 5, None, ctx()).unwrap();
    assert_eq!(
        got.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(storage.term(6).unwrap(), 1);
    assert!(matches!(
        storage.entries(1, 3, None, ctx()),
        Err(raft::Error::Store(raft::StorageError::Compacted))
    ));
    assert!(matches!(
        storage.term(7),
        Err(raft::Error::Store(raft::StorageError::Unavailable))
    ));
    // A size limit still returns at least one entry.
    assert_eq!(storage.entries(2, 7, Some(1), ctx()).unwrap().len(), 1);
}

#[test]
fn a_conflicting_append_replaces_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = bootstrapped(&dir);
    let mut writer = storage.writer().unwrap();
    writer.append(&[entry(4, 2), entry(5, 2)]).unwrap();
    storage.commit(writer).unwrap();
    assert_eq!(storage.last_index().unwrap(), 5);
    assert_eq!(storage.term(4).unwrap(), 2);
    assert_eq!(storage.term(3).unwrap(), 1);
    let mut writer = storage.writer().unwrap();
    let err = writer.append(&[entry(9, 2)]).unwrap_err();
    assert!(
        err.to_string().contains("cannot append entries from 9"),
        "{err}"
    );
}

#[test]
fn compaction_moves_the_first_index_and_keeps_the_term() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = bootstrapped(&dir);
    let mut writer = storage.writer().unwrap();
    writer.set_applied(5);
    writer.compact(4).unwrap();
    storage.commit(writer).unwrap();
    assert_eq!(storage.first_index().unwrap(), 5);
    assert_eq!(storage.term(4).unwrap(), 1);
    let mut writer = storage.writer().unwrap();
    let err = writer.compact(6).unwrap_err();
    assert!(err.to_string().contains("beyond applied index 5"), "{err}");
}

#[test]
fn everything_survives_a_reopen_and_an_uncommitted_writer_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::new();
    let batch = Batch::new(
        9,
        vec![Command::Create(Record::Volume(Volume {
            meta: Meta {
                id: "v1".to_owned(),
                ..Meta::default()
            },
            name: "data".to_owned(),
            driver: "local".to_owned(),
        }))],
    );
    {
        let mut storage = bootstrapped(&dir);
        let mut writer = storage.writer().unwrap();
        let keys = store.apply(5, &batch).unwrap();
        writer.write_records(&store, &keys).unwrap();
        writer.set_applied(5);
        let hs = HardState {
            term: 1,
            vote: 2,
            commit: 5,
        };
        writer.set_hard_state(&hs);
        writer.add_removed(7);
        storage.commit(writer).unwrap();
        let mut writer = storage.writer().unwrap();
        writer.set_applied(6);
        writer.append(&[entry(7, 1)]).unwrap();
        drop(writer);
    }
    let storage = open(&dir);
    assert_eq!(storage.applied(), 5);
    assert_eq!(storage.last_index().unwrap(), 6);
    assert_eq!(storage.hard_state().vote, 2);
    assert!(storage.removed_ids().contains(&7));
    assert_eq!(storage.load_store().unwrap(), store);
}

#[test]
fn a_snapshot_carries_the_store_at_the_applied_index_and_installs_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = bootstrapped(&dir);
    let mut store = Store::new();
    let batch = Batch::new(
        1,
        vec![Command::Create(Record::Volume(Volume {
            meta: Meta {
                id: "v1".to_owned(),
                ..Meta::default()
            },
            name: "data".to_owned(),
            driver: "local".to_owned(),
        }))],
    );
    let mut writer = storage.writer().unwrap();
    let keys = store.apply(4, &batch).unwrap();
    writer.write_records(&store, &keys).unwrap();
    writer.set_applied(4);
    storage.commit(writer).unwrap();
    let snapshot = storage.snapshot(3, 2).unwrap();
    assert_eq!(snapshot.get_metadata().index, 4);
    assert_eq!(snapshot.get_metadata().term, 1);
    assert_eq!(
        snapshot.get_metadata().get_conf_state().voters,
        vec![1, 2, 3]
    );
    assert!(matches!(
        storage.snapshot(5, 2),
        Err(raft::Error::Store(
            raft::StorageError::SnapshotTemporarilyUnavailable
        ))
    ));

    let other_dir = tempfile::tempdir().unwrap();
    let mut other = open(&other_dir);
    let received = Store::decode(&snapshot.data).unwrap();
    let mut writer = other.writer().unwrap();
    writer.install_snapshot(&snapshot, &received).unwrap();
    other.commit(writer).unwrap();
    assert_eq!(other.applied(), 4);
    assert_eq!(other.first_index().unwrap(), 5);
    assert_eq!(other.term(4).unwrap(), 1);
    assert_eq!(other.hard_state().commit, 4);
    assert_eq!(other.load_store().unwrap().state_hash(), store.state_hash());
}
