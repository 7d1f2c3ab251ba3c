//! The consensus core of the managers: raft-rs driven synchronously over durable redb storage,
//! applying the cluster store (`cluster-state`). [`RaftNode`] is driven by logical ticks and
//! messages handed in by a transport; with the `sim` feature, `sim` drives several nodes over
//! a simulated, faulty network. The `testing` feature (for this crate's integration tests)
//! makes the durable storage inspectable through `RaftNode::storage`.

/// Declares a function `pub` with the `testing` feature (this crate's integration tests
/// inspect the durable storage through it) and `pub(crate)` without it, so that nothing only
/// tests use is public API.
macro_rules! testing_pub {
    ($(#[$meta:meta])* fn $name:ident $($rest:tt)*) => {
        $(#[$meta])*
        #[cfg(feature = "testing")]
        pub fn $name $($rest)*

        $(#[$meta])*
        #[cfg(not(feature = "testing"))]
        pub(crate) fn $name $($rest)*
    };
}

mod codec;
mod config;
mod logger;
mod membership;
mod node;
mod storage;

#[cfg(feature = "sim")]
pub mod sim;

/// raft-rs's protobuf types (messages, entries, states), as carried by the transport.
pub use ::raft::eraftpb;
pub use codec::{DecodeError, decode_message, encode_message};
pub use config::NodeConfig;
pub use membership::{MembershipError, NoQuorum, failures_tolerated, quorum};
pub use node::{
    DB_FILE, Event, MembershipChange, NodeError, NodeStatus, ProposeError, RaftNode, ReadId,
    Ticket, WriteError,
};
pub use storage::{RaftStorage, StorageError};

#[cfg(test)]
mod storage_tests;
