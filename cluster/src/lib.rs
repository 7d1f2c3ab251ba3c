//! What is cluster-only: the Raft managers and their replicated store, node membership, and the
//! cluster CA. (The per-node agent is the `agent` crate; the wire API is the `api` crate.)
//!
//! The consensus core is synchronous: [`raft::RaftNode`] wraps raft-rs with durable storage
//! and the [`store::Store`] state machine, driven by logical ticks and messages handed in by a
//! transport. [`sim`] drives several nodes over a simulated, faulty network.

pub mod manager;
pub mod pki;
pub mod raft;
pub mod sim;
pub mod store;
