//! `bosun up` and `bosun create`: plan the project against what runs, show or execute the
//! plan, then (`up`) wait for the services (`--wait`) or attach to their logs.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use compose_spec::validate::MAX_SCALE;
use orchestrator::compose::graph::ServiceGraph;
use orchestrator::compose::ops::{attached_services, scope};
use orchestrator::compose::{
    BuildPolicy, Desired, DivergedVolumes, Observed, Plan, PlanError, PlanOptions, builds_of, plan,
};

use super::Globals;
use super::attach::{self, AttachOptions};
use super::build::show_builds;
use super::session::Session;
use super::wait::wait_ready;
use crate::cli::project::ProjectArgs;

/// The options `up` and `create` share.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Common compose options.
    #[command(flatten)]
    pub globals: Globals,
    /// Recreate containers even if their configuration and image have not changed.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// If containers already exist, do not recreate them.
    #[arg(long)]
    pub no_recreate: bool,
    /// Recreate dependent containers.
    #[arg(long)]
    pub always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers.
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    pub remove_orphans: bool,
    /// Build the images of services with `build:` before starting them.
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Don't build an image, even if it's missing.
    #[arg(long)]
    pub no_build: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` in the compose file).
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Assume "yes" as answer to all prompts (recreate a volume whose definition changed).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `bosun up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// What `create` takes.
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detached mode: run containers in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Wait for services to be running and healthy (implies detached mode).
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running and healthy.
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Don't start the services after creating them.
    #[arg(long)]
    pub no_start: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Stop all containers if any container was stopped (attached mode).
    #[arg(long, conflicts_with = "detach")]
    pub abort_on_container_exit: bool,
    /// Stop all containers if any container exited with a failure (attached mode).
    #[arg(long, conflicts_with_all = ["detach", "abort_on_container_exit"])]
    pub abort_on_container_failure: bool,
    /// Also attach to the logs of the services the attached ones depend on.
    #[arg(long, conflicts_with = "detach")]
    pub attach_dependencies: bool,
    /// Return the exit code of the selected service container (implies
    /// --abort-on-container-exit).
    #[arg(long, value_name = "SERVICE", conflicts_with = "detach")]
    pub exit_code_from: Option<String>,
    /// Restrict attaching to these services.
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to these services.
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Show timestamps.
    #[arg(long)]
    pub timestamps: bool,
    /// Don't print the prefix in logs.
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Use this timeout in seconds for container shutdown.
    #[arg(short = 't', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// `--scale SERVICE=NUM` values (and `bosun scale`'s), each at most
/// [`MAX_SCALE`] so that nothing is planned for an impossible count.
pub(super) fn parse_scale(values: &[String]) -> anyhow::Result<BTreeMap<String, u64>> {
    values
        .iter()
        .map(|v| {
            let (service, count) = v
                .split_once('=')
                .with_context(|| format!("invalid --scale value {v:?}: use SERVICE=NUM"))?;
            let count: u64 = count
                .parse()
                .with_context(|| format!("invalid --scale value {v:?}: use SERVICE=NUM"))?;
            if count > MAX_SCALE {
                anyhow::bail!(
                    "invalid --scale value {v:?}: a service may have at most {MAX_SCALE} \
                     containers on one host"
                );
            }
            Ok((service.to_string(), count))
        })
        .collect()
}

