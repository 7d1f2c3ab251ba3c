//! Compose on the local agent: the orchestrator's [`Backend`](orchestrator::compose::Backend)
//! implemented over the agent's gRPC API.
//!
//! - [`client`]: one channel to the agent and the generated clients of its four services;
//! - [`translate`]: a compose service (as planned) → the agent's `ContainerConfig`, and the
//!   warnings for keys the agent cannot honour;
//! - [`build`]: a planned build (`build:`) → the agent's `BuildRequest`, unsupported keys
//!   refused by name;
//! - [`observe`]: the agent's listings → the planner's [`Observed`](orchestrator::compose::Observed);
//! - [`hooks`] and [`pre_start`]: lifecycle hooks, as execs and as containers of their own;
//! - [`backend`]: [`AgentBackend`], the synchronous `Backend` the executor's threads call.

pub mod backend;
pub mod build;
pub mod client;
pub mod hooks;
pub mod observe;
pub mod pre_start;
pub mod translate;

pub use backend::AgentBackend;
pub use client::ComposeClient;
