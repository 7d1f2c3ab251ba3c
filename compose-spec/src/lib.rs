//! Compose YAML → a validated, normalized, typed [`model::Project`].
//!
//! The crate is a pure library: it reads the files it is pointed at and the environment it is
//! given (never the process environment), and has no other side effects. Loading goes through
//! these stages, each in its own module:
//!
//! 1. [`discovery`] finds the compose files, the project directory and the project name;
//! 2. `dotenv` reads `.env` / `--env-file` into the [`env::Environment`];
//! 3. `yaml` parses each file into a marked tree, `interpolate` substitutes variables;
//! 4. `schema` validates each file against the official compose JSON schema;
//! 5. `include` and `extends` pull in other files, `merge` combines files by Compose's rules;
//! 6. `profiles` selects services, [`model`] gives the typed form, `normalize` the canonical
//!    form, [`validate`] the semantic checks, [`hash`] the per-service config hash.
//!
//! [`loader`] runs the stages in order; every file is read through `read`, within bounds.

/// Declares a function `pub` with the `testing` feature (this crate's property tests render and
/// hash through it) and `pub(crate)` without it, so that nothing only tests use is public API.
macro_rules! testing_pub {
    ($(#[$meta:meta])* fn $($rest:tt)*) => {
        $(#[$meta])*
        #[cfg(feature = "testing")]
        pub fn $($rest)*

        $(#[$meta])*
        #[cfg(not(feature = "testing"))]
        pub(crate) fn $($rest)*
    };
}

pub mod discovery;
mod dotenv;
pub mod env;
mod error;
mod extends;
pub mod hash;
mod interpolate;
pub mod loader;
mod merge;
pub mod model;
mod normalize;
mod path;
mod paths;
mod profiles;
mod read;
pub mod render;
mod schema;
pub mod validate;
mod yaml;

pub use error::{Diagnostic, Error, ErrorKind, Result, Warning};
pub use interpolate::{Variable, variables};
pub use path::{KeyPath, Segment};
pub use yaml::Mark;
