//! The desired state: a loaded project plus what the planner needs computed from it.

use std::collections::BTreeMap;

use compose_spec::env::Environment;
use compose_spec::hash::service_hash;
use compose_spec::model::Project;

use crate::compose::error::PlanError;
use crate::compose::labels;

/// A project ready for planning: its services' config hashes and where it was loaded from.
#[derive(Debug, Clone)]
pub struct Desired<'a> {
    /// The project, normalized by the loader.
    pub project: &'a Project,
    /// The config hash of each enabled service.
    pub hashes: BTreeMap<String, String>,
    /// The project directory, recorded on containers.
    pub working_dir: String,
    /// The compose files, recorded on containers.
    pub config_files: Vec<String>,
    /// The environment the project was loaded with (the source of `environment:` secrets and
    /// configs).
    pub environment: Environment,
    /// What joins the parts of container names (`-`, or `_` with `--compatibility`).
    pub separator: char,
}

impl<'a> Desired<'a> {
    /// Computes the services' config hashes. This is the one step of planning that reads files:
    /// the contents of the configs' and secrets' files are part of the hash.
    pub fn new(project: &'a Project) -> Result<Self, PlanError> {
        let mut hashes = BTreeMap::new();
        for name in project.services.keys() {
            let hash = service_hash(project, name).ok_or_else(|| PlanError::Hash {
                service: name.clone(),
            })?;
            hashes.insert(name.clone(), hash);
        }
        Ok(Self::with_hashes(project, hashes))
    }

    /// A desired state with hashes computed elsewhere.
    pub fn with_hashes(project: &'a Project, hashes: BTreeMap<String, String>) -> Self {
        Self {
            project,
            hashes,
            working_dir: String::new(),
            config_files: Vec::new(),
            environment: Environment::default(),
            separator: labels::SEPARATOR,
        }
    }

    /// Names containers as Compose v1 did (`<project>_<service>_<n>`), for `--compatibility`.
    pub fn compatible(mut self, compatibility: bool) -> Self {
        if compatibility {
            self.separator = labels::COMPATIBILITY_SEPARATOR;
        }
        self
    }

    /// Records where the project was loaded from (`project.working_dir`, `config_files`).
    pub fn located(mut self, working_dir: impl Into<String>, config_files: Vec<String>) -> Self {
        self.working_dir = working_dir.into();
        self.config_files = config_files;
        self
    }

    /// Sets the environment the project was loaded with.
    pub fn with_environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// The project name.
    pub fn name(&self) -> &str {
        &self.project.name
    }
}
