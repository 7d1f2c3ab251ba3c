//! Compose on one host: observe → plan → execute.
//!
//! - [`observed`]: what the backend reports ([`Observed`]);
//! - [`plan()`] (in [`up`]) and [`plan_down`] (in [`down`]): pure functions from the desired
//!   project and the observed state to a [`Plan`], a DAG of atomic [`Action`]s each with its
//!   reason;
//! - [`execute`](execute::execute): runs a plan against a [`Backend`] with all the parallelism
//!   the DAG allows, streaming [`Progress`] events;
//! - [`ops`]: the commands over existing containers (`start`, `stop`, `restart`, `kill`, `rm`,
//!   `pause`, `unpause`) as batches of one operation, run through the same [`Backend`].
//!
//! Identity is kept in labels with Compose's keys ([`labels`]); each container also records
//! the canonical JSON of the service definition it was made from
//! ([`labels::SERVICE_CONFIG`]), which is how a recreate names the fields that changed.

pub mod action;
pub mod backend;
pub mod build;
pub mod clock;
pub mod conditions;
pub mod decide;
pub mod desired;
pub mod diff;
pub mod down;
pub mod error;
pub mod execute;
pub mod files;
pub mod from_labels;
pub mod graph;
pub mod labels;
pub mod observed;
pub mod ops;
pub mod options;
pub mod orphans;
pub mod plan;
pub mod progress;
pub mod resources;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
pub mod up;

pub use action::{
    Action, AwaitSpec, BuildSpec, ContainerSpec, NetworkSpec, PreStartSpec, VolumeSpec,
};
pub use backend::Backend;
pub use build::{BuildFlags, BuildPolicy, builds_of, plan_builds};
pub use clock::{Clock, SystemClock};
pub use desired::Desired;
pub use down::plan_down;
pub use error::{ActionFailure, BackendError, BackendErrorKind, ExecuteError, PlanError};
pub use execute::{ExecuteOptions, Report, execute, execute_with_clock};
pub use from_labels::project_from_labels;
pub use observed::{
    ContainerState, ContainerStatus, Health, HealthStatus, Mount, MountSource, Observed,
    ObservedContainer, ObservedNetwork, ObservedVolume,
};
pub use options::{DivergedVolumes, DownOptions, PlanOptions};
pub use plan::{Plan, Step, StepId};
pub use progress::{Progress, ProgressEvent, compose_lines};
pub use up::plan;
