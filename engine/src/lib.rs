//! The container core of one node: images, rootfs, runtime, network, volumes, supervision.
//!
//! Synchronous by design (no async runtime), so that it is safe around fork and clone.
//!
//! The runtime re-executes a sealed copy of the current binary for the helper processes it
//! needs (the per-container shim, the in-container setup, the init and exec); a binary
//! embedding the engine must call [`entry::dispatch`] first thing in `main`.

/// Declares an item `pub` with the `testing` feature (the integration tests of the engine, the
/// agent and the bosun binary, and the test kit, reach into the kernel objects and layouts
/// through it) and `pub(crate)` without it, so that nothing only tests use is public API.
macro_rules! testing_pub {
    (@emit [$($meta:tt)*] $($item:tt)*) => {
        $($meta)*
        #[cfg(feature = "testing")]
        pub $($item)*

        $($meta)*
        #[cfg(not(feature = "testing"))]
        pub(crate) $($item)*
    };
    ($(#[$meta:meta])* fn $($rest:tt)*) => {
        testing_pub! { @emit [$(#[$meta])*] fn $($rest)* }
    };
    ($(#[$meta:meta])* struct $($rest:tt)*) => {
        testing_pub! { @emit [$(#[$meta])*] struct $($rest)* }
    };
    ($(#[$meta:meta])* trait $($rest:tt)*) => {
        testing_pub! { @emit [$(#[$meta])*] trait $($rest)* }
    };
}

pub mod archive;
pub mod atomic;
pub mod cgroups;
pub mod entry;
mod error;
pub mod events;
pub mod failpoint;
mod follow;
pub mod health;
pub mod image;
mod inroot;
pub mod logs;
pub mod memdir;
pub mod network;
pub mod process;
pub mod restart;
mod rootfs;
pub mod runtime;
mod sealed;
pub mod seccomp;
pub mod shim;
pub mod spec;
pub mod state;
mod sys;
pub mod volume;

pub use error::{Error, Result};

pub use runtime::{ExecOutput, ExecSpec, Runtime, RuntimeConfig, RuntimeError};
pub use spec::ContainerSpec;
pub use state::{ContainerState, StateRecord};
