//! What a caller asks of a build, and what it gets back.

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine::image::ImageRecord;

use crate::run::Network;

/// The options of one build (`image build` and compose `build:`).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile (default `<context>/Dockerfile`); relative paths are taken from the
    /// context.
    pub dockerfile: Option<PathBuf>,
    /// The Dockerfile's text, when it does not come from a file (stdin, `dockerfile_inline`);
    /// wins over `dockerfile`.
    pub dockerfile_text: Option<String>,
    /// The references to tag the image with (`name[:tag]`).
    pub tags: Vec<String>,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// The stage to build (default: the last).
    pub target: Option<String>,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// Run every step, reusing nothing from the cache.
    pub no_cache: bool,
    /// Pull the base images again (through the builder's [`Puller`]).
    pub pull: bool,
    /// The network RUN steps use unless they say `--network=`.
    pub network: Network,
    /// Secrets for `RUN --mount=type=secret,id=…`: id → file on the host.
    pub secrets: BTreeMap<String, PathBuf>,
}

/// Fetches a base image into the store (a registry client); the builder works offline
/// without one.
pub trait Puller: Send + Sync {
    /// Pulls `reference` into the image store.
    fn pull(&self, reference: &str) -> Result<(), String>;
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image as stored.
    pub image: ImageRecord,
    /// How many steps were taken from the cache.
    pub cached_steps: usize,
    /// How many RUN, COPY and ADD steps ran.
    pub executed_steps: usize,
}
