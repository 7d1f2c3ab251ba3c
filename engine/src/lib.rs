//! The container core of one node: images, rootfs, runtime, network, volumes, supervision.
//!
//! Synchronous by design (no async runtime), so that it is safe around fork and clone.
//!
//! The runtime re-executes a sealed copy of the current binary for the helper processes it
//! needs (the per-container shim, the in-container setup, the init and exec); a binary
//! embedding the engine must call [`entry::dispatch`] first thing in `main`.

pub mod atomic;
pub mod cgroups;
pub mod entry;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod follow;
pub mod health;
pub mod image;
pub(crate) mod inroot;
pub mod logs;
pub mod network;
pub mod process;
pub mod restart;
pub mod rootfs;
pub mod runtime;
pub mod sealed;
pub mod seccomp;
pub mod shim;
pub mod spec;
pub mod state;
pub(crate) mod sys;
pub mod volume;

pub use error::{Error, Result};

pub use runtime::{ExecOutput, ExecSpec, Runtime, RuntimeConfig, RuntimeError};
pub use spec::ContainerSpec;
pub use state::{ContainerState, StateRecord};
