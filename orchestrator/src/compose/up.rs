//! `plan`: the steps that converge a project's containers to its definition (`up`).
//!
//! Steps are emitted in phases so the text form reads top to bottom: orphans, missing networks
//! and volumes, builds and pulls, stops (dependents before their dependencies), renames/creates/removals
//! (dependencies first), then dependency waits and starts.

use std::collections::{BTreeMap, BTreeSet};

use compose_spec::model::Service;
use compose_spec::validate::MAX_SCALE;

use crate::compose::action::{Action, AwaitSpec};
use crate::compose::build::{BuildPolicy, build_spec, should_build};
use crate::compose::decide::{Decision, RecreatePolicy, ServiceContext, anonymous_targets, decide};
use crate::compose::desired::Desired;
use crate::compose::error::PlanError;
use crate::compose::graph::ServiceGraph;
use crate::compose::observed::{Observed, ObservedContainer};
use crate::compose::options::{DEFAULT_STOP_TIMEOUT, PlanOptions};
use crate::compose::orphans;
use crate::compose::plan::{Plan, StepId};
use crate::compose::resources::{Resource, Resources, check_pullable, image_of};
use crate::compose::spec::{container_name, container_spec};

/// The steps one service contributes, for the steps of other services to wait on.
#[derive(Debug, Default)]
struct Emitted {
    stops: Vec<StepId>,
    creates: Vec<StepId>,
    starts: Vec<StepId>,
}

/// A container to start: its name, the steps it waits for, and why.
type PendingStart = (String, Vec<StepId>, String);

