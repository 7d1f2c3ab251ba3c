//! The node agent: the daemon that owns this node's engine and serves its local gRPC API
//! (defined in the `api` crate), and [`compose`], the compose executor's backend over it.
//!
//! [`server::serve`] runs the API on a unix listener until a shutdown future resolves;
//! [`daemon`] adds what a long-lived `bosun agent` needs around it (roots, pid file, lock,
//! socket permissions); [`client::AgentClient`] is what the CLI talks through. Engine calls are
//! synchronous and always run on tokio's blocking pool, never on a worker thread.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]

pub mod access;
pub mod attach;
pub mod attach_exec;
pub mod build;
pub mod compose;
pub mod convert;
pub mod daemon;
pub mod decode;
pub mod dns;
pub mod error;
pub mod events;
pub mod exec;
pub mod files;
pub mod filter;
pub mod images;
mod images_blobs;
pub mod images_filter;
mod images_stream;
pub mod launch;
pub mod logs;
pub mod meta;
pub mod names;
pub mod networks;
pub mod node;
pub mod peer;
pub mod plan;
pub mod prepare;
pub mod proxy;
pub mod registry;
pub mod request;
pub mod security_opt;
pub mod server;
pub mod service;
pub mod spec;
pub mod summary;
pub mod supervise;
pub mod volumes;

pub use api::agent as proto;
pub use api::{API_VERSION, SOCKET_NAME, attach_client, client, images_client};
pub use api::{AgentClient, ClientError};
pub use daemon::{AgentConfig, DaemonError};
pub use error::AgentError;
pub use node::Node;
pub use server::serve;
