//! The node side of tasks: every cluster node (managers too) runs the tasks the managers
//! assign to it on its own agent.
//!
//! - `session`: the node's session with a manager's dispatcher: the assignment stream (its
//!   set saved under the data root, so the node keeps its tasks while no manager answers),
//!   and status reports sent back in batches.
//! - `runner`: one actor per assigned task; adopts the containers a previous node daemon
//!   left (by their task label) and removes those of tasks no longer assigned.
//! - `actor` and [`machine`]: a task's life as a pure state machine (preparing → starting →
//!   running → complete | failed, rejected on a failed pull or create, shutdown when asked),
//!   and the actor that makes its calls on the agent.
//! - [`translate`]: the container's name, labels and config from the task's spec (with its
//!   addresses on cluster networks).
//! - [`overlays`]: the overlay links of the node's tasks on its agent, created before a
//!   task's container, their remote endpoints kept to what the assignments say, removed once
//!   the last task there is gone.
//! - [`attached`]: the node's standalone containers on attachable overlays (their overlays
//!   made like its tasks'; an attachment withdrawn once its container is gone).
//! - [`engine`]: the agent calls, behind a trait.
//! - [`fetch`] and `sources`: an image no registry holds, pinned to its manifest digest,
//!   fetched blob by blob from a manager that has it (see [`crate::blobs`]).
//! - [`disconnect`]: `--stop-on-disconnect`, the tasks a node cut off from the managers
//!   stops (the others keep running however long it is cut off).

// Public only to the simulation (the `testing` feature).
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

mod actor;
pub mod attached;
pub mod describe;
pub mod disconnect;
pub mod engine;
#[cfg(test)]
mod fake;
pub mod fetch;
pub mod machine;
pub mod overlays;
mod runner;
pub(crate) mod session;
mod sources;
mod store;
pub mod translate;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

pub use engine::AgentEngine;

/// Runs the tasks of the node at `data_root` on the agent listening on `agent_socket`, until
/// `stop` turns true. Containers keep running when it stops.
pub async fn run(data_root: PathBuf, agent_socket: PathBuf, stop: watch::Receiver<bool>) {
    let sources = Arc::new(sources::ClusterSources::new(data_root.clone()));
    let engine = Arc::new(AgentEngine::new(agent_socket).with_sources(sources));
    session::run(data_root, engine, stop).await;
}

/// Runs the tasks of the node at `data_root` on `engine` — any [`engine::TaskEngine`], such as
/// the fleet simulator's in-memory runtime — with the same session, runner and task actors
/// as [`run`], until `stop` turns true.
#[cfg(feature = "testing")]
pub async fn run_on<E: engine::TaskEngine>(
    data_root: PathBuf,
    engine: Arc<E>,
    stop: watch::Receiver<bool>,
) {
    session::run(data_root, engine, stop).await;
}