/// Plans `up`: what to create, recreate (and why), start, scale down and remove so that the
/// observed state matches `desired`. Pure: the same inputs give the same plan.
pub fn plan(
    desired: &Desired<'_>,
    observed: &Observed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let project = desired.project;
    let graph = ServiceGraph::new(project)?;
    let selected = select(&graph, desired, options)?;
    let explicit: BTreeSet<&str> = options.services.iter().map(String::as_str).collect();
    let mut plan = Plan::new();
    if options.remove_orphans || !options.ignore_orphans {
        orphans::plan_orphans(
            project,
            observed,
            options.remove_orphans,
            options.timeout,
            &mut plan,
        );
    }

    let order: Vec<&str> = graph
        .order()
        .iter()
        .map(String::as_str)
        .filter(|s| selected.contains(*s))
        .collect();
    let mut resources = Resources::find(
        desired,
        order.iter().map(|s| &project.services[*s]),
        observed,
    )?;
    let mut by_service: BTreeMap<&str, Vec<&ObservedContainer>> = BTreeMap::new();
    for container in observed.project_containers(&project.name) {
        if let Some(service) = container.service()
            && !container.is_oneoff()
            && selected.contains(service)
        {
            by_service.entry(service).or_default().push(container);
        }
    }

    // Decide every container's fate, dependencies first (a recreate may restart dependents).
    let mut decisions: BTreeMap<&str, Vec<Decision<'_>>> = BTreeMap::new();
    let mut recreated: BTreeSet<&str> = BTreeSet::new();
    let mut images: BTreeMap<&str, String> = BTreeMap::new();
    for &name in &order {
        let service = &project.services[name];
        let scale = options
            .scale
            .get(name)
            .copied()
            .unwrap_or_else(|| service.replicas());
        if scale > MAX_SCALE {
            return Err(PlanError::ScaleTooLarge {
                service: name.to_string(),
                scale,
                max: MAX_SCALE,
            });
        }
        if let Some(container_name) = &service.container_name
            && scale > 1
        {
            return Err(PlanError::ContainerNameScaled {
                service: name.to_string(),
                container_name: container_name.clone(),
                scale,
            });
        }
        let policy = if options.no_recreate {
            RecreatePolicy::Never
        } else if options.force_recreate && (explicit.is_empty() || explicit.contains(name)) {
            RecreatePolicy::Force("forced (--force-recreate)")
        } else if options.always_recreate_deps && !explicit.is_empty() && !explicit.contains(name) {
            RecreatePolicy::Force("dependency recreated (--always-recreate-deps)")
        } else {
            RecreatePolicy::Diverged
        };
        let restarting: Vec<&str> = service
            .depends_on
            .iter()
            .filter(|(dep, d)| d.restart && recreated.contains(dep.as_str()))
            .map(|(dep, _)| dep.as_str())
            .collect();
        let image = image_of(&project.name, name, service);
        let networks = resources.networks_of(service);
        let context = ServiceContext {
            service,
            hash: desired.hashes.get(name).map(String::as_str).unwrap_or(""),
            image: &image,
            scale,
            policy,
            missing_networks: missing(&resources.networks, networks.keys()),
            networks: networks.into_values().collect(),
            missing_volumes: missing(&resources.volumes, resources.volumes_of(service).keys()),
            restart_reason: (!restarting.is_empty() && !options.no_start).then(|| {
                format!(
                    "dependency {} recreated (depends_on restart: true)",
                    restarting.join(", ")
                )
            }),
        };
        let existing = by_service.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let found = decide(&context, existing, observed);
        if found.iter().any(|d| matches!(d, Decision::Recreate(..))) {
            recreated.insert(name);
        }
        let creates = found
            .iter()
            .any(|d| matches!(d, Decision::Recreate(..) | Decision::Create(_)));
        if creates
            && !observed.images.contains_key(&image)
            && !should_build(service, &image, observed, options.build)
        {
            check_pullable(name, &image, service)?;
        }
        images.insert(name, image);
        decisions.insert(name, found);
    }

    resources.emit(desired, &mut plan);
    let mut pulls: BTreeMap<&str, StepId> = BTreeMap::new();
    for &name in &order {
        let image = images[name].as_str();
        let creates = decisions[name]
            .iter()
            .any(|d| matches!(d, Decision::Recreate(..) | Decision::Create(_)));
        if pulls.contains_key(image) {
            continue;
        }
        let service = &project.services[name];
        if should_build(service, image, observed, options.build)
            && let Some(spec) = build_spec(desired, name, service, &options.build_flags)?
        {
            let why = if !observed.images.contains_key(image) {
                "image not present locally"
            } else if options.build == BuildPolicy::Always {
                "--build"
            } else {
                "pull_policy is build"
            };
            let step = plan.add(Action::BuildImage(Box::new(spec)), why, []);
            pulls.insert(image, step);
            continue;
        }
        if creates && !observed.images.contains_key(image) {
            let step = plan.add(
                Action::PullImage {
                    image: image.to_string(),
                },
                "image not present locally",
                [],
            );
            pulls.insert(image, step);
        }
    }

    let mut emitted: BTreeMap<&str, Emitted> = BTreeMap::new();
    let mut stop_of: BTreeMap<&str, StepId> = BTreeMap::new();
    let mut pending_starts: BTreeMap<&str, Vec<PendingStart>> = BTreeMap::new();
    // Stops: dependents before their dependencies.
    for &name in order.iter().rev() {
        let service = &project.services[name];
        let timeout = options
            .timeout
            .or(service.stop_grace_period.as_ref().map(|d| d.as_std()))
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let after: Vec<StepId> = graph
            .dependents(name)
            .iter()
            .filter_map(|d| emitted.get(d))
            .flat_map(|e| e.stops.iter().copied())
            .collect();
        let mut stops = Vec::new();
        for decision in &decisions[name] {
            let (container, why) = match decision {
                Decision::Recreate(c, reasons) => (*c, format!("recreate: {}", reasons.join("; "))),
                Decision::Restart(c, why) => (*c, format!("restart: {why}")),
                Decision::Remove(c) => (*c, format!("scale down to {}", wanted(&decisions[name]))),
                _ => continue,
            };
            if container.status.state.is_up() {
                let stop = Action::StopContainer {
                    name: container.name.clone(),
                    timeout,
                };
                let step = plan.add(stop, why, after.clone());
                stop_of.insert(container.name.as_str(), step);
                stops.push(step);
            }
        }
        emitted.entry(name).or_default().stops = stops;
    }

    // Renames, creates and removals: dependencies first.
    for &name in &order {
        let service = &project.services[name];
        let mut after: Vec<StepId> = resources.steps_of(service);
        after.extend(pulls.get(images[name].as_str()).copied());
        for dependency in graph.dependencies(name) {
            if let Some(e) = emitted.get(dependency) {
                after.extend(e.creates.iter().copied());
            }
        }
        let mut creates = Vec::new();
        let mut starts: Vec<PendingStart> = Vec::new();
        for decision in &decisions[name] {
            match decision {
                Decision::Create(number) => {
                    let spec = container_spec(
                        desired,
                        &resources,
                        name,
                        service,
                        &images[name],
                        *number,
                        BTreeMap::new(),
                    );
                    let container = spec.name.clone();
                    let step = plan.add(
                        Action::CreateContainer(Box::new(spec)),
                        format!("scale {} of {}", number, wanted(&decisions[name])),
                        after.clone(),
                    );
                    creates.push(step);
                    starts.push((container, vec![step], "new container".to_string()));
                }
                Decision::Recreate(old, reasons) => {
                    let number = old.number().unwrap_or(1);
                    let temporary = format!("{}_{}", old.id.get(..12).unwrap_or(&old.id), old.name);
                    let rename = plan.add(
                        Action::RenameContainer {
                            from: old.name.clone(),
                            to: temporary.clone(),
                        },
                        "free the name for the replacement",
                        stop_of.get(old.name.as_str()).copied(),
                    );
                    let carried = if options.renew_anon_volumes {
                        BTreeMap::new()
                    } else {
                        let targets = anonymous_targets(service);
                        old.anonymous_volumes()
                            .filter(|(path, _)| targets.contains(path))
                            .map(|(path, volume)| (path.to_string(), volume.to_string()))
                            .collect()
                    };
                    let spec = container_spec(
                        desired,
                        &resources,
                        name,
                        service,
                        &images[name],
                        number,
                        carried,
                    );
                    let container = spec.name.clone();
                    let mut create_after = after.clone();
                    create_after.push(rename);
                    let create = plan.add(
                        Action::CreateContainer(Box::new(spec)),
                        format!("recreate: {}", reasons.join("; ")),
                        create_after,
                    );
                    plan.add(
                        Action::RemoveContainer {
                            name: temporary,
                            anonymous_volumes: options.renew_anon_volumes,
                        },
                        "replaced",
                        [create],
                    );
                    creates.push(create);
                    starts.push((container, vec![create], "recreated".to_string()));
                }
                Decision::Remove(old) => {
                    plan.add(
                        Action::RemoveContainer {
                            name: old.name.clone(),
                            anonymous_volumes: false,
                        },
                        format!("scale down to {}", wanted(&decisions[name])),
                        stop_of.get(old.name.as_str()).copied(),
                    );
                }
                Decision::Start(c) => {
                    starts.push((c.name.clone(), Vec::new(), state_reason(c)));
                }
                Decision::Restart(c, _) => {
                    let stop = stop_of.get(c.name.as_str()).copied();
                    starts.push((
                        c.name.clone(),
                        stop.into_iter().collect(),
                        "restart".to_string(),
                    ));
                }
                Decision::Keep(_) => {}
            }
        }
        emitted.entry(name).or_default().creates = creates;
        pending_starts.insert(name, starts);
    }

    // Dependency waits and starts: dependencies first.
    if options.no_start {
        return Ok(plan);
    }
    for &name in &order {
        let starts = pending_starts.remove(name).unwrap_or_default();
        if starts.is_empty() {
            continue;
        }
        let service = &project.services[name];
        let mut waits = Vec::new();
        for (dependency, condition) in &service.depends_on {
            let Some(found) = decisions.get(dependency.as_str()) else {
                continue;
            };
            let containers = final_names(
                project.name.as_str(),
                dependency,
                &project.services[dependency],
                found,
            );
            if containers.is_empty() {
                continue;
            }
            let spec = AwaitSpec {
                dependent: name.to_string(),
                dependency: dependency.clone(),
                condition: condition.condition,
                required: condition.required,
                containers,
            };
            let after = emitted
                .get(dependency.as_str())
                .map(|e| e.starts.clone())
                .unwrap_or_default();
            let reason = format!("depends_on condition {}", condition.condition);
            waits.push(plan.add(Action::AwaitDependency(spec), reason, after));
        }
        let mut steps = Vec::new();
        for (container, mut after, why) in starts {
            after.extend(waits.iter().copied());
            steps.push(plan.add(Action::StartContainer { name: container }, why, after));
        }
        emitted.entry(name).or_default().starts = steps;
    }
    Ok(plan)
}

