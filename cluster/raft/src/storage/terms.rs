//! The term of every entry of the log, kept in memory. Raft asks for the term of some entry on
//! nearly every message it steps; read from the log, each answer would read and decode a
//! whole entry, and an entry holding a batch of 30,000 tasks is tens of megabytes — enough
//! for the raft thread to fall behind its own ticks.

use std::collections::VecDeque;

/// The terms of the entries `first..first + len`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Terms {
    first: u64,
    terms: VecDeque<u64>,
}

impl Terms {
    /// The term of entry `index`, if it is held.
    pub(super) fn get(&self, index: u64) -> Option<u64> {
        let offset = index.checked_sub(self.first)?;
        self.terms.get(usize::try_from(offset).ok()?).copied()
    }

    /// Records entry `index` of `term`, dropping the entries from `index` on first (a
    /// conflicting suffix the leader replaced). An index past the end starts afresh from it.
    pub(super) fn put(&mut self, index: u64, term: u64) {
        let end = self.first + self.terms.len() as u64;
        if self.terms.is_empty() || index < self.first || index > end {
            self.first = index;
            self.terms.clear();
        } else {
            self.terms.truncate((index - self.first) as usize);
        }
        self.terms.push_back(term);
    }

    /// Keeps only the entries in `first..=last` (the log after a compaction, a snapshot or a
    /// truncation).
    pub(super) fn keep(&mut self, first: u64, last: u64) {
        while !self.terms.is_empty() && self.first < first {
            self.terms.pop_front();
            self.first += 1;
        }
        if self.terms.is_empty() {
            self.first = first;
            return;
        }
        let held = last.saturating_add(1).saturating_sub(self.first);
        self.terms
            .truncate(usize::try_from(held).unwrap_or(usize::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_replaces_a_conflicting_suffix_and_follows_compaction() {
        let mut terms = Terms::default();
        for index in 5..=9 {
            terms.put(index, 1);
        }
        assert_eq!(
            (terms.get(4), terms.get(5), terms.get(9)),
            (None, Some(1), Some(1))
        );
        // A new leader's entries from 8 on replace the old ones.
        terms.put(8, 2);
        assert_eq!(
            (terms.get(7), terms.get(8), terms.get(9)),
            (Some(1), Some(2), None)
        );
        terms.put(9, 2);
        // Compacted up to 6, truncated after 8.
        terms.keep(7, 8);
        assert_eq!(
            (terms.get(6), terms.get(7), terms.get(8), terms.get(9)),
            (None, Some(1), Some(2), None)
        );
        // A snapshot at 20: nothing held; the next entry starts afresh.
        terms.keep(21, 20);
        assert_eq!(terms.get(8), None);
        terms.put(21, 3);
        assert_eq!((terms.get(20), terms.get(21)), (None, Some(3)));
        // A gap (entries not seen) starts afresh too.
        terms.put(30, 4);
        assert_eq!((terms.get(21), terms.get(30)), (None, Some(4)));
    }
}
