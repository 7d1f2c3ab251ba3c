//! Swarm-mode services across a cluster, as pure logic: the model the cluster store keeps
//! (services, tasks, nodes, restart history), and the functions the leader's control loops
//! call with a snapshot of it and the current time.
//!
//! Nothing here reads the clock, draws random ids or does I/O: the caller passes
//! [`Timestamp`]s in and stamps ids on the tasks it creates, so that every decision is a value
//! that can be committed through Raft, replayed and tested.

mod constraint;
mod container;
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

mod apply;
mod rebalance;
mod reconcile;
mod schedule;

pub use apply::{apply_reconciliation, apply_schedule};
pub use constraint::{Constraint, ConstraintError, ConstraintKey, Spread};
pub use container::{Healthcheck, Mount, MountKind, Protocol, PublishMode, PublishedPort, Ulimit};
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
pub use spec::{Placement, ServiceSpec};
pub use task::{DesiredState, Replaces, Task, TaskSlot, TaskStatus};
pub use task_state::{TaskState, TransitionError};
pub use time::Timestamp;