/// The enabled services `up` acts on: the named ones (all when none is named) and, unless
/// `no_deps`, what they depend on.
fn select(
    graph: &ServiceGraph,
    desired: &Desired<'_>,
    options: &PlanOptions,
) -> Result<BTreeSet<String>, PlanError> {
    let project = desired.project;
    for service in &options.services {
        if !project.services.contains_key(service) {
            return Err(PlanError::NoSuchService {
                service: service.clone(),
            });
        }
    }
    if options.services.is_empty() {
        return Ok(project.services.keys().cloned().collect());
    }
    if options.no_deps {
        return Ok(options.services.iter().cloned().collect());
    }
    Ok(graph.with_dependencies(&options.services))
}

/// The engine names of the keys that are missing.
fn missing<'k>(
    resources: &BTreeMap<String, Resource>,
    keys: impl IntoIterator<Item = &'k String>,
) -> Vec<String> {
    keys.into_iter()
        .filter_map(|k| resources.get(k))
        .filter(|r| r.missing)
        .map(|r| r.name.clone())
        .collect()
}

/// The number of containers the decisions leave.
fn wanted(decisions: &[Decision<'_>]) -> usize {
    decisions
        .iter()
        .filter(|d| !matches!(d, Decision::Remove(_)))
        .count()
}

/// The names of the containers a service has once the decisions are carried out.
fn final_names(
    project: &str,
    name: &str,
    service: &Service,
    decisions: &[Decision<'_>],
) -> Vec<String> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Keep(c)
            | Decision::Start(c)
            | Decision::Restart(c, _)
            | Decision::Recreate(c, _) => Some(c.name.clone()),
            Decision::Create(number) => Some(container_name(project, name, service, *number)),
            Decision::Remove(_) => None,
        })
        .collect()
}

/// Why a container that is not up gets started.
fn state_reason(container: &ObservedContainer) -> String {
    format!("container is {}", container.status.state)
}
