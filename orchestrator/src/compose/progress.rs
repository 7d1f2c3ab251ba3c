//! Progress events streamed by the executor, one per change of a step's state.

use crate::compose::plan::StepId;

/// Something happened to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The step.
    pub step: StepId,
    /// The action, as the plan shows it (`start container demo-web-1`).
    pub action: String,
    /// The object it is about (container, network, volume, image, dependency service).
    pub target: String,
    /// What happened.
    pub event: ProgressEvent,
}

/// What happened to a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// It started.
    Started,
    /// It finished.
    Done,
    /// It finished, but something should be known (an optional dependency failed).
    Warning(String),
    /// It failed with this message.
    Failed(String),
    /// It was not run because a step it waits for failed.
    Skipped,
}
