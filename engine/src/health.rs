//! Healthchecks as a pure state machine, with Docker's semantics: a container with a check
//! starts `starting`; a passing probe makes it `healthy`; `retries` failures in a row make it
//! `unhealthy`, except that failures during `start_period` do not count while it is still
//! `starting`. Probes run every `interval`, or every `start_interval` during the start period.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::duration_nanos;

/// Probe outputs longer than this are cut (Docker's limit).
pub(crate) const MAX_OUTPUT: usize = 4096;
/// How many probe results the record keeps.
pub(crate) const MAX_LOG: usize = 5;

/// What a probe runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "value")]
pub enum HealthTest {
    /// No check (disables one inherited from an image).
    None,
    /// A command run directly.
    Cmd(Vec<String>),
    /// A command line run with `/bin/sh -c`.
    CmdShell(String),
}

impl HealthTest {
    /// Parses Docker's list form: `["NONE"]`, `["CMD", arg...]`, `["CMD-SHELL", line]`.
    pub fn from_docker(test: &[String]) -> Result<Self, String> {
        match test.split_first() {
            Some((kind, rest)) if kind == "NONE" && rest.is_empty() => Ok(Self::None),
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Ok(Self::Cmd(rest.to_vec())),
            Some((kind, [line])) if kind == "CMD-SHELL" => Ok(Self::CmdShell(line.clone())),
            _ => Err(format!("invalid healthcheck test {test:?}")),
        }
    }

    /// The command line a probe executes; `None` when checks are disabled.
    pub fn argv(&self) -> Option<Vec<String>> {
        match self {
            Self::None => None,
            Self::Cmd(args) => Some(args.clone()),
            Self::CmdShell(line) => Some(vec!["/bin/sh".into(), "-c".into(), line.clone()]),
        }
    }
}

/// A container's healthcheck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// What to run.
    pub test: HealthTest,
    /// Time between probes (30 s).
    #[serde(with = "duration_nanos")]
    pub interval: Duration,
    /// A probe running longer fails (30 s).
    #[serde(with = "duration_nanos")]
    pub timeout: Duration,
    /// Consecutive failures that make the container unhealthy (3).
    pub retries: u32,
    /// Failures in this time after start do not count while starting (0).
    #[serde(with = "duration_nanos")]
    pub start_period: Duration,
    /// Time between probes during the start period (5 s).
    #[serde(with = "duration_nanos")]
    pub start_interval: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            test: HealthTest::None,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
        }
    }
}

/// The health of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// No probe has passed yet.
    Starting,
    /// The last probe passed.
    Healthy,
    /// `retries` probes failed in a row.
    Unhealthy,
}

impl HealthStatus {
    /// The lower-case name shown in ps and events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }
}

/// The outcome of one probe (an entry of inspect's `Health.Log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Start, nanoseconds since the Unix epoch.
    pub start: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end: u64,
    /// The probe's exit code; -1 when it timed out or could not run.
    pub exit_code: i32,
    /// Its output (stdout then stderr), cut at [`MAX_OUTPUT`] bytes.
    pub output: String,
}

/// Health state kept in the container's state record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The current status.
    pub status: HealthStatus,
    /// Consecutive counted failures.
    pub failing_streak: u32,
    /// The last [`MAX_LOG`] probe results, oldest first.
    pub log: Vec<ProbeResult>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

impl Health {
    /// Applies a probe result of a container started at `started_at` (ns); returns the new
    /// status when it changed.
    pub fn record(
        &mut self,
        config: &HealthConfig,
        started_at: u64,
        probe: ProbeResult,
    ) -> Option<HealthStatus> {
        let before = self.status;
        if probe.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else {
            let since_start = Duration::from_nanos(probe.start.saturating_sub(started_at));
            let grace = self.status == HealthStatus::Starting && since_start < config.start_period;
            if !grace {
                self.failing_streak += 1;
                if self.failing_streak >= config.retries.max(1) {
                    self.status = HealthStatus::Unhealthy;
                }
            }
        }
        self.log.push(probe);
        let excess = self.log.len().saturating_sub(MAX_LOG);
        self.log.drain(..excess);
        (self.status != before).then_some(self.status)
    }

    /// How long to wait before the next probe, at `now` (ns), for a container started at
    /// `started_at` (ns).
    pub(crate) fn next_delay(&self, config: &HealthConfig, started_at: u64, now: u64) -> Duration {
        let since_start = Duration::from_nanos(now.saturating_sub(started_at));
        if self.status == HealthStatus::Starting && since_start < config.start_period {
            config.start_interval
        } else {
            config.interval
        }
    }
}

