//! The consensus core of the managers: raft-rs driven synchronously over durable redb storage,
//! applying the cluster store (`cluster-state`). [`RaftNode`] is driven by logical ticks and
//! messages handed in by a transport; with the `sim` feature, `sim` drives several nodes over
//! a simulated, faulty network.

pub mod codec;
pub mod config;
pub mod logger;
pub mod membership;
pub mod node;
pub mod storage;

#[cfg(feature = "sim")]
pub mod sim;

/// raft-rs's protobuf types (messages, entries, states), as carried by the transport.
pub use ::raft::eraftpb;
pub use codec::{DecodeError, decode_message, encode_message};
pub use config::NodeConfig;
pub use membership::{MembershipError, NoQuorum};
pub use node::{
    Event, MembershipChange, NodeError, NodeStatus, ProposeError, RaftNode, ReadId, Ticket,
    WriteError,
};
pub use storage::{LogWriter, RaftStorage, StorageError};

#[cfg(test)]
mod storage_tests;
