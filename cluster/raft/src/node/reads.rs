//! Linearizable reads (ReadIndex) that survive leadership changes.
//!
//! raft-rs drops a ReadIndex request without a word when the leader has not yet committed an
//! entry of its term, when no leader is known, or when the message to the leader is lost (the
//! leader was just killed). So a read is only sent once the node knows a leader that has
//! committed in the current term (a follower sees that in its own log: its commit index lies
//! in the current term), is sent again to the next leader when leadership changes, and again
//! after a while without an answer; it fails only when no leader confirms it within a few
//! election timeouts.

use super::RaftNode;
use super::types::{Event, ProposeError, ReadId};
use crate::membership;

/// An unconfirmed read: when it was asked and when its ReadIndex request was last sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenRead {
    /// Tick at which the read was asked.
    asked: u64,
    /// Tick at which its request was last handed to raft, if it was since the last change of
    /// leader.
    sent: Option<u64>,
}

/// Election timeouts after which an unconfirmed read fails.
const GIVE_UP_ELECTIONS: u64 = 4;

impl RaftNode {
    /// Starts a linearizable read (ReadIndex). Completes with [`Event::ReadReady`] once the
    /// local store reflects every write committed before this call, or [`Event::ReadFailed`]
    /// when no leader confirmed it within a few election timeouts. Refused at once only when
    /// too few managers are reachable; during an election the read waits for its winner.
    pub fn read_index(&mut self) -> Result<ReadId, ProposeError> {
        if self.is_leader() || self.leader().is_none() {
            membership::check_quorum(self.reachable().len(), self.voters().len())?;
        }
        let id = self.next_read;
        self.next_read += 1;
        self.reads_open.insert(
            id,
            OpenRead {
                asked: self.ticks,
                sent: None,
            },
        );
        self.pump_reads();
        Ok(ReadId(id))
    }

    /// Forgets a read whose caller went away.
    pub fn cancel_read(&mut self, read: ReadId) {
        self.reads_open.remove(&read.0);
        self.reads_confirmed.retain(|(id, _)| *id != read.0);
    }

    /// Ticks between two requests of the same unanswered read to the same leader.
    fn read_retry_ticks(&self) -> u64 {
        let config = &self.config;
        (2 * config.heartbeat_ticks)
            .max(config.election_ticks / 2)
            .max(1) as u64
    }

    /// Sends the reads that are due (never sent to this leader, or unanswered for a while)
    /// once a leader that has committed in its term is known, and fails the reads no leader
    /// confirmed in time.
    pub(super) fn pump_reads(&mut self) {
        if self.reads_open.is_empty() {
            return;
        }
        let give_up = GIVE_UP_ELECTIONS * self.config.election_ticks as u64;
        let retry = self.read_retry_ticks();
        let can_send = self.leader().is_some() && self.raw.raft.commit_to_current_term();
        let now = self.ticks;
        let mut due = Vec::new();
        let mut failed = Vec::new();
        for (id, read) in &mut self.reads_open {
            if now.saturating_sub(read.asked) >= give_up {
                failed.push(*id);
            } else if can_send && read.sent.is_none_or(|at| now.saturating_sub(at) >= retry) {
                read.sent = Some(now);
                due.push(*id);
            }
        }
        for id in failed {
            self.reads_open.remove(&id);
            self.events.push(Event::ReadFailed(ReadId(id)));
        }
        for id in due {
            // The context must be unique cluster-wide: the leader merges requests by context,
            // so a request sent again is answered once.
            let mut context = self.config.id.to_le_bytes().to_vec();
            context.extend_from_slice(&id.to_le_bytes());
            self.raw.read_index(context);
        }
    }

    /// The leader changed: every unconfirmed read goes to the next leader once it can serve.
    pub(super) fn reads_on_leader_change(&mut self) {
        for read in self.reads_open.values_mut() {
            read.sent = None;
        }
    }

    /// A ReadState from raft: the read with this context is confirmed at `index`.
    pub(super) fn read_confirmed(&mut self, context: &[u8], index: u64) {
        let Some(id) = read_context_id(self.config.id, context) else {
            return;
        };
        if self.reads_open.remove(&id).is_some() {
            self.reads_confirmed.push((id, index));
        }
    }

    /// Emits reads whose index the store has reached.
    pub(super) fn release_reads(&mut self) {
        let applied = self.raw.store().applied();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads_confirmed)
            .into_iter()
            .partition(|(_, index)| *index <= applied);
        self.reads_confirmed = waiting;
        self.events.extend(
            ready
                .into_iter()
                .map(|(id, _)| Event::ReadReady(ReadId(id))),
        );
    }
}

/// The read id in a ReadIndex context made by node `node` (its id, then the read id).
fn read_context_id(node: u64, context: &[u8]) -> Option<u64> {
    let (owner, id) = context.split_at_checked(8)?;
    let owner = u64::from_le_bytes(owner.try_into().ok()?);
    let id = u64::from_le_bytes(id.try_into().ok()?);
    (owner == node).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::read_context_id;

    #[test]
    fn a_read_context_names_its_node_and_read() {
        let mut context = 7u64.to_le_bytes().to_vec();
        context.extend_from_slice(&42u64.to_le_bytes());
        let cases: [(u64, &[u8], Option<u64>); 4] = [
            (7, &context, Some(42)),
            (8, &context, None),
            (7, &context[..12], None),
            (7, &[], None),
        ];
        for (node, context, want) in cases {
            assert_eq!(read_context_id(node, context), want, "{node} {context:?}");
        }
    }
}
