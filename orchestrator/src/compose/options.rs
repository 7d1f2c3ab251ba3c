//! What the user asked for on the command line, as the planner sees it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::compose::build::{BuildFlags, BuildPolicy};

/// The options of `up` (and `create`) that shape the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Services named on the command line; empty means every enabled service.
    pub services: Vec<String>,
    /// `--no-deps`: leave the named services' dependencies alone.
    pub no_deps: bool,
    /// `--force-recreate`: recreate the containers of the named services even when unchanged.
    pub force_recreate: bool,
    /// `--no-recreate`: never recreate, only create what is missing and start what is stopped.
    pub no_recreate: bool,
    /// `--always-recreate-deps`: recreate the dependencies pulled in by the named services.
    pub always_recreate_deps: bool,
    /// `-V`: give recreated containers fresh anonymous volumes instead of the old ones.
    pub renew_anon_volumes: bool,
    /// `--remove-orphans`: remove containers of services no longer in the project.
    pub remove_orphans: bool,
    /// `COMPOSE_IGNORE_ORPHANS`: neither remove orphans nor warn about them.
    pub ignore_orphans: bool,
    /// `--scale SERVICE=N`, over `scale` / `deploy.replicas`.
    pub scale: BTreeMap<String, u64>,
    /// `-t`: the grace period of stops, over each service's `stop_grace_period`.
    pub timeout: Option<Duration>,
    /// `--no-start` (`create`): create containers without starting them.
    pub no_start: bool,
    /// `--build` / `--no-build`: when services with `build:` are built.
    pub build: BuildPolicy,
    /// The options of those builds.
    pub build_flags: BuildFlags,
    /// What to do with a named volume whose definition changed since it was created.
    pub diverged_volumes: DivergedVolumes,
}

/// What `up` does with a project volume whose definition (driver, options, labels) no longer
/// matches the one it was created from. Recreating it loses its data, so Compose asks first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DivergedVolumes {
    /// Refuse to plan, naming the volume (no answer was given: `-y` missing and no terminal).
    #[default]
    Refuse,
    /// Remove it and create it again (the user said yes, or `-y`); its containers are
    /// recreated on the new one.
    Recreate,
    /// Keep using it as it is (the user said no).
    Keep,
}

/// The options of `down`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownOptions {
    /// `-v`: remove the project's named volumes and the containers' anonymous volumes.
    pub volumes: bool,
    /// `--remove-orphans`: also remove containers of services no longer in the project.
    pub remove_orphans: bool,
    /// `-t`: the grace period of stops, over each service's `stop_grace_period`.
    pub timeout: Option<Duration>,
    /// `down SERVICE…`: only these services' containers (all when empty); networks and
    /// volumes still used by the others stay, without a warning, and orphans are left alone.
    pub services: Vec<String>,
}

/// The grace period when neither `-t` nor `stop_grace_period` says.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
