//! Times as Docker writes them: RFC 3339 with nanoseconds, seconds since the epoch, and the
//! `Up 3 minutes` / `Exited (0) 2 hours ago` texts of `docker ps`.

use std::time::{Duration, UNIX_EPOCH};

/// Docker's zero time, for what never happened.
pub(crate) const ZERO: &str = "0001-01-01T00:00:00Z";

/// RFC 3339 of `ns` since the epoch (Docker's zero time for 0).
pub(crate) fn rfc3339(ns: u64) -> String {
    if ns == 0 {
        return ZERO.to_string();
    }
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

/// Whole seconds since the epoch.
pub(crate) fn seconds(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX)
}

/// Nanoseconds since the epoch of a Docker time parameter (`since`, `until`): seconds, with
/// an optional fraction.
pub(crate) fn parse_seconds(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let whole: u64 = whole.parse().ok()?;
    let mut nanos = 0u64;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        let padded = format!("{digits:0<9}");
        nanos = padded.parse().ok()?;
    }
    whole.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Docker's human duration (`Less than a second`, `3 seconds`, `About a minute`, `5 minutes`,
/// `About an hour`, `2 hours`, `3 days`, `2 weeks`, `4 months`, `2 years`).
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (minute, hour, day) = (60, 3600, 86_400);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < minute => format!("{s} seconds"),
        s if s < 2 * minute => "About a minute".into(),
        s if s < hour => format!("{} minutes", s / minute),
        s if s < 2 * hour => "About an hour".into(),
        s if s < 2 * day => format!("{} hours", s / hour),
        s if s < 14 * day => format!("{} days", s / day),
        s if s < 60 * day => format!("{} weeks", s / (7 * day)),
        s if s < 365 * day => format!("{} months", s / (30 * day)),
        s => format!("{} years", s / (365 * day)),
    }
}

/// The time from `then` to `now` (both nanoseconds; zero when `then` is later).
pub(crate) fn since(then: u64, now: u64) -> Duration {
    Duration::from_nanos(now.saturating_sub(then))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        let cases = [
            (0, "Less than a second"),
            (5, "5 seconds"),
            (70, "About a minute"),
            (300, "5 minutes"),
            (4000, "About an hour"),
            (3 * 3600, "3 hours"),
            (3 * 86_400, "3 days"),
        ];
        for (secs, text) in cases {
            assert_eq!(human(Duration::from_secs(secs)), text);
        }
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), ZERO);
        assert_eq!(rfc3339(1_000_000_000), "1970-01-01T00:00:01.000000000Z");
        assert_eq!(parse_seconds("12.5"), Some(12_500_000_000));
        assert_eq!(parse_seconds("3"), Some(3_000_000_000));
        assert_eq!(parse_seconds("x"), None);
    }
}
