//! Restart policies as pure decisions (Docker's semantics): `no`, `on-failure[:N]`, `always`,
//! `unless-stopped`; the delay starts at 100 ms and doubles up to one minute, and goes back to
//! 100 ms once a run lasted 10 s. A manual stop suppresses every restart.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The first restart delay.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest restart delay.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay.
pub(crate) const RESET_AFTER: Duration = Duration::from_secs(10);

/// When a container is restarted after it exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum RestartPolicy {
    /// Never.
    #[default]
    No,
    /// After a non-zero exit, at most `max_retries` times (`None` = unbounded).
    OnFailure {
        /// The retry limit.
        max_retries: Option<u32>,
    },
    /// Always (also when the agent starts), unless stopped by hand.
    Always,
    /// Always, and not when the agent starts if it was stopped by hand.
    UnlessStopped,
}

/// A restart policy string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid restart policy {0:?}: use no, on-failure[:N], always or unless-stopped")]
pub struct PolicyError(pub String);

impl FromStr for RestartPolicy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PolicyError(s.to_string());
        match s.split_once(':') {
            None => match s {
                "" | "no" => Ok(Self::No),
                "on-failure" => Ok(Self::OnFailure { max_retries: None }),
                "always" => Ok(Self::Always),
                "unless-stopped" => Ok(Self::UnlessStopped),
                _ => Err(bad()),
            },
            Some(("on-failure", n)) => {
                let n: u32 = n.parse().map_err(|_| bad())?;
                Ok(Self::OnFailure {
                    max_retries: (n > 0).then_some(n),
                })
            }
            Some(_) => Err(bad()),
        }
    }
}

/// What the supervisor remembers between runs of one container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartTracker {
    /// Restarts so far.
    pub restart_count: u32,
    /// The last delay used (zero before the first restart).
    #[serde(with = "crate::spec::duration_nanos")]
    pub backoff: Duration,
}

/// How one run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code.
    pub code: i32,
    /// How long the run lasted.
    pub ran_for: Duration,
    /// The container was stopped by a user (stop, or kill through the API).
    pub manually_stopped: bool,
}

/// The supervisor's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave the container exited.
    Stay,
    /// Start it again after this delay.
    RestartAfter(Duration),
}

/// Decides whether a container restarts after `exit`, and updates `tracker`.
pub fn decide(policy: RestartPolicy, tracker: &mut RestartTracker, exit: ExitInfo) -> Decision {
    if exit.manually_stopped || policy == RestartPolicy::No {
        return Decision::Stay;
    }
    let restart = match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => {
            exit.code != 0 && max_retries.is_none_or(|max| tracker.restart_count < max)
        }
    };
    if !restart {
        return Decision::Stay;
    }
    let backoff = if exit.ran_for >= RESET_AFTER || tracker.backoff.is_zero() {
        INITIAL_BACKOFF
    } else {
        (tracker.backoff * 2).min(MAX_BACKOFF)
    };
    tracker.backoff = backoff;
    tracker.restart_count += 1;
    Decision::RestartAfter(backoff)
}

