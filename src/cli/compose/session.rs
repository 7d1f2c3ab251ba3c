//! A compose command's session: the loaded project, a tokio runtime and the agent backend.

use std::time::Duration;

use agent::compose::{AgentBackend, translate};
use agent::proto;
use anyhow::Context;
use compose_spec::ErrorKind;
use compose_spec::env::Environment;
use compose_spec::loader::Loaded;
use compose_spec::model::Project;
use compose_spec::render::Dollars;
use orchestrator::compose::graph::ServiceGraph;
use orchestrator::compose::{
    Backend, Desired, ExecuteOptions, Observed, Plan, Report, execute, labels, project_from_labels,
};
use tokio::runtime::Runtime;

use super::Globals;
use super::connect::{connect, socket};
use super::lock::{self, ProjectLock};
use super::progress::Printer;
use crate::cli::project::ProjectArgs;

/// The runtime and the backend, without a project (`bosun ls`).
pub(super) struct Agent {
    /// The runtime the backend's calls run on (kept alive with it).
    pub runtime: Runtime,
    /// The agent.
    pub backend: AgentBackend,
}

impl Agent {
    /// Starts a runtime and connects to the agent.
    pub(super) fn connect() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let client = runtime.block_on(connect())?;
        let backend = AgentBackend::new(runtime.handle().clone(), client);
        Ok(Self { runtime, backend })
    }

    /// Runs a future on the runtime from the main thread.
    pub(super) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// A loaded project and the agent.
pub(super) struct Session {
    /// The agent.
    pub agent: Agent,
    /// The project as loaded.
    pub loaded: Loaded,
    /// The options given before the command (`--dry-run`, `--parallel`, `--progress`).
    top: ProjectArgs,
    /// Where the executor's spinners are drawn (build output prints above them).
    pub bars: indicatif::MultiProgress,
}

impl Session {
    /// Loads the project (every enabled service, and the `services` named on the command line
    /// of `up web`, `run web`, … with what they need even when none of their profiles is
    /// active) and connects to the agent.
    pub(super) fn open_enabling(
        project: &ProjectArgs,
        services: &[String],
    ) -> anyhow::Result<Self> {
        let loaded = project.load_enabling(services)?;
        let agent = Agent::connect()?;
        Ok(Self {
            agent,
            loaded,
            top: project.clone(),
            bars: indicatif::MultiProgress::new(),
        })
    }

