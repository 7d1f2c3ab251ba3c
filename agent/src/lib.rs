//! The node agent: the daemon that owns this node's engine and serves its local gRPC API
//! (defined in the `api` crate), and [`compose`], the compose executor's backend over it.
//!
//! [`server::serve`] runs the API on a unix listener until a shutdown future resolves;
//! [`daemon`] adds what a long-lived `bosun agent` needs around it (roots, pid file, lock,
//! socket permissions); [`client::AgentClient`] is what the CLI talks through. Engine calls are
//! synchronous and always run on tokio's blocking pool, never on a worker thread.

mod access;
mod attach;
mod attach_exec;
mod build;
mod changes;
pub mod compose;
mod convert;
pub mod daemon;
mod decode;
mod disk;
mod dns;
mod error;
mod events;
mod exec;
mod files;
mod filter;
mod images;
mod images_blobs;
mod images_filter;
mod images_stream;
pub mod launch;
mod logs;
mod meta;
pub mod names;
pub mod networks;
mod node;
pub mod peer;
mod plan;
mod prepare;
mod proxy;
pub mod registry;
mod request;
pub mod security_opt;
mod server;
mod service;
mod shared;
mod spec;
mod summary;
mod supervise;
mod volumes;

pub use api::agent as proto;
pub use api::{API_VERSION, SOCKET_NAME, attach_client, client, images_client};
pub use api::{AgentClient, ClientError};
pub use daemon::{AgentConfig, DaemonError};
pub use error::AgentError;
pub use node::Node;
pub use server::serve;

/// A `-p` port specification in its wire form, as the agent reads it back.
pub use convert::spec_binding as port_binding;
/// A container configuration's engine limits, checked by Docker's rules before anything is made.
pub use decode::resources as check_resources;
