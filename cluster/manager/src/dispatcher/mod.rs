//! The dispatcher: the managers' side of each node's session.
//!
//! - [`sets`]: which tasks each node must know (every task the store assigns to it), and the
//!   increment between two sets.
//! - `hub`: recomputes every node's set from this manager's applied store when entries apply.
//!   A follower serves its own applied store instead of forwarding to the leader: the store
//!   only reaches a follower through the log, so what it serves was committed, at most a few
//!   entries behind; and without a quorum every manager keeps serving the last committed set,
//!   so nodes keep their tasks. Changes wait for a quorum anyway.
//! - `server`: the gRPC `Dispatcher` service (`api/proto/dispatcher.proto`): `Assignments`
//!   streams a complete set then increments numbered by sequence; `ReportStatus` hands
//!   reports to the batcher and answers once they are committed.
//! - [`batch`]: reports of every node within 100 ms (or 256 reports) become one store batch,
//!   each moving its task's state forward only. A follower writes through the leader.
//! - [`assignment`]: the domain values on both ends and their wire forms.
//! - [`files`]: the secret and config files of each task, with their payloads, carried in
//!   its assignment (only to the node that runs it, only while it is to run).
//! - [`networks`]: the cluster networks of each task, with the network's endpoints on other
//!   nodes, carried in its assignment.

// Public only to the simulation (the `testing` feature).
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

pub mod assignment;
pub mod batch;
pub mod files;
pub(crate) mod hub;
pub mod networks;
pub(crate) mod server;
pub mod sets;

pub use api::dispatcher as proto;
pub use assignment::{Assignment, StatusReport};
pub use server::DispatcherService;