    /// Opens the project for a command that acts on its existing containers (`stop`, `down`,
    /// `logs`, `exec`, …): loaded as [`Session::open_enabling`] does with nothing named or,
    /// when no compose file is found and the project is named (`-p`, `COMPOSE_PROJECT_NAME`),
    /// rebuilt from the labels of its containers, networks and volumes
    /// ([`project_from_labels`]), as Compose does.
    pub(super) fn open_existing(project: &ProjectArgs) -> anyhow::Result<Self> {
        let err = match project.load(&[], true) {
            Ok(loaded) => {
                return Ok(Self {
                    agent: Agent::connect()?,
                    loaded,
                    top: project.clone(),
                    bars: indicatif::MultiProgress::new(),
                });
            }
            Err(err) => err,
        };
        let no_file = err
            .downcast_ref::<compose_spec::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::NoConfigFile);
        let name = if no_file {
            project.name_without_file()?
        } else {
            None
        };
        let Some(name) = name else {
            return Err(err);
        };
        let agent = Agent::connect()?;
        let observed = agent.backend.observe(&name)?;
        let project_directory =
            std::env::current_dir().context("cannot read the current directory")?;
        let loaded = Loaded {
            project: project_from_labels(&name, &observed),
            warnings: Vec::new(),
            all_profiles: Vec::new(),
            files: Vec::new(),
            project_directory,
            environment: Environment::default(),
            env_file_errors: Default::default(),
            dollars: Dollars::Escaped,
        };
        Ok(Self {
            agent,
            loaded,
            top: project.clone(),
            bars: indicatif::MultiProgress::new(),
        })
    }

    /// Whether this is a dry run: `--dry-run` before the command, or in `globals` after it.
    pub(super) fn dry_run(&self, globals: Option<&Globals>) -> bool {
        self.top.dry_run || globals.is_some_and(|g| g.dry_run)
    }

    /// `globals` with the options given before the command merged in.
    pub(super) fn globals(&self, globals: &Globals) -> Globals {
        globals.merged(&self.top)
    }

    /// Takes the project's lock ([`lock`]) for a command that changes the project, waiting
    /// while another command holds it; the lock is held until the guard is dropped.
    pub(super) fn lock(&self) -> anyhow::Result<ProjectLock> {
        lock::lock(&lock::lock_path(&socket()?, self.name()), self.name())
    }

    /// The project.
    pub(super) fn project(&self) -> &Project {
        &self.loaded.project
    }

    /// The project name.
    pub(super) fn name(&self) -> &str {
        &self.loaded.project.name
    }

    /// The backend.
    pub(super) fn backend(&self) -> &AgentBackend {
        &self.agent.backend
    }

    /// The desired state, located where the project was loaded from.
    pub(super) fn desired(&self) -> anyhow::Result<Desired<'_>> {
        let files = self
            .loaded
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        Ok(Desired::new(&self.loaded.project)?
            .located(self.loaded.project_directory.display().to_string(), files)
            .with_environment(self.loaded.environment.clone())
            .compatible(self.top.compatibility))
    }

    /// Prints a warning for every key of the named services (all when empty) that the agent
    /// does not honour.
    pub(super) fn warn_unsupported(&self, services: &[String]) {
        for (name, service) in &self.project().services {
            if services.is_empty() || services.contains(name) {
                for warning in translate::unsupported(name, service) {
                    eprintln!("warning: {warning}");
                }
            }
        }
    }

    /// Refuses resource limits out of Docker's bounds and secrets or configs that cannot be
    /// mounted (undefined, external, an unset variable) in the named services (all when
    /// empty), naming the service, before anything is created.
    pub(super) fn check_limits(&self, services: &[String]) -> anyhow::Result<()> {
        for (name, service) in &self.project().services {
            if services.is_empty() || services.contains(name) {
                translate::check_limits(name, service)?;
                orchestrator::compose::files::service_files(
                    self.project(),
                    &self.loaded.environment,
                    name,
                    service,
                )?;
            }
        }
        Ok(())
    }

    /// The observed state of the project.
    pub(super) fn observe(&self) -> anyhow::Result<Observed> {
        Ok(self.backend().observe(self.name())?)
    }

    /// The project's containers: service containers of the named services (all when empty),
    /// one-offs too when asked, stopped ones too when `all`, sorted by name.
    pub(super) fn containers(
        &self,
        services: &[String],
        all: bool,
        oneoffs: bool,
    ) -> anyhow::Result<Vec<proto::ContainerSummary>> {
        self.agent
            .block_on(self.list_containers(services, all, oneoffs))
    }

    /// [`Session::containers`], from async code.
    pub(super) async fn list_containers(
        &self,
        services: &[String],
        all: bool,
        oneoffs: bool,
    ) -> anyhow::Result<Vec<proto::ContainerSummary>> {
        let mut client = self.backend().client().containers.clone();
        let request = proto::ListRequest {
            size: false,
            all: true,
            filters: vec![format!("label={}={}", labels::PROJECT, self.name())],
        };
        let listed = client.list(request).await?.into_inner().containers;
        let mut found: Vec<proto::ContainerSummary> = listed
            .into_iter()
            .filter(|c| all || c.is_alive())
            .filter(|c| {
                oneoffs
                    || c.labels
                        .get(labels::ONEOFF)
                        .is_none_or(|v| v != labels::TRUE)
            })
            .filter(|c| {
                services.is_empty()
                    || c.labels
                        .get(labels::SERVICE)
                        .is_some_and(|s| services.contains(s))
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The value of a variable named bare on the command line (`-e NAME`), as Compose resolves
    /// it: the shell's, else the project's `.env` / `--env-file` / `COMPOSE_ENV_FILES`.
    pub(super) fn variable(&self, name: &str) -> Option<String> {
        self.loaded
            .environment
            .get(name)
            .map(str::to_owned)
            .or_else(|| std::env::var(name).ok())
    }

    /// `-e` pairs with the bare names resolved by [`Session::variable`]; a bare name that is
    /// set nowhere is left out.
    pub(super) fn resolve_env(&self, pairs: &[String]) -> Vec<String> {
        pairs
            .iter()
            .filter_map(|pair| match pair.split_once('=') {
                Some(_) => Some(pair.clone()),
                None => self.variable(pair).map(|value| format!("{pair}={value}")),
            })
            .collect()
    }

    /// Fails with the env_file error of any of `services` (every enabled service when none is
    /// named) or of what they depend on: a command that creates their containers needs their
    /// environment; commands on other services are not held up by it.
    pub(super) fn check_env_files(&self, services: &[String]) -> anyhow::Result<()> {
        let wanted: Vec<String> = if services.is_empty() {
            Vec::new()
        } else {
            ServiceGraph::new(self.project())?
                .with_dependencies(services)
                .into_iter()
                .collect()
        };
        self.loaded
            .check_env_files(&wanted)
            .map_err(|message| anyhow::anyhow!(message))
    }

    /// Checks that every named service exists (enabled or disabled by a profile).
    pub(super) fn check_services(&self, services: &[String]) -> anyhow::Result<()> {
        let project = self.project();
        for name in services {
            if !project.services.contains_key(name) && !project.disabled_services.contains_key(name)
            {
                anyhow::bail!("no such service: {name}");
            }
        }
        Ok(())
    }

    /// Prints the plan's warnings, then either prints the plan (`--dry-run`) or executes it
    /// with progress. Returns `None` on a dry run.
    pub(super) fn apply(
        &self,
        plan: &Plan,
        globals: &Globals,
        wait_timeout: Option<Duration>,
    ) -> anyhow::Result<Option<Report>> {
        let globals = &globals.merged(&self.top);
        if globals.dry_run {
            print!("{plan}");
            return Ok(None);
        }
        for warning in plan.warnings() {
            eprintln!("warning: {warning}");
        }
        let options = ExecuteOptions {
            parallelism: usize::try_from(globals.parallel.max(0)).unwrap_or(0),
            wait_timeout: wait_timeout.unwrap_or(ExecuteOptions::default().wait_timeout),
            ..ExecuteOptions::default()
        };
        let mut printer = Printer::new(&globals.progress, plan, self.bars.clone());
        let result = execute(plan, self.backend(), &options, |event| printer.event(event));
        printer.finish();
        let report = result?;
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(Some(report))
    }
}
