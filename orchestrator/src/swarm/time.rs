//! Time as the swarm logic sees it: a [`Timestamp`] the caller hands in. Nothing in
//! [`crate::swarm`] reads the clock; the leader stamps the time into its decisions, so that a
//! replayed or re-run decision gives the same result.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as stamped by the leader.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The time `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This time plus `duration`, saturating at the end of time.
    pub fn after(self, duration: Duration) -> Self {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// This time minus `duration`, saturating at the epoch.
    pub fn before(self, duration: Duration) -> Self {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(millis))
    }

    /// How long after `earlier` this time is (zero when it is not later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// The earlier of two optional wake-up times (`None` means "no need to wake").
pub(crate) fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!(t.after(Duration::from_secs(5)), Timestamp(6_000));
        assert_eq!(t.before(Duration::from_secs(5)), Timestamp(0));
        assert_eq!(
            Timestamp(u64::MAX).after(Duration::from_secs(1)),
            Timestamp(u64::MAX)
        );
        assert_eq!(Timestamp(6_000).since(t), Duration::from_secs(5));
        assert_eq!(t.since(Timestamp(6_000)), Duration::ZERO);
    }

    #[test]
    fn earliest_ignores_absent_times() {
        assert_eq!(earliest(None, Some(Timestamp(3))), Some(Timestamp(3)));
        assert_eq!(
            earliest(Some(Timestamp(2)), Some(Timestamp(3))),
            Some(Timestamp(2))
        );
        assert_eq!(earliest(None, None), None);
    }
}