/// Cuts probe output to [`MAX_OUTPUT`] bytes on a character boundary.
pub(crate) fn cut_output(mut text: String) -> String {
    if text.len() > MAX_OUTPUT {
        let mut end = MAX_OUTPUT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn probe(at_s: u64, code: i32) -> ProbeResult {
        ProbeResult {
            start: at_s * S,
            end: at_s * S + 1,
            exit_code: code,
            output: format!("probe at {at_s}"),
        }
    }

    #[test]
    fn transition_table() {
        use HealthStatus::*;
        let config = HealthConfig {
            test: HealthTest::CmdShell("true".into()),
            retries: 2,
            start_period: Duration::from_secs(10),
            ..HealthConfig::default()
        };
        // Each case: probes (seconds after start, exit code) -> statuses after each probe.
        type Case = (&'static str, Vec<(u64, i32)>, Vec<HealthStatus>);
        let cases: Vec<Case> = vec![
            ("pass", vec![(1, 0)], vec![Healthy]),
            (
                "failures in the start period do not count",
                vec![(1, 1), (2, 1), (3, 1), (11, 1), (12, 1)],
                vec![Starting, Starting, Starting, Starting, Unhealthy],
            ),
            (
                "a pass ends the grace; later failures count even in the period",
                vec![(1, 0), (2, 1), (3, 1)],
                vec![Healthy, Healthy, Unhealthy],
            ),
            (
                "a pass resets the streak",
                vec![(20, 1), (21, 0), (22, 1), (23, 0)],
                vec![Starting, Healthy, Healthy, Healthy],
            ),
            (
                "unhealthy recovers on a pass",
                vec![(20, 1), (21, 1), (22, 7), (23, 0)],
                vec![Starting, Unhealthy, Unhealthy, Healthy],
            ),
            (
                "timeouts (-1) are failures",
                vec![(20, -1), (21, -1)],
                vec![Starting, Unhealthy],
            ),
        ];
        for (name, probes, want) in cases {
            let mut health = Health::default();
            let got: Vec<HealthStatus> = probes
                .into_iter()
                .map(|(at, code)| {
                    health.record(&config, 0, probe(at, code));
                    health.status
                })
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn record_reports_changes_and_keeps_five_results() {
        let config = HealthConfig {
            retries: 1,
            ..HealthConfig::default()
        };
        let mut health = Health::default();
        assert_eq!(
            health.record(&config, 0, probe(1, 0)),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(health.record(&config, 0, probe(2, 0)), None);
        assert_eq!(
            health.record(&config, 0, probe(3, 1)),
            Some(HealthStatus::Unhealthy)
        );
        for at in 4..10 {
            health.record(&config, 0, probe(at, 1));
        }
        assert_eq!(health.failing_streak, 7);
        let starts: Vec<u64> = health.log.iter().map(|p| p.start / S).collect();
        assert_eq!(starts, [5, 6, 7, 8, 9]);
    }

    #[test]
    fn probe_interval_table() {
        let config = HealthConfig {
            interval: Duration::from_secs(30),
            start_interval: Duration::from_secs(2),
            start_period: Duration::from_secs(10),
            ..HealthConfig::default()
        };
        let starting = Health::default();
        let healthy = Health {
            status: HealthStatus::Healthy,
            ..Health::default()
        };
        let cases = [(&starting, 5, 2), (&starting, 10, 30), (&healthy, 5, 30)];
        for (health, now_s, want_s) in cases {
            assert_eq!(
                health.next_delay(&config, 0, now_s * S),
                Duration::from_secs(want_s),
                "{:?} at {now_s}",
                health.status
            );
        }
    }

    #[test]
    fn tests_parse_and_cut() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(HealthTest::from_docker(&s(&["NONE"])), Ok(HealthTest::None));
        assert_eq!(
            HealthTest::from_docker(&s(&["CMD", "curl", "-f"])),
            Ok(HealthTest::Cmd(s(&["curl", "-f"])))
        );
        assert_eq!(
            HealthTest::from_docker(&s(&["CMD-SHELL", "exit 0"]))
                .unwrap()
                .argv(),
            Some(s(&["/bin/sh", "-c", "exit 0"]))
        );
        assert!(HealthTest::from_docker(&s(&["CMD"])).is_err());
        assert!(HealthTest::from_docker(&s(&["BOGUS"])).is_err());
        assert_eq!(HealthTest::None.argv(), None);
        assert_eq!(cut_output("é".repeat(3000)).len(), 4096);
    }
}
