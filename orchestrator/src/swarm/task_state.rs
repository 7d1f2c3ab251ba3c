//! The observed state of a task, which only moves forward.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where a task is in its life, as its node (or, for a lost task, the managers) reports it.
///
/// The order of the variants is the order of life: `new → pending → assigned → accepted →
/// preparing → starting → running`, then one of the terminal states. A state may move to any
/// later one (a node may skip states it went through between two reports), never back, and a
/// terminal state never moves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Created by a reconciler.
    #[default]
    New,
    /// Waiting for the scheduler (or for a node that fits).
    Pending,
    /// Assigned to a node.
    Assigned,
    /// The node accepted it.
    Accepted,
    /// The node prepares it (pulls the image, creates the container).
    Preparing,
    /// The container starts.
    Starting,
    /// The container runs.
    Running,
    /// Exited with status 0.
    Complete,
    /// Exited with an error, or could not start.
    Failed,
    /// Stopped because the managers asked.
    Shutdown,
    /// The node refused it (image pull or create failed).
    Rejected,
    /// Its node went away; the managers gave it up.
    Orphaned,
}

/// A move a task's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("task state cannot move from {from} to {to}")]
pub struct TransitionError {
    /// The current state.
    pub from: TaskState,
    /// The state asked for.
    pub to: TaskState,
}

impl TaskState {
    /// Every state, in order of life.
    pub const ALL: [TaskState; 12] = [
        TaskState::New,
        TaskState::Pending,
        TaskState::Assigned,
        TaskState::Accepted,
        TaskState::Preparing,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Complete,
        TaskState::Failed,
        TaskState::Shutdown,
        TaskState::Rejected,
        TaskState::Orphaned,
    ];

    /// The task stopped and will never run again.
    pub fn is_terminal(self) -> bool {
        self > TaskState::Running
    }

    /// The task is on its way to running or runs: assigned to a node and not terminal. Such a
    /// task holds its node's resources and ports.
    pub fn is_active(self) -> bool {
        self >= TaskState::Assigned && self <= TaskState::Running
    }

    /// Whether the state may move to `next`: forward only, and never out of a terminal state.
    pub fn can_move_to(self, next: TaskState) -> bool {
        !self.is_terminal() && next > self
    }

    /// Moves to `next` when allowed.
    pub fn advance(&mut self, next: TaskState) -> Result<(), TransitionError> {
        if !self.can_move_to(next) {
            return Err(TransitionError {
                from: *self,
                to: next,
            });
        }
        *self = next;
        Ok(())
    }

    /// The lower-case name, as `service ps` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Failed => "failed",
            TaskState::Shutdown => "shutdown",
            TaskState::Rejected => "rejected",
            TaskState::Orphaned => "orphaned",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn life_moves_forward() {
        let mut state = TaskState::New;
        for next in [
            TaskState::Pending,
            TaskState::Assigned,
            TaskState::Running,
            TaskState::Failed,
        ] {
            state.advance(next).unwrap();
        }
        assert_eq!(
            state.advance(TaskState::Running).unwrap_err().to_string(),
            "task state cannot move from failed to running"
        );
        assert!(!TaskState::Complete.can_move_to(TaskState::Failed));
        assert!(!TaskState::Running.can_move_to(TaskState::Running));
        assert!(TaskState::Starting.can_move_to(TaskState::Orphaned));
    }

    #[test]
    fn helpers_split_the_states() {
        let terminal: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal.len(), 5);
        let active: Vec<_> = TaskState::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(active.first(), Some(&TaskState::Assigned));
        assert_eq!(active.last(), Some(&TaskState::Running));
        assert_eq!(active.len(), 5);
    }

    proptest! {
        #[test]
        fn states_only_move_forward(moves in proptest::collection::vec(0usize..12, 0..40)) {
            let mut state = TaskState::New;
            let mut terminal_seen = false;
            for index in moves {
                let before = state;
                let next = TaskState::ALL[index];
                match state.advance(next) {
                    Ok(()) => {
                        prop_assert!(next > before);
                        prop_assert!(!terminal_seen);
                    }
                    Err(_) => prop_assert_eq!(state, before),
                }
                terminal_seen |= state.is_terminal();
            }
        }
    }
}