/// Whether a container that was running (or exited) when the agent stopped is started again
/// when the agent starts.
pub fn start_on_agent_start(policy: RestartPolicy, manually_stopped: bool) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !manually_stopped,
        RestartPolicy::No | RestartPolicy::OnFailure { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32, ran_ms: u64, manual: bool) -> ExitInfo {
        ExitInfo {
            code,
            ran_for: Duration::from_millis(ran_ms),
            manually_stopped: manual,
        }
    }

    #[test]
    fn parse_table() {
        let cases = [
            ("no", Ok(RestartPolicy::No)),
            ("always", Ok(RestartPolicy::Always)),
            ("unless-stopped", Ok(RestartPolicy::UnlessStopped)),
            (
                "on-failure",
                Ok(RestartPolicy::OnFailure { max_retries: None }),
            ),
            (
                "on-failure:3",
                Ok(RestartPolicy::OnFailure {
                    max_retries: Some(3),
                }),
            ),
            (
                "on-failure:0",
                Ok(RestartPolicy::OnFailure { max_retries: None }),
            ),
            ("on-failure:x", Err(PolicyError("on-failure:x".into()))),
            ("always:2", Err(PolicyError("always:2".into()))),
            ("sometimes", Err(PolicyError("sometimes".into()))),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<RestartPolicy>(), want, "{input}");
        }
    }

    #[test]
    fn decision_table() {
        use Decision::*;
        let ms = Duration::from_millis;
        let on_failure_2 = RestartPolicy::OnFailure {
            max_retries: Some(2),
        };
        // (policy, restarts so far, last backoff ms, exit, want, count after)
        let cases = [
            (RestartPolicy::No, 0, 0, exit(1, 5, false), Stay, 0),
            (
                RestartPolicy::Always,
                0,
                0,
                exit(0, 5, false),
                RestartAfter(ms(100)),
                1,
            ),
            (
                RestartPolicy::Always,
                1,
                100,
                exit(0, 5, false),
                RestartAfter(ms(200)),
                2,
            ),
            (
                RestartPolicy::Always,
                5,
                3_200,
                exit(1, 5, false),
                RestartAfter(ms(6_400)),
                6,
            ),
            (
                RestartPolicy::Always,
                9,
                51_200,
                exit(1, 5, false),
                RestartAfter(ms(60_000)),
                10,
            ),
            (
                RestartPolicy::Always,
                10,
                60_000,
                exit(1, 5, false),
                RestartAfter(ms(60_000)),
                11,
            ),
            // A run of 10 s resets the delay.
            (
                RestartPolicy::Always,
                10,
                60_000,
                exit(1, 10_000, false),
                RestartAfter(ms(100)),
                11,
            ),
            (
                RestartPolicy::Always,
                3,
                800,
                exit(1, 9_999, false),
                RestartAfter(ms(1_600)),
                4,
            ),
            // A manual stop suppresses every policy.
            (RestartPolicy::Always, 0, 0, exit(137, 5, true), Stay, 0),
            (
                RestartPolicy::UnlessStopped,
                0,
                0,
                exit(0, 5, true),
                Stay,
                0,
            ),
            (
                RestartPolicy::UnlessStopped,
                0,
                0,
                exit(0, 5, false),
                RestartAfter(ms(100)),
                1,
            ),
            (on_failure_2, 0, 0, exit(0, 5, false), Stay, 0),
            (
                on_failure_2,
                0,
                0,
                exit(2, 5, false),
                RestartAfter(ms(100)),
                1,
            ),
            (
                on_failure_2,
                1,
                100,
                exit(2, 5, false),
                RestartAfter(ms(200)),
                2,
            ),
            (on_failure_2, 2, 200, exit(2, 5, false), Stay, 2),
            (on_failure_2, 0, 0, exit(2, 5, true), Stay, 0),
            (
                RestartPolicy::OnFailure { max_retries: None },
                99,
                60_000,
                exit(1, 5, false),
                RestartAfter(ms(60_000)),
                100,
            ),
        ];
        for (policy, count, backoff, info, want, count_after) in cases {
            let mut tracker = RestartTracker {
                restart_count: count,
                backoff: ms(backoff),
            };
            let got = decide(policy, &mut tracker, info);
            assert_eq!(got, want, "{policy:?} after {count} restarts, {info:?}");
            assert_eq!(tracker.restart_count, count_after, "{policy:?} {info:?}");
        }
    }

    #[test]
    fn agent_start_table() {
        let cases = [
            (RestartPolicy::No, false, false),
            (RestartPolicy::OnFailure { max_retries: None }, false, false),
            (RestartPolicy::Always, false, true),
            (RestartPolicy::Always, true, true),
            (RestartPolicy::UnlessStopped, false, true),
            (RestartPolicy::UnlessStopped, true, false),
        ];
        for (policy, manual, want) in cases {
            assert_eq!(
                start_on_agent_start(policy, manual),
                want,
                "{policy:?} {manual}"
            );
        }
    }
}
