//! Bosun's wire API, apart from the daemons that serve it.
//!
//! - [`agent`]: the generated messages and gRPC services of the node agent's local API
//!   (`proto/agent.proto`, `images.proto`, `volumes.proto`, `networks.proto`, `changes.proto`).
//! - [`manager`]: the generated messages and gRPC services of the managers (`proto/manager.proto`).
//! - [`dispatcher`]: the session between a node and the managers (`proto/dispatcher.proto`).
//! - [`blobs`]: image blobs one cluster node fetches from another (`proto/blobs.proto`).
//! - [`services`]: the managers' services API: services, tasks, node scheduling settings
//!   (`proto/services.proto`).
//! - [`client`], [`images_client`], [`attach_client`]: the agent's typed client over its unix
//!   socket, as the CLI and the compose backend use it.
//! - [`Reason`]: typed refusals a manager marks its errors with.
//!
//! Wire types stop at the edges: the agent decodes them into engine types in its service
//! handlers, and the CLI renders them; no decision reads a proto field's text.

pub mod attach_client;
pub mod client;
mod events;
pub mod images_client;
mod mounts;
mod reason;
mod state;

/// The generated protobuf messages and gRPC services of the node agent's API.
#[allow(missing_docs, clippy::all, clippy::unwrap_used)]
pub mod agent {
    tonic::include_proto!("bosun.agent.v1");
}

/// The generated protobuf messages and gRPC services of the dispatcher: assignments to
/// nodes and task status reports (`proto/dispatcher.proto`).
#[allow(missing_docs, clippy::all, clippy::unwrap_used)]
pub mod dispatcher {
    tonic::include_proto!("bosun.dispatcher.v1");
}

/// The generated protobuf messages and gRPC services of image blobs between cluster nodes
/// (`proto/blobs.proto`).
#[allow(missing_docs, clippy::all, clippy::unwrap_used)]
pub mod blobs {
    tonic::include_proto!("bosun.blobs.v1");
}

/// The generated protobuf messages and gRPC services of service logs across the cluster
/// (`proto/logs.proto`).
#[allow(missing_docs, clippy::all, clippy::unwrap_used)]
pub mod logs {
    tonic::include_proto!("bosun.logs.v1");
}

/// The generated protobuf messages and gRPC services of the managers' API.
#[allow(missing_docs, clippy::all, clippy::unwrap_used)]
pub mod manager {
    tonic::include_proto!("bosun.manager.v1");
}

/// The generated protobuf messages and gRPC services of the managers' services API.
#[allow(missing_docs, clippy::all, clippy::unwrap_used)]
pub mod services {
    tonic::include_proto!("bosun.services.v1");
}

pub use client::{AgentClient, ClientError};
pub use reason::Reason;

/// The API version the agent speaks.
pub const API_VERSION: &str = "2";

/// The socket's file name inside the run root.
pub const SOCKET_NAME: &str = "bosun.sock";
