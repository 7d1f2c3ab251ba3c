//! Service logs across the cluster, shaped like swarmkit's log broker
//! (`api/proto/logs.proto`).
//!
//! The CLI subscribes on any manager. That manager chooses what the subscription covers from
//! its applied store ([`select`]: the service or task named, and the nodes that held its
//! tasks), makes it active in its own [`broker`](Broker) and relays it to every other manager
//! for as long as the CLI's stream lasts. Every manager announces its active subscriptions to
//! the nodes listening on it; a node may listen on a different manager than the one the CLI
//! called, which is why subscriptions are relayed and why nodes publish straight to the
//! manager the subscription names. That manager merges what the nodes publish into the CLI's
//! stream, and without follow ends it once every node that held the tasks has ended its part
//! or was given up ([`tracker`]).
//!
//! - [`select`]: the pure choices (which service, tasks, nodes and containers).
//! - [`tracker`]: when a subscription without follow is complete (pure, time injected).
//! - `broker`: one manager's active subscriptions and routes.
//! - `server`: the gRPC service.
//! - [`node`]: the node side, reading its agent's logs.
//! - [`client`]: the CLI's client.

mod broker;
pub mod client;
pub mod node;
pub mod select;
mod server;
pub mod tracker;

pub use api::logs as proto;
pub use client::{LogStream, LogsClient};
pub use proto::logs_server::LogsServer;
pub use server::{LISTEN_BEAT, LogsService, NODE_PATIENCE};
