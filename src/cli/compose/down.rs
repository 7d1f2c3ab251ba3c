//! `bosun down`: stop and remove the project's containers (reverse dependency order, each level
//! in parallel), its networks and, with `-v`, its volumes; `--rmi` removes images too.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use orchestrator::compose::ops::images_to_remove;
use orchestrator::compose::{Backend, BackendErrorKind, DownOptions, plan_down};

use super::Globals;
use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun down`.
#[derive(Debug, Args)]
pub(crate) struct DownArgs {
    /// Common compose options.
    #[command(flatten)]
    pub globals: Globals,
    /// Remove containers for services not defined in the compose file.
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    pub remove_orphans: bool,
    /// Remove named volumes declared in the volumes section and anonymous volumes attached to
    /// containers.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove images used by services: "local" only those without a custom tag, "all" every
    /// one.
    #[arg(long, value_parser = ["local", "all"])]
    pub rmi: Option<String>,
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Services to take down (all when none); networks and volumes others use stay.
    pub services: Vec<String>,
}

/// Runs `bosun down`.
pub(super) fn run(project: &ProjectArgs, args: DownArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    let options = DownOptions {
        volumes: args.volumes,
        remove_orphans: args.remove_orphans,
        timeout: args.timeout.map(Duration::from_secs),
        services: args.services.clone(),
    };
    let _lock = session.lock()?;
    let plan = plan_down(session.project(), &session.observe()?, &options)?;
    if session.apply(&plan, &args.globals, None)?.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(which) = &args.rmi {
        remove_images(&session, which == "all");
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the services' images (`all`) or only those named after the project (built ones);
/// an image already gone is passed over, any other failure is a warning.
fn remove_images(session: &Session, all: bool) {
    for image in images_to_remove(session.project(), all) {
        match session.backend().remove_image(&image) {
            Ok(()) => eprintln!(" ✔ remove image {image}"),
            Err(err) if err.kind == BackendErrorKind::NotFound => {}
            Err(err) => eprintln!("warning: cannot remove image {image}: {err}"),
        }
    }
}
