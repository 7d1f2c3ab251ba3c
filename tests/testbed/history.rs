//! A checker over a recorded client history of an append-only register: each operation
//! appends one unique value with a compare-and-set, and the final register content is checked
//! against what the clients saw. Acknowledged appends must be present, refused ones absent,
//! nothing present twice or invented, and the order must respect real time: an append that
//! completed before another was invoked comes first.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Instant;

/// How an operation ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: it applied.
    Acked,
    /// Refused by the state machine: it did not apply.
    Refused,
    /// Timed out or the connection failed: it may or may not have applied.
    Unknown,
}

/// One recorded operation.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// The value appended.
    pub value: u64,
    /// When the client sent it.
    pub invoked: Instant,
    /// When the client got its answer.
    pub completed: Instant,
    /// The answer.
    pub outcome: Outcome,
}

/// Counts of a history that passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Acknowledged appends.
    pub acked: usize,
    /// Refused appends.
    pub refused: usize,
    /// Appends with an unknown outcome that turned out applied.
    pub unknown_applied: usize,
    /// Appends with an unknown outcome that did not apply.
    pub unknown_lost: usize,
}

/// Checks `history` against the register's final content `register`; the error names the
/// first violation found.
pub fn check(history: &[Op], register: &[u64]) -> Result<Summary, String> {
    let ops: BTreeMap<u64, &Op> = history.iter().map(|op| (op.value, op)).collect();
    if ops.len() != history.len() {
        return Err("the history appends some value twice".to_owned());
    }
    let mut position = BTreeMap::new();
    for (i, value) in register.iter().enumerate() {
        if position.insert(*value, i).is_some() {
            return Err(format!("value {value} was applied twice"));
        }
        if !ops.contains_key(value) {
            return Err(format!("value {value} was never written by a client"));
        }
    }
    let mut summary = Summary {
        acked: 0,
        refused: 0,
        unknown_applied: 0,
        unknown_lost: 0,
    };
    for op in history {
        let present = position.contains_key(&op.value);
        match (op.outcome, present) {
            (Outcome::Acked, false) => {
                return Err(format!("acknowledged value {} was lost", op.value));
            }
            (Outcome::Refused, true) => {
                return Err(format!("refused value {} was applied", op.value));
            }
            (Outcome::Acked, true) => summary.acked += 1,
            (Outcome::Refused, false) => summary.refused += 1,
            (Outcome::Unknown, true) => summary.unknown_applied += 1,
            (Outcome::Unknown, false) => summary.unknown_lost += 1,
        }
    }
    for (a, pa) in &position {
        for (b, pb) in &position {
            let (oa, ob) = (ops[a], ops[b]);
            if oa.completed < ob.invoked && pa > pb {
                return Err(format!(
                    "value {a} completed before value {b} was sent, yet comes after it"
                ));
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn op(value: u64, start: u64, end: u64, outcome: Outcome, t0: Instant) -> Op {
        Op {
            value,
            invoked: t0 + Duration::from_millis(start),
            completed: t0 + Duration::from_millis(end),
            outcome,
        }
    }

    #[test]
    fn checker_accepts_valid_histories_and_names_each_violation() {
        use Outcome::{Acked, Refused, Unknown};
        let t0 = Instant::now();
        let history = vec![
            op(1, 0, 10, Acked, t0),
            op(2, 5, 30, Unknown, t0),
            op(3, 20, 40, Acked, t0),
            op(4, 50, 60, Refused, t0),
            op(5, 70, 80, Unknown, t0),
        ];
        /// Unknown appends applied and lost, or the violation.
        type Expected = Result<(u64, u64), &'static str>;
        // (final register, expected result)
        let table: &[(&[u64], Expected)] = &[
            (&[1, 2, 3], Ok((1, 1))),
            // 2 and 3 overlap in time: either order is linearizable.
            (&[1, 3, 2], Ok((1, 1))),
            (&[1, 3], Ok((0, 2))),
            (&[1, 3, 5], Ok((1, 1))),
            (&[1], Err("acknowledged value 3 was lost")),
            (&[1, 3, 4], Err("refused value 4 was applied")),
            (&[1, 3, 3], Err("value 3 was applied twice")),
            (&[1, 3, 9], Err("value 9 was never written by a client")),
            (
                &[3, 1],
                Err("value 1 completed before value 3 was sent, yet comes after it"),
            ),
        ];
        for (register, expected) in table {
            let got = check(&history, register);
            match (got, expected) {
                (Ok(summary), Ok((applied, lost))) => {
                    assert_eq!(summary.acked, 2, "{register:?}");
                    assert_eq!(summary.refused, 1, "{register:?}");
                    assert_eq!(
                        (summary.unknown_applied as u64, summary.unknown_lost as u64),
                        (*applied, *lost),
                        "{register:?}"
                    );
                }
                (Err(err), Err(message)) => assert_eq!(err, *message, "{register:?}"),
                (got, expected) => panic!("{register:?}: got {got:?}, expected {expected:?}"),
            }
        }
    }
}
