//! How many tasks a service runs, and until when.

use serde::{Deserialize, Serialize};

/// The mode of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum Mode {
    /// Numbered slots `1..=replicas`, each with one running task.
    Replicated {
        /// Wanted number of tasks.
        replicas: u64,
    },
    /// One task on every eligible node, including nodes that join later.
    Global,
    /// Run tasks until `total_completions` of them completed, at most `max_concurrent` at once.
    ReplicatedJob {
        /// Completions wanted (slots `1..=total_completions`).
        total_completions: u64,
        /// Tasks running at the same time at most (at least 1 is used).
        max_concurrent: u64,
    },
    /// Run one task to completion on every eligible node.
    GlobalJob,
}

impl Mode {
    /// Whether the tasks run to completion (a completed task is done, not restarted).
    pub fn is_job(self) -> bool {
        matches!(self, Mode::ReplicatedJob { .. } | Mode::GlobalJob)
    }

    /// Whether tasks live in numbered slots (rather than one per node).
    pub fn is_replicated(self) -> bool {
        matches!(self, Mode::Replicated { .. } | Mode::ReplicatedJob { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_tagged() {
        let mode = Mode::ReplicatedJob {
            total_completions: 10,
            max_concurrent: 2,
        };
        let json = serde_json::to_string(&mode).unwrap();
        assert_eq!(
            json,
            r#"{"mode":"replicated-job","total_completions":10,"max_concurrent":2}"#
        );
        assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), mode);
        assert!(mode.is_job() && mode.is_replicated());
        assert!(!Mode::Global.is_job() && !Mode::Global.is_replicated());
    }
}
