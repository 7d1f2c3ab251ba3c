//! Safety invariants checked while a simulation runs: election safety, log matching, no
//! committed entry lost or changed, and every acknowledged write committed as proposed.

use std::collections::BTreeMap;

use raft::eraftpb::Entry;

use crate::Ticket;

/// A broken invariant, described for the test output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated: {0}")]
pub struct Violation(pub String);

/// The history observed so far.
#[derive(Debug, Default)]
pub struct Checker {
    /// Leader of each term.
    leaders: BTreeMap<u64, u64>,
    /// Every entry any node applied, by index: (term, data).
    committed: BTreeMap<u64, (u64, Vec<u8>)>,
    /// Data of each proposal, by its ticket.
    proposed: BTreeMap<Ticket, Vec<u8>>,
    /// Acknowledged writes.
    acked: BTreeMap<u64, (u64, Vec<u8>)>,
}

impl Checker {
    /// An empty history.
    pub fn new() -> Self {
        Checker::default()
    }

    /// Election safety: at most one leader per term.
    pub fn observe_leader(&mut self, id: u64, term: u64) -> Result<(), Violation> {
        match self.leaders.insert(term, id) {
            Some(other) if other != id => Err(Violation(format!(
                "two leaders in term {term}: {other} and {id}"
            ))),
            _ => Ok(()),
        }
    }

    /// No committed entry changes: every node applies the same entry at each index.
    pub fn observe_applied(&mut self, node: u64, entry: &Entry) -> Result<(), Violation> {
        let seen = (entry.term, entry.data.to_vec());
        match self.committed.get(&entry.index) {
            Some(known) if *known != seen => Err(Violation(format!(
                "node {node} applied index {} with term {}, others applied term {}",
                entry.index, entry.term, known.0
            ))),
            Some(_) => Ok(()),
            None => {
                self.committed.insert(entry.index, seen);
                Ok(())
            }
        }
    }

    /// Records what a proposal carried.
    pub fn observe_proposed(&mut self, ticket: Ticket, data: Vec<u8>) {
        self.proposed.insert(ticket, data);
    }

    /// Records an acknowledged write; it must match what is (or will be) committed.
    pub fn observe_acked(&mut self, ticket: Ticket) -> Result<(), Violation> {
        let data = self
            .proposed
            .get(&ticket)
            .cloned()
            .ok_or_else(|| Violation(format!("acknowledged unknown proposal {ticket:?}")))?;
        self.acked.insert(ticket.index, (ticket.term, data));
        Ok(())
    }

    /// Checks at the end that every acknowledged write is committed exactly as proposed.
    pub fn check_acked(&self) -> Result<(), Violation> {
        for (index, acked) in &self.acked {
            match self.committed.get(index) {
                Some(committed) if committed == acked => {}
                Some(committed) => {
                    return Err(Violation(format!(
                        "acknowledged write at {index} (term {}) lost: term {} committed there",
                        acked.0, committed.0
                    )));
                }
                None => {
                    return Err(Violation(format!(
                        "acknowledged write at {index} never applied"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Log matching between two nodes' logs (each a run of consecutive entries): if both hold
    /// an entry with the same index and term, they are identical there and at every earlier
    /// index both hold.
    pub fn check_log_matching(a: (u64, &[Entry]), b: (u64, &[Entry])) -> Result<(), Violation> {
        let by_index = |log: &[Entry]| -> BTreeMap<u64, Entry> {
            log.iter().map(|e| (e.index, e.clone())).collect()
        };
        let (left, right) = (by_index(a.1), by_index(b.1));
        let mut matched = false;
        for (index, x) in left.iter().rev() {
            let Some(y) = right.get(index) else { continue };
            if x.term == y.term {
                matched = true;
            }
            if matched && x != y {
                return Err(Violation(format!(
                    "logs of nodes {} and {} differ at index {index} below a matching entry",
                    a.0, b.0
                )));
            }
        }
        Ok(())
    }

    /// Checks a node's log: entries it holds at or below its commit index are the committed
    /// ones.
    pub fn check_committed_prefix(
        &self,
        node: u64,
        commit: u64,
        log: &[Entry],
    ) -> Result<(), Violation> {
        for entry in log.iter().filter(|e| e.index <= commit) {
            if let Some((term, data)) = self.committed.get(&entry.index) {
                if *term != entry.term || data.as_slice() != &entry.data[..] {
                    return Err(Violation(format!(
                        "node {node} holds a different entry at committed index {}",
                        entry.index
                    )));
                }
            }
        }
        Ok(())
    }

    /// Number of distinct committed indexes observed.
    pub fn committed_len(&self) -> usize {
        self.committed.len()
    }

    /// Number of acknowledged writes.
    pub fn acked_len(&self) -> usize {
        self.acked.len()
    }

    /// Number of terms that had a leader.
    pub fn terms_with_leader(&self) -> usize {
        self.leaders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry {
            index,
            term,
            data: data.to_vec(),
            ..Entry::default()
        }
    }

    #[test]
    fn two_leaders_in_one_term_is_a_violation() {
        let mut checker = Checker::new();
        checker.observe_leader(1, 3).unwrap();
        checker.observe_leader(1, 3).unwrap();
        checker.observe_leader(2, 4).unwrap();
        assert!(checker.observe_leader(2, 3).is_err());
    }

    #[test]
    fn a_changed_committed_entry_is_a_violation() {
        let mut checker = Checker::new();
        checker.observe_applied(1, &entry(5, 2, b"a")).unwrap();
        checker.observe_applied(2, &entry(5, 2, b"a")).unwrap();
        assert!(checker.observe_applied(3, &entry(5, 3, b"b")).is_err());
    }

    #[test]
    fn an_acked_write_must_be_committed_as_proposed() {
        let mut checker = Checker::new();
        let ticket = Ticket { index: 4, term: 2 };
        checker.observe_proposed(ticket, b"w".to_vec());
        checker.observe_acked(ticket).unwrap();
        assert!(checker.check_acked().is_err(), "not applied anywhere yet");
        checker.observe_applied(1, &entry(4, 2, b"w")).unwrap();
        checker.check_acked().unwrap();
        let mut other = Checker::new();
        other.observe_proposed(ticket, b"w".to_vec());
        other.observe_acked(ticket).unwrap();
        other.observe_applied(1, &entry(4, 3, b"x")).unwrap();
        assert!(other.check_acked().is_err());
    }

    #[test]
    fn log_matching_detects_divergence_below_a_match() {
        let a = [entry(1, 1, b"x"), entry(2, 1, b"y"), entry(3, 2, b"z")];
        let b = [entry(1, 1, b"x"), entry(2, 1, b"q"), entry(3, 2, b"z")];
        assert!(Checker::check_log_matching((1, &a), (2, &b)).is_err());
        let c = [entry(1, 1, b"x"), entry(2, 1, b"y"), entry(3, 3, b"w")];
        Checker::check_log_matching((1, &a), (3, &c)).unwrap();
    }
}
