//! The Docker Engine HTTP API on a unix socket, served from the Bosun agent's own services.
//!
//! `bosun agent --docker-socket PATH` serves a documented subset of Docker's API (versions
//! 1.24 to 1.45, see `docs/docker-api.md`) so that the docker CLI, docker-compose and other
//! Docker clients drive this node's containers, images, networks and volumes unchanged. Paths
//! may carry the `/v1.xx` prefix, which is stripped; what is not served answers Docker's error
//! JSON (`{"message": …}`) with status 501, naming the endpoint.
//!
//! # Why the agent's gRPC services, over its socket
//!
//! Each request is decoded at the edge into a route (`route::Route`), translated into calls of the
//! agent's own gRPC API (containers, images, networks, volumes, events, attach and exec
//! sessions) and the answers encoded in Docker's shapes. The calls go over the agent's own
//! unix socket through a [`tonic::transport::Channel`] rather than into the agent's service
//! structs in-process: the gRPC services are the one place where the agent decodes, checks
//! and serialises requests (the same code paths the bosun CLI and compose take), so this crate
//! can never reach around them; it needs only the `api` crate (no dependency cycle with the
//! agent, which starts it); and a local socket hop costs well under a millisecond beside a
//! container start. Access is decided once per connection from the peer's kernel credentials
//! by the caller's [`Admit`] rule (the agent passes its own socket's rule: root or group
//! `bosun`), since the agent sees the forwarded calls as its own.
//!
//! [`serve`] takes a listener, the channel and a shutdown future.

mod containers;
mod context;
mod events;
mod exec;
mod filters;
mod hijack;
mod image_archive;
mod images;
mod mux;
mod networks;
mod registry_auth;
mod reply;
mod route;
mod server;
mod system;
mod time;
mod volumes;

pub use server::{Admit, ServeError, serve};

/// The newest API version served (the docker CLI negotiates down to it).
pub const API_VERSION: &str = "1.45";

/// The oldest API version served.
pub const MIN_API_VERSION: &str = "1.24";
