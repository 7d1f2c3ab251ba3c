//! Everything that talks over a network: the node agent and its gRPC API, the Raft managers
//! and their replicated store, node membership, and the cluster CA.
//!
//! The consensus core is synchronous: [`raft::RaftNode`] wraps raft-rs with durable storage
//! and the [`store::Store`] state machine, driven by logical ticks and messages handed in by a
//! transport. [`sim`] drives several nodes over a simulated, faulty network.

pub mod agent;
pub mod compose;
pub mod manager;
pub mod pki;
pub mod raft;
pub mod sim;
pub mod store;
