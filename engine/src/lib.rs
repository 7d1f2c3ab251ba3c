//! The container core of one node: images, rootfs, runtime, network, volumes, supervision.
//!
//! Synchronous by design (no async runtime), so that it is safe around fork and clone.
//!
//! The runtime re-executes the current binary for the helper processes it needs (the per-container
//! shim and the in-container setup); a binary embedding the engine must call
//! [`entry::dispatch`] first thing in `main`.

pub mod atomic;
pub mod cgroups;
pub mod entry;
pub mod error;
pub mod process;
pub mod rootfs;
pub mod runtime;
pub mod shim;
pub mod spec;
pub mod state;
pub(crate) mod sys;

pub use error::{Error, Result};

pub use runtime::{Runtime, RuntimeConfig, RuntimeError};
pub use spec::ContainerSpec;
pub use state::{ContainerState, StateRecord};
