//! Builds in a plan: which services `up` builds (a service with `build:` whose image is
//! missing; every one with `--build` or `pull_policy: build`; none with `--no-build`), which
//! `bosun build` builds, and what each build action carries.
//!
//! Builds have no dependencies on each other, so the executor runs them in parallel. Whether a
//! rebuilt image differs is only known once it is built: `up` executes the builds first, then
//! observes and plans again, so that the containers whose image changed are recreated (the
//! planner compares each container's image id with the image's current id).

use std::collections::BTreeMap;

use compose_spec::model::{PullPolicy, Service};

use crate::compose::action::{Action, BuildSpec};
use crate::compose::desired::Desired;
use crate::compose::error::PlanError;
use crate::compose::observed::Observed;
use crate::compose::plan::Plan;
use crate::compose::resources::image_of;

/// When `up` builds a service that has `build:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BuildPolicy {
    /// When its image is missing (and always with `pull_policy: build`).
    #[default]
    Missing,
    /// Always (`--build`).
    Always,
    /// Never (`--no-build`): a missing image is an error.
    Never,
}

/// Options of the builds a command asks for (`bosun build --no-cache --pull --build-arg`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFlags {
    /// Use no cached step.
    pub no_cache: bool,
    /// Pull the base images again.
    pub pull: bool,
    /// Build arguments over the ones of `build.args`.
    pub args: BTreeMap<String, String>,
}

/// Whether `up` builds `service` (its image `image`) under `policy`.
pub fn should_build(
    service: &Service,
    image: &str,
    observed: &Observed,
    policy: BuildPolicy,
) -> bool {
    service.build.is_some()
        && match policy {
            BuildPolicy::Never => false,
            BuildPolicy::Always => true,
            BuildPolicy::Missing => {
                service.pull_policy == Some(PullPolicy::Build)
                    || !observed.images.contains_key(image)
            }
        }
}

/// The build action of service `name`: its `build:` section, the image name
/// (`<project>-<service>` unless `image:` is set) plus `build.tags`, the arguments with
/// `flags.args` over them, and its build secrets resolved to their files.
pub fn build_spec(
    desired: &Desired<'_>,
    name: &str,
    service: &Service,
    flags: &BuildFlags,
) -> Result<Option<BuildSpec>, PlanError> {
    let Some(build) = &service.build else {
        return Ok(None);
    };
    let project = desired.project;
    let image = image_of(&project.name, name, service);
    let mut tags = vec![image.clone()];
    for tag in &build.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    // An argument without a value that the environment does not set is left to the
    // Dockerfile's default, as Compose does.
    let mut args: BTreeMap<String, String> = build
        .args
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
        .collect();
    args.extend(flags.args.clone());
    let mut secrets = BTreeMap::new();
    for reference in &build.secrets {
        let file = project
            .secrets
            .get(&reference.source)
            .and_then(|s| s.file.clone())
            .ok_or_else(|| PlanError::Build {
                service: name.to_string(),
                message: format!(
                    "build secret {} must be a top-level secret with a file",
                    reference.source
                ),
            })?;
        secrets.insert(reference.source.clone(), file);
    }
    Ok(Some(BuildSpec {
        service: name.to_string(),
        image,
        tags,
        definition: build.clone(),
        args,
        secrets,
        no_cache: flags.no_cache || build.no_cache,
        pull: flags.pull || build.pull,
    }))
}

/// The plan of `bosun build`: one build per named service (every service with `build:` when
/// none is named), none waiting for another. A named service without `build:` is an error.
pub fn plan_builds(
    desired: &Desired<'_>,
    services: &[String],
    flags: &BuildFlags,
) -> Result<Plan, PlanError> {
    let project = desired.project;
    let mut plan = Plan::new();
    let mut images: Vec<String> = Vec::new();
    let names: Vec<&String> = if services.is_empty() {
        project.services.keys().collect()
    } else {
        services.iter().collect()
    };
    for name in names {
        let service = project
            .services
            .get(name)
            .ok_or_else(|| PlanError::NoSuchService {
                service: name.clone(),
            })?;
        let Some(spec) = build_spec(desired, name, service, flags)? else {
            if services.is_empty() {
                continue;
            }
            return Err(PlanError::Build {
                service: name.clone(),
                message: "the service has no build section".to_string(),
            });
        };
        if images.contains(&spec.image) {
            continue;
        }
        images.push(spec.image.clone());
        plan.add(Action::BuildImage(Box::new(spec)), "bosun build", []);
    }
    Ok(plan)
}

/// The build steps of `plan`, as a plan of their own (`up` runs them before the rest).
pub fn builds_of(plan: &Plan) -> Plan {
    let mut builds = Plan::new();
    for id in plan.ids() {
        let step = plan.step(id);
        if matches!(step.action, Action::BuildImage(_)) {
            builds.add(step.action.clone(), step.reason.clone(), []);
        }
    }
    builds
}