fn plan_options(args: &CreateArgs) -> anyhow::Result<PlanOptions> {
    Ok(PlanOptions {
        services: args.services.clone(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        always_recreate_deps: args.always_recreate_deps,
        renew_anon_volumes: args.renew_anon_volumes,
        remove_orphans: args.remove_orphans,
        ignore_orphans: std::env::var("COMPOSE_IGNORE_ORPHANS")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes")),
        scale: parse_scale(&args.scale)?,
        build: if args.build {
            BuildPolicy::Always
        } else if args.no_build {
            BuildPolicy::Never
        } else {
            BuildPolicy::Missing
        },
        diverged_volumes: if args.yes {
            DivergedVolumes::Recreate
        } else {
            DivergedVolumes::Refuse
        },
        ..PlanOptions::default()
    })
}

/// Plans `up`; when a volume's definition changed and no answer was given (`-y`), asks on the
/// terminal whether to recreate it (no: keep it), as Compose does. Without a terminal the
/// planner's refusal, naming the volume, stands.
fn plan_asking(
    desired: &Desired<'_>,
    observed: &Observed,
    options: &PlanOptions,
) -> anyhow::Result<Plan> {
    match plan(desired, observed, options) {
        Err(PlanError::VolumeDiverged { name }) if std::io::stdin().is_terminal() => {
            let question = format!(
                "Volume {name:?} exists but doesn't match configuration in compose file. \
                 Recreate (data will be lost)?"
            );
            let diverged_volumes = if crate::cli::image::confirm(&question)? {
                DivergedVolumes::Recreate
            } else {
                DivergedVolumes::Keep
            };
            let answered = PlanOptions {
                diverged_volumes,
                ..options.clone()
            };
            Ok(plan_asking(desired, observed, &answered)?)
        }
        other => Ok(other?),
    }
}

/// Runs `bosun create`.
pub(super) fn create(project: &ProjectArgs, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_enabling(project, &args.services)?;
    show_builds(&mut session, &args.globals, false);
    let mut options = plan_options(&args)?;
    options.no_start = true;
    converge(&session, &options, &args.globals, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Plans and applies under the project's lock; returns whether anything was executed (false on
/// a dry run). The lock is released before `up` attaches or waits. Builds run first; the plan
/// is then made again, so that the containers whose image a build changed are recreated (and
/// only those).
fn converge(
    session: &Session,
    options: &PlanOptions,
    globals: &Globals,
    wait_timeout: Option<Duration>,
) -> anyhow::Result<bool> {
    session.check_services(&options.services)?;
    session.check_env_files(&options.services)?;
    session.warn_unsupported(&options.services);
    session.check_limits(&options.services)?;
    let _lock = session.lock()?;
    let desired = session.desired()?;
    let observed = session.observe()?;
    let mut plan = plan_asking(&desired, &observed, options)?;
    let builds = builds_of(&plan);
    if !builds.is_empty() && !session.dry_run(Some(globals)) {
        session.apply(&builds, globals, wait_timeout)?;
        let observed = session.observe()?;
        let built = PlanOptions {
            build: BuildPolicy::Never,
            ..options.clone()
        };
        plan = plan_asking(&desired, &observed, &built)?;
    }
    Ok(session.apply(&plan, globals, wait_timeout)?.is_some())
}

/// Runs `bosun up`.
pub(super) fn up(project: &ProjectArgs, args: UpArgs) -> anyhow::Result<ExitCode> {
    let mut session = Session::open_enabling(project, &args.create.services)?;
    show_builds(&mut session, &args.create.globals, false);
    let mut options = plan_options(&args.create)?;
    options.no_deps = args.no_deps;
    options.no_start = args.no_start;
    options.timeout = args.timeout.map(Duration::from_secs);
    let wait_timeout = args.wait_timeout.map(Duration::from_secs);
    if !converge(&session, &options, &args.create.globals, wait_timeout)? {
        return Ok(ExitCode::SUCCESS);
    }
    if args.wait {
        wait_ready(
            &session,
            &args.create.services,
            wait_timeout.unwrap_or(Duration::from_secs(300)),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.detach || args.no_start {
        return Ok(ExitCode::SUCCESS);
    }
    let named = &args.create.services;
    let mut shown = named.clone();
    if args.attach_dependencies && !named.is_empty() {
        let graph = ServiceGraph::new(session.project())?;
        shown = graph.with_dependencies(named).into_iter().collect();
    }
    let services = attached_services(session.project(), &shown, &args.attach, &args.no_attach);
    attach::run(
        &session,
        &AttachOptions {
            services,
            stop: scope(session.project(), named),
            abort_on_exit: args.abort_on_container_exit || args.exit_code_from.is_some(),
            abort_on_failure: args.abort_on_container_failure,
            exit_code_from: args.exit_code_from.clone(),
            timestamps: args.timestamps,
            prefix: !args.no_log_prefix,
            timeout: options.timeout,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_values_parse() {
        let parsed = parse_scale(&["web=3".to_string(), "db=0".to_string()]).unwrap();
        assert_eq!(
            parsed,
            BTreeMap::from([("web".into(), 3), ("db".into(), 0)])
        );
        let err = parse_scale(&["web".to_string()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --scale value \"web\": use SERVICE=NUM"
        );
    }

    #[test]
    fn scale_values_are_bounded() {
        let err = parse_scale(&["a=99999999999".to_string()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --scale value \"a=99999999999\": a service may have at most 1024 \
             containers on one host"
        );
        let parsed = parse_scale(&["a=1024".to_string()]).unwrap();
        assert_eq!(parsed, BTreeMap::from([("a".into(), 1024)]));
    }
}
