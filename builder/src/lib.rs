//! Builds OCI images from Dockerfiles on Bosun's own engine.
//!
//! The pipeline: [`parse`] reads the Dockerfile into typed instructions with line numbers,
//! [`lex`] expands variables as a Dockerfile frontend does, [`ignore`] selects the context's
//! files, and the builder evaluates the stages and runs each step.

pub mod build;
pub mod cache;
pub mod config;
pub mod copy;
pub mod copy_tar;
pub mod diff;
pub mod error;
pub mod eval;
pub mod ignore;
pub mod layers;
pub mod lex;
pub mod mounts;
pub mod options;
pub mod parse;
pub mod pattern;
pub mod platform;
pub mod progress;
pub mod run;
pub mod stages;
pub mod steps;
pub mod url;
pub mod users;

pub use build::{Builder, EventSink};
pub use error::{BuildError, Result};
pub use options::{BuildOptions, Built, Puller};
pub use progress::{Event, StepRef, Stream};
pub use run::Network;
