//! The consensus core: raft-rs driven synchronously over durable redb storage.

pub mod codec;
pub mod config;
pub mod logger;
pub mod membership;
pub mod node;
pub mod storage;

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
