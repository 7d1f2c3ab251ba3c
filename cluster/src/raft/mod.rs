//! The consensus core: raft-rs driven synchronously over durable redb storage.

pub mod codec;
pub mod config;
pub mod logger;
pub mod membership;
pub mod node;
pub mod storage;

pub use codec::{DecodeError, decode_message, encode_message};
pub use config::NodeConfig;
pub use membership::{MembershipError, NoQuorum};
pub use node::{
    Event, MembershipChange, NodeError, NodeStatus, ProposeError, RaftNode, ReadId, Ticket,
    WriteError,
};
pub use storage::{LogWriter, RaftStorage, StorageError};
