//! The global options that select a compose project (`-f`, `-p`, `--profile`, ...), and loading it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use compose_spec::discovery::{COMPOSE_PROJECT_NAME, ProjectOptions, is_valid_project_name};
use compose_spec::env::Environment;
use compose_spec::loader::{LoadOptions, Loaded};

/// Options shared by every project command.
#[derive(Debug, Clone, Args)]
pub(crate) struct ProjectArgs {
    /// Compose configuration file (repeatable; later files override earlier ones; `-` reads
    /// one from standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Profile to enable (repeatable).
    #[arg(long = "profile", id = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Environment file to read instead of .env (repeatable).
    #[arg(long = "env-file", value_name = "PATH")]
    pub env_files: Vec<PathBuf>,
    /// Working directory of the project (default: the directory of the first compose file).
    #[arg(long = "project-directory", value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Run compose in backward compatibility mode: containers named `<project>_<service>_<n>`
    /// as Compose v1 did (compose commands).
    #[arg(
        long = "compatibility",
        env = "COMPOSE_COMPATIBILITY",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub compatibility: bool,
    /// Print the plan with the reason of every action and change nothing (compose commands).
    #[arg(long = "dry-run", id = "top_dry_run")]
    pub dry_run: bool,
    /// Most actions run at once, -1 or 0 for no limit (compose commands).
    #[arg(
        long = "parallel",
        id = "top_parallel",
        allow_hyphen_values = true,
        value_name = "N"
    )]
    pub parallel: Option<i64>,
    /// How progress is shown (compose commands).
    #[arg(
        long = "progress",
        id = "top_progress",
        value_parser = ["auto", "tty", "plain", "quiet", "json"]
    )]
    pub progress: Option<String>,
}

impl ProjectArgs {
    /// Whether any of the compose-only execution options was given before the command.
    pub(crate) fn has_execution_options(&self) -> bool {
        self.dry_run || self.parallel.is_some() || self.progress.is_some()
    }

    /// The project a command may act on without a compose file: `-p`, else
    /// `COMPOSE_PROJECT_NAME` from the environment; `None` when neither names one.
    pub(crate) fn name_without_file(&self) -> anyhow::Result<Option<String>> {
        let named = self
            .project_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| std::env::var(COMPOSE_PROJECT_NAME).ok())
            .filter(|n| !n.is_empty());
        let Some(name) = named else {
            return Ok(None);
        };
        if !is_valid_project_name(&name) {
            anyhow::bail!(
                "invalid project name {name:?}: must consist only of lowercase alphanumeric \
                 characters, hyphens, and underscores as well as start with a letter or number"
            );
        }
        Ok(Some(name))
    }

    /// Loads the project these options select, for the given services (all when empty).
    pub(crate) fn load(&self, services: &[String], interpolate: bool) -> anyhow::Result<Loaded> {
        self.load_with(services, &[], interpolate)
    }

    /// Loads the project without the consistency checks (`config --no-consistency`): a model
    /// with undefined references or a service without an image still loads.
    pub(crate) fn load_unchecked(
        &self,
        services: &[String],
        interpolate: bool,
    ) -> anyhow::Result<Loaded> {
        let mut options = self.options(services, &[], interpolate)?;
        options.no_consistency = true;
        let loaded = compose_spec::loader::load(&options)?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(loaded)
    }

    /// Loads the project with the services of the active profiles enabled, and the `enabled`
    /// ones (named on the command line of `up`, `run`, …) with what they need, whatever their
    /// profiles, as Compose does.
    pub(crate) fn load_enabling(&self, enabled: &[String]) -> anyhow::Result<Loaded> {
        self.load_with(&[], enabled, true)
    }

    /// The files merged into one document, not interpolated (see
    /// [`compose_spec::loader::load_document`]).
    pub(crate) fn load_document(&self) -> anyhow::Result<serde_json::Value> {
        Ok(compose_spec::loader::load_document(&self.options(
            &[],
            &[],
            false,
        )?)?)
    }

    fn load_with(
        &self,
        services: &[String],
        enabled: &[String],
        interpolate: bool,
    ) -> anyhow::Result<Loaded> {
        let options = self.options(services, enabled, interpolate)?;
        let loaded = compose_spec::loader::load(&options)?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(loaded)
    }

    /// The compose file on standard input when a file is `-`: read once per process (a
    /// command may load the project more than once).
    fn stdin_file(&self) -> anyhow::Result<Option<String>> {
        static TEXT: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
        if !self.files.iter().any(|f| f.as_os_str() == "-") {
            return Ok(None);
        }
        let text = TEXT.get_or_init(|| {
            std::io::read_to_string(std::io::stdin())
                .map_err(|e| format!("cannot read the compose file from standard input: {e}"))
        });
        text.clone().map(Some).map_err(anyhow::Error::msg)
    }

    fn options(
        &self,
        services: &[String],
        enabled: &[String],
        interpolate: bool,
    ) -> anyhow::Result<LoadOptions> {
        let working_dir = std::env::current_dir().context("cannot read the current directory")?;
        let environment: Environment = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let options = LoadOptions {
            project: ProjectOptions {
                files: self.files.clone(),
                project_directory: self.project_directory.clone(),
                project_name: self.project_name.clone(),
                env_files: self.env_files.clone(),
                profiles: self.profiles.clone(),
                working_dir,
                environment,
                stdin: self.stdin_file()?,
            },
            services: services.to_vec(),
            enabled: enabled.to_vec(),
            interpolate,
            no_consistency: false,
        };
        Ok(options)
    }
}
