//! Membership guards as pure functions: quorum arithmetic and the checks that refuse a
//! manager change which would lose quorum, remove the last manager or reuse a raft id.

use std::collections::BTreeSet;

/// Votes needed for a decision among `voters` managers.
pub fn quorum(voters: usize) -> usize {
    voters / 2 + 1
}

/// Managers that may fail while the cluster keeps a quorum.
pub fn failures_tolerated(voters: usize) -> usize {
    voters.saturating_sub(1) / 2
}

/// Too few managers are reachable to accept writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no quorum: {reachable} of {total} managers reachable (need {need})")]
pub struct NoQuorum {
    /// Managers reachable, this one included.
    pub reachable: usize,
    /// Managers in the cluster.
    pub total: usize,
    /// Managers needed.
    pub need: usize,
}

/// Refuses when `reachable` of `total` managers are not a quorum.
pub(crate) fn check_quorum(reachable: usize, total: usize) -> Result<(), NoQuorum> {
    let need = quorum(total);
    if reachable >= need {
        Ok(())
    } else {
        Err(NoQuorum {
            reachable,
            total,
            need,
        })
    }
}

/// A refused membership change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// Removing or demoting the only manager.
    #[error("cannot remove manager {0}: it is the last manager")]
    LastManager(u64),
    /// The change would leave too few reachable managers.
    #[error(
        "cannot remove manager {id}: {reachable} of the {remaining} remaining managers would be reachable (need {need})"
    )]
    WouldLoseQuorum {
        /// The manager to remove.
        id: u64,
        /// Reachable managers after the change.
        reachable: usize,
        /// Managers after the change.
        remaining: usize,
        /// Quorum after the change.
        need: usize,
    },
    /// The id is not a manager.
    #[error("raft id {0} is not a manager")]
    NotAManager(u64),
    /// The id is already a manager.
    #[error("raft id {0} is already a manager")]
    AlreadyAManager(u64),
    /// The id belonged to a removed manager.
    #[error("raft id {0} was removed from the cluster and cannot be reused")]
    IdRemoved(u64),
    /// The id 0 is reserved by raft.
    #[error("raft id 0 is invalid")]
    InvalidId,
}

/// Checks that manager `id` may be added.
pub(crate) fn check_add(
    voters: &BTreeSet<u64>,
    removed: &BTreeSet<u64>,
    id: u64,
) -> Result<(), MembershipError> {
    if id == 0 {
        Err(MembershipError::InvalidId)
    } else if removed.contains(&id) {
        Err(MembershipError::IdRemoved(id))
    } else if voters.contains(&id) {
        Err(MembershipError::AlreadyAManager(id))
    } else {
        Ok(())
    }
}

/// Checks that manager `id` may be removed (or demoted) given which managers are reachable:
/// the remaining managers must still reach their own quorum.
pub(crate) fn check_remove(
    voters: &BTreeSet<u64>,
    reachable: &BTreeSet<u64>,
    id: u64,
) -> Result<(), MembershipError> {
    if !voters.contains(&id) {
        return Err(MembershipError::NotAManager(id));
    }
    if voters.len() == 1 {
        return Err(MembershipError::LastManager(id));
    }
    let remaining = voters.len() - 1;
    let reachable = voters
        .iter()
        .filter(|v| **v != id && reachable.contains(v))
        .count();
    let need = quorum(remaining);
    if reachable < need {
        return Err(MembershipError::WouldLoseQuorum {
            id,
            reachable,
            remaining,
            need,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn quorum_table() {
        let table = [
            (1, 1, 0),
            (2, 2, 0),
            (3, 2, 1),
            (4, 3, 1),
            (5, 3, 2),
            (7, 4, 3),
        ];
        for (voters, need, tolerated) in table {
            assert_eq!(quorum(voters), need, "quorum of {voters}");
            assert_eq!(
                failures_tolerated(voters),
                tolerated,
                "tolerance of {voters}"
            );
        }
    }

    #[test]
    fn no_quorum_message_names_the_counts() {
        assert_eq!(
            check_quorum(1, 3).unwrap_err().to_string(),
            "no quorum: 1 of 3 managers reachable (need 2)"
        );
        assert!(check_quorum(2, 3).is_ok());
        assert_eq!(
            check_quorum(2, 5).unwrap_err().to_string(),
            "no quorum: 2 of 5 managers reachable (need 3)"
        );
    }

    #[test]
    fn remove_table() {
        // (voters, reachable, target, expected error text or "")
        let table: &[(&[u64], &[u64], u64, &str)] = &[
            (&[1, 2, 3], &[1, 2, 3], 3, ""),
            (&[1, 2, 3], &[1, 2], 3, ""),
            (
                &[1, 2, 3],
                &[1, 3],
                3,
                "cannot remove manager 3: 1 of the 2 remaining managers would be reachable (need 2)",
            ),
            (&[1, 2, 3, 4, 5], &[1, 2, 3], 5, ""),
            (
                &[1, 2, 3, 4, 5],
                &[1, 2, 3],
                1,
                "cannot remove manager 1: 2 of the 4 remaining managers would be reachable (need 3)",
            ),
            (
                &[1],
                &[1],
                1,
                "cannot remove manager 1: it is the last manager",
            ),
            (&[1, 2], &[1, 2], 7, "raft id 7 is not a manager"),
            (&[1, 2], &[1], 2, ""),
        ];
        for (voters, reachable, target, expected) in table {
            let got = check_remove(&set(voters), &set(reachable), *target);
            match got {
                Ok(()) => assert_eq!(*expected, "", "{voters:?} {reachable:?} -{target}"),
                Err(err) => assert_eq!(err.to_string(), *expected),
            }
        }
    }

    #[test]
    fn add_table() {
        let voters = set(&[1, 2, 3]);
        let removed = set(&[4]);
        assert!(check_add(&voters, &removed, 5).is_ok());
        let cases = [
            (
                4,
                "raft id 4 was removed from the cluster and cannot be reused",
            ),
            (2, "raft id 2 is already a manager"),
            (0, "raft id 0 is invalid"),
        ];
        for (id, message) in cases {
            assert_eq!(
                check_add(&voters, &removed, id).unwrap_err().to_string(),
                message
            );
        }
    }
}
