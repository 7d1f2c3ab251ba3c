//! Progress events of a build, for a renderer (`[stage 2/5] RUN …`, CACHED or the time, the
//! RUN output as it comes).

use std::time::Duration;

/// Which step of which stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    /// The stage's name (`AS name`) or `stage-<n>`.
    pub stage: String,
    /// The step's number in its stage (1-based; the FROM is step 1).
    pub step: usize,
    /// The number of steps of the stage.
    pub steps: usize,
    /// The instruction as shown (`RUN echo hi`).
    pub text: String,
}

impl std::fmt::Display for StepRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{} {}/{}] {}",
            self.stage, self.step, self.steps, self.text
        )
    }
}

/// The output stream of a RUN line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step starts.
    Started(StepRef),
    /// A step was taken from the cache.
    Cached(StepRef),
    /// A step finished after running.
    Finished {
        /// The step.
        step: StepRef,
        /// How long it took.
        elapsed: Duration,
    },
    /// A line of RUN output.
    Output {
        /// The step.
        step: StepRef,
        /// Which stream.
        stream: Stream,
        /// The line, newline included when it was complete.
        line: String,
    },
    /// The image was written.
    Written {
        /// The image id.
        id: String,
        /// The tags pointed at it.
        tags: Vec<String>,
    },
}
