//! How a service's tasks are replaced when its spec changes (`update_config`) or goes back to
//! the previous one (`rollback_config`): Docker's knobs with Docker's defaults, plus a
//! deadline per step so that an update never waits forever.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A value of an update knob that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateConfigError {
    /// Not `stop-first` or `start-first`.
    #[error("invalid update order {0:?}: expected stop-first or start-first")]
    Order(String),
    /// Not `pause`, `continue` or `rollback`.
    #[error("invalid failure action {0:?}: expected pause, continue or rollback")]
    FailureAction(String),
    /// Not a number between 0 and 1.
    #[error("invalid max failure ratio {0:?}: expected a number between 0 and 1")]
    Ratio(String),
}

/// Whether the old task stops before its replacement starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Stop the old task, then start the new one (Docker's default).
    #[default]
    StopFirst,
    /// Start the new task; stop the old one once the new one runs.
    StartFirst,
}

impl fmt::Display for UpdateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpdateOrder::StopFirst => "stop-first",
            UpdateOrder::StartFirst => "start-first",
        })
    }
}

impl FromStr for UpdateOrder {
    type Err = UpdateConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stop-first" => Ok(UpdateOrder::StopFirst),
            "start-first" => Ok(UpdateOrder::StartFirst),
            other => Err(UpdateConfigError::Order(other.to_owned())),
        }
    }
}

/// What happens when more tasks fail than the failure ratio allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    /// Stop and wait for `--resume`, `--cancel`, a rollback or a new update (the default).
    #[default]
    Pause,
    /// Go on with the next tasks.
    Continue,
    /// Go back to the previous spec (a rollback that fails pauses instead).
    Rollback,
}

impl fmt::Display for FailureAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureAction::Pause => "pause",
            FailureAction::Continue => "continue",
            FailureAction::Rollback => "rollback",
        })
    }
}

impl FromStr for FailureAction {
    type Err = UpdateConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pause" => Ok(FailureAction::Pause),
            "continue" => Ok(FailureAction::Continue),
            "rollback" => Ok(FailureAction::Rollback),
            other => Err(UpdateConfigError::FailureAction(other.to_owned())),
        }
    }
}

/// The share of tasks that may fail before the failure action applies, between 0 and 1,
/// kept in millionths so that specs compare exactly; read and written as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct FailureRatio(u32);

impl FailureRatio {
    const SCALE: f64 = 1_000_000.0;

    /// Whether `failed` tasks out of `total` exceed this ratio.
    pub fn exceeded_by(self, failed: usize, total: usize) -> bool {
        let failed = failed as u128 * 1_000_000;
        failed > u128::from(self.0) * total as u128
    }
}

impl TryFrom<f64> for FailureRatio {
    type Error = UpdateConfigError;

    fn try_from(value: f64) -> Result<Self, Self::Error> {
        if !(0.0..=1.0).contains(&value) {
            return Err(UpdateConfigError::Ratio(value.to_string()));
        }
        Ok(FailureRatio((value * Self::SCALE).round() as u32))
    }
}

impl From<FailureRatio> for f64 {
    fn from(ratio: FailureRatio) -> f64 {
        f64::from(ratio.0) / FailureRatio::SCALE
    }
}

impl FromStr for FailureRatio {
    type Err = UpdateConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value: f64 = s
            .trim()
            .parse()
            .map_err(|_| UpdateConfigError::Ratio(s.to_owned()))?;
        FailureRatio::try_from(value)
    }
}

impl fmt::Display for FailureRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", f64::from(*self))
    }
}

/// The default step deadline: 5 minutes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
/// The default monitor period: 5 seconds, as Docker.
pub const DEFAULT_MONITOR: Duration = Duration::from_secs(5);

/// How tasks are replaced in an update (or a rollback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Slots replaced at the same time; 0 = all at once.
    pub parallelism: u64,
    /// Wait between a slot finishing and the next one starting.
    pub delay: Duration,
    /// Stop the old task first, or start the new one first.
    pub order: UpdateOrder,
    /// What to do when too many tasks fail.
    pub failure_action: FailureAction,
    /// How long a new task must keep running (and healthy) to count as updated.
    pub monitor: Duration,
    /// The share of failed tasks tolerated before the failure action.
    pub max_failure_ratio: FailureRatio,
    /// A slot not updated this long after its step started counts as failed (Bosun's own).
    pub deadline: Duration,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            parallelism: 1,
            delay: Duration::ZERO,
            order: UpdateOrder::StopFirst,
            failure_action: FailureAction::Pause,
            monitor: DEFAULT_MONITOR,
            max_failure_ratio: FailureRatio::default(),
            deadline: DEFAULT_DEADLINE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers_plus_a_five_minute_deadline() {
        let config: UpdateConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, UpdateConfig::default());
        assert_eq!(config.parallelism, 1);
        assert_eq!(config.order, UpdateOrder::StopFirst);
        assert_eq!(config.failure_action, FailureAction::Pause);
        assert_eq!(config.monitor, Duration::from_secs(5));
        assert_eq!(config.deadline, Duration::from_secs(300));
    }

    #[test]
    fn knobs_read_from_text() {
        assert_eq!("start-first".parse(), Ok(UpdateOrder::StartFirst));
        assert_eq!("rollback".parse(), Ok(FailureAction::Rollback));
        assert_eq!(
            "sideways".parse::<UpdateOrder>().unwrap_err().to_string(),
            "invalid update order \"sideways\": expected stop-first or start-first"
        );
        let ratio: FailureRatio = "0.25".parse().unwrap();
        assert_eq!(ratio.to_string(), "0.25");
        assert!("1.5".parse::<FailureRatio>().is_err());
        assert!("x".parse::<FailureRatio>().is_err());
        let json = serde_json::to_string(&ratio).unwrap();
        assert_eq!(json, "0.25");
        assert!(serde_json::from_str::<FailureRatio>("2").is_err());
    }

    #[test]
    fn the_ratio_is_exceeded_only_beyond_it() {
        let zero = FailureRatio::default();
        assert!(!zero.exceeded_by(0, 6));
        assert!(zero.exceeded_by(1, 6));
        let quarter: FailureRatio = "0.25".parse().unwrap();
        assert!(!quarter.exceeded_by(1, 4));
        assert!(quarter.exceeded_by(2, 4));
    }
}
