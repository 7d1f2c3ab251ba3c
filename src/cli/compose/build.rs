//! `bosun build`: the project's images built by the agent (one build per service with
//! `build:`, independent builds in parallel), and the progress of the builds `up` runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use indicatif::MultiProgress;
use orchestrator::compose::Backend as _;
use orchestrator::compose::build::should_build;
use orchestrator::compose::ops::images_built_to_push;
use orchestrator::compose::resources::image_of;
use orchestrator::compose::{BuildFlags, BuildPolicy, plan_builds};

use super::Globals;
use super::progress::is_tty;
use super::session::Session;
use crate::cli::image::build::key_values;
use crate::cli::image::build_progress::{Mode, Renderer};
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Common compose options.
    #[command(flatten)]
    pub globals: Globals,
    /// Do not use the cache when building the images.
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the base images again even when present.
    #[arg(long)]
    pub pull: bool,
    /// A build-time variable for every service (KEY=VALUE, or KEY from the environment).
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,
    /// Show no build output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Push the built images (each service's image and its build tags) once all are built.
    #[arg(long)]
    pub push: bool,
    /// Services (every service with `build:` when none).
    pub services: Vec<String>,
}

/// The build flags of `--no-cache`, `--pull` and `--build-arg` words.
pub(super) fn flags(
    no_cache: bool,
    pull: bool,
    build_args: &[String],
) -> anyhow::Result<BuildFlags> {
    Ok(BuildFlags {
        no_cache,
        pull,
        args: key_values(build_args, "--build-arg", true)?,
    })
}

/// Builds the image of service `name` when it has `build:` and its image is missing (`run`).
pub(super) fn build_missing(
    session: &Session,
    name: &str,
    globals: &Globals,
) -> anyhow::Result<()> {
    let Some(service) = session.project().services.get(name) else {
        return Ok(());
    };
    let image = image_of(session.name(), name, service);
    if !should_build(service, &image, &session.observe()?, BuildPolicy::Missing) {
        return Ok(());
    }
    let desired = session.desired()?;
    let plan = plan_builds(&desired, &[name.to_string()], &BuildFlags::default())?;
    session.apply(&plan, globals, None)?;
    Ok(())
}

/// Writes whole lines above the executor's spinners (or straight to stderr without them).
struct Lines {
    bars: Option<MultiProgress>,
    pending: Vec<u8>,
}

impl Write for Lines {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(data);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]);
            match &self.bars {
                Some(bars) => bars.println(text)?,
                None => eprintln!("{text}"),
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Shows the steps of the builds the session's backend runs on stderr, one line per step
/// prefixed with its service, above the executor's spinners on a terminal; nothing (but a
/// failing step's output) with `--progress quiet|json` or `quiet`.
pub(super) fn show_builds(session: &mut Session, globals: &Globals, quiet: bool) {
    let progress = session.globals(globals).progress;
    let mode = if quiet || progress == "quiet" || progress == "json" {
        Mode::Quiet
    } else {
        Mode::Plain
    };
    let bars = is_tty(&progress).then(|| session.bars.clone());
    let renderers: Mutex<BTreeMap<String, Renderer<Lines>>> = Mutex::default();
    let output = Arc::new(
        move |service: &str, progress: &agent::proto::BuildProgress| {
            let mut renderers = renderers.lock().unwrap_or_else(|e| e.into_inner());
            let renderer = renderers.entry(service.to_string()).or_insert_with(|| {
                let lines = Lines {
                    bars: bars.clone(),
                    pending: Vec::new(),
                };
                Renderer::new(mode, lines, format!("{service} | "))
            });
            renderer.event(progress);
            if let Some(agent::proto::build_progress::Event::Failed(failure)) = &progress.event {
                renderer.failed(failure);
            }
        },
    );
    let backend = session.agent.backend.clone().with_build_output(output);
    session.agent.backend = backend;
}

/// Runs `bosun build`.
pub(super) fn run(project: &ProjectArgs, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_enabling(project, &args.services)?;
    session.check_services(&args.services)?;
    let quiet = args.quiet || session.globals(&args.globals).progress == "quiet";
    show_builds(&mut session, &args.globals, args.quiet);
    let flags = flags(args.no_cache, args.pull, &args.build_args)?;
    let desired = session.desired()?;
    let plan = plan_builds(&desired, &args.services, &flags)?;
    let globals = if quiet {
        Globals {
            progress: "quiet".into(),
            ..args.globals.clone()
        }
    } else {
        args.globals.clone()
    };
    session.apply(&plan, &globals, None)?;
    if args.push {
        for image in images_built_to_push(session.project(), &args.services) {
            let digest = session
                .backend()
                .push_image(&image)
                .map_err(|e| anyhow::anyhow!("{image}: {e}"))?;
            if !quiet {
                eprintln!(" ✔ {image}  Pushed {digest}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
