//! Builds OCI images from Dockerfiles on Bosun's own engine.
//!
//! The pipeline: [`parse`] reads the Dockerfile into typed instructions with line numbers,
//! [`lex`] expands variables as a Dockerfile frontend does, [`ignore`] selects the context's
//! files, and the builder evaluates the stages and runs each step.

pub mod ignore;
pub mod lex;
pub mod parse;
pub mod pattern;
