//! The fleet simulator: many simulated nodes in one process, each a real node of the
//! cluster — joined with the worker token (its own certificate), heartbeating, streaming its
//! assignments and reporting its tasks' states over the same mutual-TLS gRPC API as a real
//! node daemon, through the node daemon's own code (`cluster_manager::node_daemon::run_worker`
//! and `cluster_manager::tasks::run_on`). Only the task runtime is simulated
//! ([`engine::SimEngine`]): a task "starts" after a configurable delay and runs until the
//! simulator crashes it or its node is killed.
//!
//! - [`engine`]: the in-memory task runtime of one node.
//! - [`node`]: one simulated node (join, start, stop, kill).
//! - [`fleet`]: many nodes: joins with a concurrency limit, node loss and return, crashes,
//!   counts of running tasks.
//! - [`command`]: the line commands `bosun-fleet` reads on its standard input.

pub mod command;
pub mod engine;
pub mod fleet;
pub mod node;

pub use fleet::{Fleet, FleetConfig};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// No manager address was given.
    #[error("no manager address given")]
    NoManagers,
    /// Every manager refused or failed the join: what each said.
    #[error("join: {0}")]
    Join(String),
    /// The token is a manager token: simulated nodes are workers.
    #[error("the join token gave the role {0:?}; simulated nodes need a worker token")]
    NotWorker(String),
    /// Local state of a node could not be written.
    #[error(transparent)]
    State(#[from] cluster_manager::ManagerError),
    /// A work directory could not be made.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A join task panicked or was cancelled.
    #[error("join task failed: {0}")]
    Task(String),
}
