//! Swarm-mode services across a cluster, as pure logic: the model the cluster store keeps
//! (services, tasks, nodes, restart history), and the functions the leader's control loops
//! call with a snapshot of it and the current time.
//!
//! Nothing here reads the clock, draws random ids or does I/O: the caller passes
//! [`Timestamp`]s in and stamps ids on the tasks it creates, so that every decision is a value
//! that can be committed through Raft, replayed and tested.
//!
//! How the leader's loop drives it, on each change of the store (or at a requested time):
//!
//! 1. For each service: [`reconcile`] with the service's tasks, every node (with the status
//!    the heartbeats gave it) and the service's stored [`RestartHistory`] → a
//!    [`Reconciliation`]. Commit it as one batch: each [`TaskCreation`] becomes a task with an
//!    id the leader picks ([`TaskCreation::into_task`]); each [`Shutdown`] sets the desired
//!    state (and, when `orphaned`, the observed state); removals delete; restarts are added to
//!    the history ([`RestartHistory::apply`]). Run it again at `requeue_at`.
//!    Before that, [`plan_update`] moves a rolling update on (the slots to replace now, the
//!    update's next state); commit its service and tasks in the same batch.
//! 2. For each replicated service at rest: [`rebalance`] → creations committed the same way.
//! 3. [`schedule`] with every node and every task → a [`Schedule`]: commit the assignments
//!    (node and state `assigned`) and the pending reasons; run it again at `retry_at`.
//! 4. Node reports move a task's observed state only forward ([`TaskState::advance`]).
//!
//! [`apply_reconciliation`] and [`apply_schedule`] are the reference for those commits, on a
//! plain list of tasks.

mod constraint;
mod container;
mod endpoint;
mod error;
mod files;
mod ids;
mod mode;
mod node;
mod reasons;
mod resources;
mod restart;
mod service;
mod spec;
mod task;
mod task_state;
mod time;
mod update_config;

mod apply;
mod rebalance;
mod reconcile;
mod schedule;
pub mod update;

pub use apply::{apply_reconciliation, apply_schedule, shared_spec};
pub use constraint::{Constraint, ConstraintError, ConstraintKey, Spread};
pub use container::{Healthcheck, Mount, MountKind, Protocol, PublishMode, PublishedPort, Ulimit};
pub use endpoint::EndpointMode;
pub use error::SwarmError;
pub use files::{DEFAULT_FILE_MODE, FileKind, FileReference, SECRETS_DIR};
pub use ids::{NodeId, ServiceId, TaskId};
pub use mode::Mode;
pub use node::{Availability, Node, NodeRole, NodeStatus, Platform};
pub use reasons::{CreateReason, ShutdownReason};
pub use rebalance::rebalance;
pub use reconcile::{Reconciliation, Shutdown, TaskCreation, reconcile};
pub use resources::{Bytes, Cpus, NANO_CPUS_PER_CPU, ResourceRequirements, Resources};
pub use restart::{RestartCondition, RestartHistory, RestartPolicy, RestartRecord, SlotRestarts};
pub use schedule::{
    Assignment, FAILURE_WINDOW, FilterFailure, NoSuitableNode, ReasonParseError, Schedule,
    Unplaced, schedule,
};
pub use service::{Service, UpdateState, UpdateStatus};
pub use spec::{NetworkAttachmentConfig, Placement, ServiceSpec};
pub use task::{DesiredState, Replaces, Task, TaskSlot, TaskStatus};
pub use task_state::{TaskState, TransitionError};
pub use time::Timestamp;
pub use update::{
    SlotFailure, SlotStep, UpdatePlan, UpdateProgress, UpdateRequestError, plan_update,
};
pub use update_config::{
    DEFAULT_DEADLINE, DEFAULT_MONITOR, FailureAction, FailureRatio, UpdateConfig,
    UpdateConfigError, UpdateOrder,
};
