//! Builds OCI images from Dockerfiles on Bosun's own engine: no docker, buildah or buildkitd.
//!
//! A caller makes a [`Builder`] over the node's [`engine::Runtime`] and calls
//! [`Builder::build`] with [`BuildOptions`] (context, Dockerfile or its text, tags, build
//! arguments, target, labels, `no_cache`, `pull`, the default RUN network, secrets) and a
//! callback that receives the progress [`Event`]s (`[stage 2/5] RUN …`, CACHED or the time,
//! the RUN output line by line). The image lands in the engine's image store, tagged, its
//! layers shared with the images that already have them. Synchronous, like the engine.
//!
//! The pipeline: `parse` reads the Dockerfile (with the `parse-dockerfile` crate) into typed
//! instructions with line numbers; `stages` picks the stages the target needs; `eval`
//! applies the instructions that only change the config, with variables expanded by `lex` as
//! BuildKit's shell lexer does; `steps` runs RUN in an engine container on an overlay of the
//! stage's layers (`run`) and turns the upper directory into a layer with whiteouts
//! (`diff`), and writes COPY and ADD straight into a layer tar (`copy`, `copy_tar`) from
//! the context as `ignore` filters it. `cache` keeps the state after each step under a key
//! chained from the parent's, in `<data_root>/build/cache/`. Stages that do not depend on each
//! other are built in parallel.
//!
//! Limits, each an error naming the Dockerfile line: one platform (the host's); heredocs
//! right after the instruction only (`RUN <<EOF`, not `RUN cat <<EOF`, which the parser crate
//! does not read); no ADD from URLs (the error says whether the host is reachable); no
//! read-write bind mounts or ssh mounts; `COPY --parents/--exclude`. The `default` RUN network
//! is the host's network namespace (as a build daemon without a network plugin has);
//! `none` is a namespace with only loopback. Extended attributes of files are not carried into
//! layers. Layers of the cache that no image uses are removed by an image prune like any
//! unused layer; the cache then misses.

mod build;
mod cache;
// The image config as stored; public only for the integration tests that read a built image's
// config back (feature `testing`).
#[cfg(feature = "testing")]
pub mod config;
#[cfg(not(feature = "testing"))]
mod config;
/// A container's changes to its image: `container diff` and `container commit`.
pub mod container;
mod copy;
mod copy_tar;
mod diff;
mod error;
mod eval;
mod ignore;
mod layers;
mod lex;
mod mounts;
mod options;
mod parse;
mod pattern;
mod platform;
mod progress;
mod recover;
mod run;
mod stages;
mod steps;
mod url;
mod users;

pub use build::{Builder, EventSink};
pub use error::{BuildError, Result};
pub use lex::LexError;
pub use options::{BuildOptions, Built, Puller};
pub use parse::ParseError;
pub use platform::platform;
pub use progress::{Event, StepRef, Stream};
pub use run::Network;
