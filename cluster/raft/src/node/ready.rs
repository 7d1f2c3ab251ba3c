//! The Ready loop: persist (fsync) before sending what depends on it, apply committed entries
//! with the applied index in the same transaction, then advance.

use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeType, ConfChangeV2, Entry, EntryType, Message,
};

use super::types::{Event, NodeError, Ticket, WriteError};
use super::{PendingKind, RaftNode};
use crate::codec;
use crate::storage::LogWriter;
use cluster_state::{Batch, Store};

impl RaftNode {
    /// Handles everything raft has ready. `send` receives outgoing messages: the leader's
    /// appends are handed over before the local fsync (raft thesis 10.2.1), every other message
    /// only after the entries, HardState and snapshot it depends on are durable.
    pub fn process_ready(&mut self, send: &mut impl FnMut(Vec<Message>)) -> Result<(), NodeError> {
        self.pump_reads();
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        let early = ready.take_messages();
        if !early.is_empty() {
            send(early);
        }
        if let Some(soft) = ready.ss() {
            let leader = (soft.leader_id != 0).then_some(soft.leader_id);
            self.on_leader(leader);
        }

        let committed = ready.take_committed_entries();
        let must_write = !ready.snapshot().is_empty()
            || !ready.entries().is_empty()
            || ready.hs().is_some()
            || !committed.is_empty();
        let mut writer = if must_write {
            Some(self.raw.store().writer()?)
        } else {
            None
        };
        if let Some(writer) = writer.as_mut() {
            self.persist_ready(writer, &ready)?;
            self.apply_entries(writer, committed)?;
        }
        if let Some(writer) = writer.take() {
            self.raw.mut_store().commit(writer)?;
        }
        for state in ready.take_read_states() {
            self.read_confirmed(&state.request_ctx, state.index);
        }

        let persisted = ready.take_persisted_messages();
        if !persisted.is_empty() {
            send(persisted);
        }

        let mut light = self.raw.advance(ready);
        let messages = light.take_messages();
        if !messages.is_empty() {
            send(messages);
        }
        let committed = light.take_committed_entries();
        if light.commit_index().is_some() || !committed.is_empty() {
            let mut writer = self.raw.store().writer()?;
            if let Some(commit) = light.commit_index() {
                writer.set_commit(commit);
            }
            self.apply_entries(&mut writer, committed)?;
            self.raw.mut_store().commit(writer)?;
        }
        self.raw.advance_apply();
        self.release_reads();
        Ok(())
    }

    /// Writes a Ready's snapshot, entries and HardState into the transaction.
    fn persist_ready(
        &mut self,
        writer: &mut LogWriter,
        ready: &raft::Ready,
    ) -> Result<(), NodeError> {
        if !ready.snapshot().is_empty() {
            let snapshot = ready.snapshot();
            let index = snapshot.get_metadata().index;
            let store = Store::decode(&snapshot.data)
                .map_err(|source| NodeError::Snapshot { index, source })?;
            writer.install_snapshot(snapshot, &store)?;
            self.store = store;
        }
        writer.append(ready.entries())?;
        if let Some(hard_state) = ready.hs() {
            writer.set_hard_state(hard_state);
        }
        Ok(())
    }

    fn on_leader(&mut self, leader: Option<u64>) {
        if leader == self.leader && leader.is_some() {
            return;
        }
        if self.leader == Some(self.config.id) && leader != self.leader {
            for (index, (term, _)) in std::mem::take(&mut self.pending) {
                self.events.push(Event::Proposal {
                    ticket: Ticket { index, term },
                    outcome: Err(WriteError::LeadershipLost),
                });
            }
        }
        if leader != self.leader {
            self.reads_on_leader_change();
            self.leader = leader;
            self.events.push(Event::LeaderChanged {
                leader,
                term: self.raw.raft.term,
            });
        }
    }

    /// Applies committed entries in order, writing touched records and the applied index into
    /// the open transaction, then compacts the log when due.
    fn apply_entries(
        &mut self,
        writer: &mut LogWriter,
        entries: Vec<Entry>,
    ) -> Result<(), NodeError> {
        for entry in entries {
            if entry.index <= writer.applied() {
                continue;
            }
            let outcome = match entry.get_entry_type() {
                EntryType::EntryNormal => self.apply_normal(writer, &entry)?,
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.apply_conf_change(writer, &entry)?;
                    Ok(())
                }
            };
            writer.set_applied(entry.index);
            if self.config.observe_applied {
                self.events.push(Event::Applied(entry.clone()));
            }
            self.complete(&entry, outcome);
        }
        let (compacted, _) = writer.compacted();
        let applied = writer.applied();
        if applied.saturating_sub(compacted) >= self.config.snapshot_interval {
            let target = applied.saturating_sub(self.config.catchup_entries);
            if target > compacted {
                writer.compact(target)?;
            }
        }
        Ok(())
    }

    fn apply_normal(
        &mut self,
        writer: &mut LogWriter,
        entry: &Entry,
    ) -> Result<Result<(), WriteError>, NodeError> {
        if entry.data.is_empty() {
            // A new leader's empty entry, or a membership change raft-rs replaced.
            return Ok(Err(WriteError::MembershipDropped));
        }
        let Ok(batch) = Batch::decode(&entry.data) else {
            return Ok(Err(WriteError::Undecodable { index: entry.index }));
        };
        match self.store.apply(entry.index, &batch) {
            Ok(keys) => {
                writer.write_records(&self.store, &keys)?;
                Ok(Ok(()))
            }
            Err(refused) => Ok(Err(WriteError::Refused(refused))),
        }
    }

    fn apply_conf_change(
        &mut self,
        writer: &mut LogWriter,
        entry: &Entry,
    ) -> Result<(), NodeError> {
        let index = entry.index;
        let change: ConfChangeV2 = if entry.get_entry_type() == EntryType::EntryConfChange {
            let v1: ConfChange = codec::decode(&entry.data, "membership change")
                .map_err(|source| NodeError::ConfChange { index, source })?;
            let single = ConfChangeSingle {
                node_id: v1.node_id,
                change_type: v1.change_type,
            };
            ConfChangeV2 {
                changes: vec![single],
                ..ConfChangeV2::default()
            }
        } else {
            codec::decode(&entry.data, "membership change")
                .map_err(|source| NodeError::ConfChange { index, source })?
        };
        let conf_state = self.raw.apply_conf_change(&change)?;
        writer.set_conf_state(&conf_state);
        for single in &change.changes {
            if single.get_change_type() == ConfChangeType::RemoveNode {
                writer.add_removed(single.node_id);
                if single.node_id == self.config.id {
                    self.events.push(Event::Removed);
                }
            }
        }
        Ok(())
    }

    /// Resolves this node's proposal at the entry's index, if any.
    fn complete(&mut self, entry: &Entry, outcome: Result<(), WriteError>) {
        let Some((term, kind)) = self.pending.remove(&entry.index) else {
            return;
        };
        let ticket = Ticket {
            index: entry.index,
            term,
        };
        let outcome = if entry.term != term {
            Err(WriteError::Overwritten { index: entry.index })
        } else {
            match (kind, outcome) {
                (PendingKind::Write, Err(WriteError::MembershipDropped)) => {
                    Err(WriteError::Overwritten { index: entry.index })
                }
                (PendingKind::Membership, _)
                    if entry.get_entry_type() == EntryType::EntryNormal =>
                {
                    Err(WriteError::MembershipDropped)
                }
                (_, outcome) => outcome,
            }
        };
        self.events.push(Event::Proposal { ticket, outcome });
    }
}
