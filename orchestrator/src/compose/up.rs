//! `plan`: the steps that converge a project's containers to its definition (`up`).
//!
//! Planning runs in phases, each its own function: the services in play ([`select`]), the
//! diff of desired against observed (`decide_all`: every container's fate), then the steps
//! in the order the text form reads top to bottom: orphans, missing networks and volumes,
//! builds and pulls (`emit_images`), stops (`emit_stops`: dependents before their
//! dependencies), renames/creates/removals (`emit_containers`: dependencies first), then
//! dependency waits and starts (`emit_starts`).

use std::collections::{BTreeMap, BTreeSet};

use compose_spec::model::Service;
use compose_spec::validate::MAX_SCALE;

use crate::compose::action::{Action, AwaitSpec, PreStartSpec};
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

/// A container to start: its name, the steps it waits for, and why.
type PendingStart = (String, Vec<StepId>, String);

/// What every phase reads: the inputs and the services in play.
struct Scope<'p> {
    desired: &'p Desired<'p>,
    observed: &'p Observed,
    options: &'p PlanOptions,
    graph: &'p ServiceGraph,
    /// The selected services, dependencies first.
    order: Vec<&'p str>,
}

impl<'p> Scope<'p> {
    fn service(&self, name: &str) -> &'p Service {
        &self.desired.project.services[name]
    }
}

/// What the decision phase found for each selected service.
struct Decided<'p> {
    /// Every existing or wanted container's fate.
    decisions: BTreeMap<&'p str, Vec<Decision<'p>>>,
    /// The image each service runs.
    images: BTreeMap<&'p str, String>,
}

impl Decided<'_> {
    /// Whether the service gets a new container (created or recreated).
    fn creates(&self, name: &str) -> bool {
        self.decisions[name]
            .iter()
            .any(|d| matches!(d, Decision::Recreate(..) | Decision::Create(_)))
    }
}

/// The stop steps of the stop phase.
#[derive(Default)]
struct Stops<'p> {
    /// The stop step of each container stopped.
    of_container: BTreeMap<&'p str, StepId>,
    /// The stop steps of each service.
    of_service: BTreeMap<&'p str, Vec<StepId>>,
}

/// Plans `up`: what to create, recreate (and why), start, scale down and remove so that the
/// observed state matches `desired`. Pure: the same inputs give the same plan.
///
/// The phases run in the order the plan reads: orphans, then (once every container's fate
/// is decided) missing networks and volumes, builds and pulls, stops, renames/creates/
/// removals, then dependency waits and starts.
pub fn plan(
    desired: &Desired<'_>,
    observed: &Observed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let project = desired.project;
    let graph = ServiceGraph::new(project)?;
    let selected = select(&graph, desired, options)?;
    check_container_names(desired, &selected)?;
    check_donors(desired, observed, &selected)?;
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
    let scope = Scope {
        desired,
        observed,
        options,
        graph: &graph,
        order: graph
            .order()
            .iter()
            .map(String::as_str)
            .filter(|s| selected.contains(*s))
            .collect(),
    };
    let mut resources = Resources::find(
        desired,
        scope.order.iter().map(|s| scope.service(s)),
        observed,
        options,
        &mut plan,
    )?;
    let decided = decide_all(&scope, &resources, &existing(&scope, &selected))?;
    resources.emit(desired, &mut plan);
    let pulls = emit_images(&scope, &decided, &mut plan)?;
    let stops = emit_stops(&scope, &decided, &mut plan);
    let starts = emit_containers(&scope, &decided, &resources, &pulls, &stops, &mut plan);
    resources.wait_for_removals(observed, &container_removals(&plan), &mut plan)?;
    if !options.no_start {
        emit_starts(&scope, &decided, &resources, starts, &mut plan);
    }
    Ok(plan)
}

/// The existing service containers (one-offs left out) of each selected service.
fn existing<'p>(
    scope: &Scope<'p>,
    selected: &BTreeSet<String>,
) -> BTreeMap<&'p str, Vec<&'p ObservedContainer>> {
    let mut by_service: BTreeMap<&str, Vec<&ObservedContainer>> = BTreeMap::new();
    for container in scope
        .observed
        .project_containers(&scope.desired.project.name)
    {
        if let Some(service) = container.service()
            && !container.is_oneoff()
            && selected.contains(service)
        {
            by_service.entry(service).or_default().push(container);
        }
    }
    by_service
}

/// The diff of desired against observed: every container's fate, service by service,
/// dependencies first (a recreated dependency declared with `restart: true` restarts its
/// dependents). Fails on an impossible scale, or on an image that is missing and may be
/// neither built nor pulled.
fn decide_all<'p>(
    scope: &Scope<'p>,
    resources: &Resources,
    existing: &BTreeMap<&'p str, Vec<&'p ObservedContainer>>,
) -> Result<Decided<'p>, PlanError> {
    let (project, options, observed) = (scope.desired.project, scope.options, scope.observed);
    let mut decided = Decided {
        decisions: BTreeMap::new(),
        images: BTreeMap::new(),
    };
    let mut recreated: BTreeSet<&str> = BTreeSet::new();
    for &name in &scope.order {
        let service = scope.service(name);
        let scale = scale_of(options, name, service)?;
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
            hash: scope
                .desired
                .hashes
                .get(name)
                .map(String::as_str)
                .unwrap_or(""),
            image: &image,
            scale,
            policy: recreate_policy(options, name),
            missing_networks: missing(&resources.networks, networks.keys()),
            networks: networks.into_values().collect(),
            missing_volumes: missing(&resources.volumes, resources.volumes_of(service).keys()),
            volume_mounts: resources.volume_mounts_of(service),
            replaced: resources.replaced_reasons(service),
            restart_reason: (!restarting.is_empty() && !options.no_start).then(|| {
                format!(
                    "dependency {} recreated (depends_on restart: true)",
                    restarting.join(", ")
                )
            }),
        };
        let containers = existing.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let found = decide(&context, containers, observed);
        if found.iter().any(|d| matches!(d, Decision::Recreate(..))) {
            recreated.insert(name);
        }
        decided.decisions.insert(name, found);
        if decided.creates(name)
            && !observed.images.contains_key(&image)
            && !should_build(service, &image, observed, options.build)
        {
            check_pullable(name, &image, service)?;
        }
        decided.images.insert(name, image);
    }
    Ok(decided)
}

/// The number of containers `service` should have (`--scale`, else its own), refused beyond
/// [`MAX_SCALE`] or above one with a `container_name`.
fn scale_of(options: &PlanOptions, name: &str, service: &Service) -> Result<u64, PlanError> {
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
    Ok(scale)
}

/// How willing the planner is to recreate the containers of service `name`: never with
/// `--no-recreate`; always with `--force-recreate` (for the named services, or all when none
/// is named) or `--always-recreate-deps` (for the dependencies pulled in); else when diverged.
fn recreate_policy(options: &PlanOptions, name: &str) -> RecreatePolicy {
    let explicit = &options.services;
    let named = explicit.iter().any(|s| s == name);
    if options.no_recreate {
        RecreatePolicy::Never
    } else if options.force_recreate && (explicit.is_empty() || named) {
        RecreatePolicy::Force("forced (--force-recreate)")
    } else if options.always_recreate_deps && !explicit.is_empty() && !named {
        RecreatePolicy::Force("dependency recreated (--always-recreate-deps)")
    } else {
        RecreatePolicy::Diverged
    }
}

/// Builds and pulls: one step per image, for the services that must be built (`build:` with
/// the image missing, `--build`, `pull_policy: build`) or that get a new container whose image
/// is not present. Returns each image's step, for the creates to wait on.
fn emit_images<'d>(
    scope: &Scope<'_>,
    decided: &'d Decided<'_>,
    plan: &mut Plan,
) -> Result<BTreeMap<&'d str, StepId>, PlanError> {
    let (observed, options) = (scope.observed, scope.options);
    let mut pulls: BTreeMap<&str, StepId> = BTreeMap::new();
    for &name in &scope.order {
        let image = decided.images[name].as_str();
        let creates = decided.creates(name);
        if pulls.contains_key(image) {
            continue;
        }
        let service = scope.service(name);
        if should_build(service, image, observed, options.build)
            && let Some(spec) = build_spec(scope.desired, name, service, &options.build_flags)?
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
    Ok(pulls)
}

/// Stops of the running containers that are recreated, restarted or scaled away, dependents
/// before their dependencies, each with its grace period (`-t`, else `stop_grace_period`).
fn emit_stops<'p>(scope: &Scope<'p>, decided: &Decided<'p>, plan: &mut Plan) -> Stops<'p> {
    let mut stops = Stops::default();
    for &name in scope.order.iter().rev() {
        let service = scope.service(name);
        let timeout = scope
            .options
            .timeout
            .or(service.stop_grace_period.as_ref().map(|d| d.as_std()))
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let after: Vec<StepId> = scope
            .graph
            .dependents(name)
            .iter()
            .filter_map(|d| stops.of_service.get(d))
            .flatten()
            .copied()
            .collect();
        let decisions = &decided.decisions[name];
        let mut own = Vec::new();
        for decision in decisions {
            let (container, why) = match decision {
                Decision::Recreate(c, reasons) => (*c, format!("recreate: {}", reasons.join("; "))),
                Decision::Restart(c, why) => (*c, format!("restart: {why}")),
                Decision::Remove(c) => (*c, format!("scale down to {}", wanted(decisions))),
                _ => continue,
            };
            if container.status.state.is_up() {
                let stop = Action::StopContainer {
                    name: container.name.clone(),
                    timeout,
                };
                let step = plan.add(stop, why, after.clone());
                stops.of_container.insert(container.name.as_str(), step);
                own.push(step);
            }
        }
        stops.of_service.insert(name, own);
    }
    stops
}

/// Renames, creates and removals, dependencies first: a new container waits for its
/// networks, volumes, image and its dependencies' creates; a recreate renames the old
/// container out of the way, creates the replacement (carrying its anonymous volumes over
/// unless `-V`) and removes the old one. Returns the containers each service will start.
fn emit_containers<'p>(
    scope: &Scope<'p>,
    decided: &Decided<'p>,
    resources: &Resources,
    pulls: &BTreeMap<&str, StepId>,
    stops: &Stops<'_>,
    plan: &mut Plan,
) -> BTreeMap<&'p str, Vec<PendingStart>> {
    let (desired, options) = (scope.desired, scope.options);
    let mut creates_of: BTreeMap<&str, Vec<StepId>> = BTreeMap::new();
    let mut pending_starts: BTreeMap<&str, Vec<PendingStart>> = BTreeMap::new();
    let stop_of = |container: &str| stops.of_container.get(container).copied();
    for &name in &scope.order {
        let service = scope.service(name);
        let image = &decided.images[name];
        let decisions = &decided.decisions[name];
        let mut after: Vec<StepId> = resources.steps_of(service);
        after.extend(pulls.get(image.as_str()).copied());
        for dependency in scope.graph.dependencies(name) {
            if let Some(creates) = creates_of.get(dependency) {
                after.extend(creates.iter().copied());
            }
        }
        let mut creates = Vec::new();
        let mut starts: Vec<PendingStart> = Vec::new();
        for decision in decisions {
            match decision {
                Decision::Create(number) => {
                    let spec = container_spec(
                        desired,
                        resources,
                        name,
                        service,
                        image,
                        *number,
                        BTreeMap::new(),
                    );
                    let container = spec.name.clone();
                    let step = plan.add(
                        Action::CreateContainer(Box::new(spec)),
                        format!("scale {} of {}", number, wanted(decisions)),
                        after.clone(),
                    );
                    creates.push(step);
                    starts.push((container, vec![step], "new container".to_string()));
                }
                Decision::Recreate(old, reasons) if resources.replaces_any_of(service) => {
                    // A network or volume it uses is removed and made again: the old container
                    // goes first (its anonymous volumes kept for the replacement), then the
                    // replacement joins the new network or volume.
                    let remove = plan.add(
                        Action::RemoveContainer {
                            name: old.name.clone(),
                            anonymous_volumes: false,
                        },
                        format!("recreate: {}", reasons.join("; ")),
                        stop_of(&old.name),
                    );
                    let carried = carried_volumes(options, service, old);
                    let number = old.number().unwrap_or(1);
                    let spec =
                        container_spec(desired, resources, name, service, image, number, carried);
                    let container = spec.name.clone();
                    let mut create_after = after.clone();
                    create_after.push(remove);
                    let create = plan.add(
                        Action::CreateContainer(Box::new(spec)),
                        "replaces the removed container",
                        create_after,
                    );
                    creates.push(create);
                    starts.push((container, vec![create], "recreated".to_string()));
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
                        stop_of(&old.name),
                    );
                    let carried = carried_volumes(options, service, old);
                    let spec =
                        container_spec(desired, resources, name, service, image, number, carried);
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
                        crate::compose::progress::REPLACED,
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
                        format!("scale down to {}", wanted(decisions)),
                        stop_of(&old.name),
                    );
                }
                Decision::Start(c) => {
                    starts.push((c.name.clone(), Vec::new(), state_reason(c)));
                }
                Decision::Restart(c, _) => {
                    starts.push((
                        c.name.clone(),
                        stop_of(&c.name).into_iter().collect(),
                        "restart".to_string(),
                    ));
                }
                Decision::Keep(_) => {}
            }
        }
        creates_of.insert(name, creates);
        pending_starts.insert(name, starts);
    }
    pending_starts
}

/// The anonymous volumes of `old` its replacement mounts again (none with `-V`).
fn carried_volumes(
    options: &PlanOptions,
    service: &Service,
    old: &ObservedContainer,
) -> BTreeMap<String, String> {
    if options.renew_anon_volumes {
        return BTreeMap::new();
    }
    let targets = anonymous_targets(service);
    old.anonymous_volumes()
        .filter(|(path, _)| targets.contains(path))
        .map(|(path, volume)| (path.to_string(), volume.to_string()))
        .collect()
}

/// The step removing each container the plan removes under its current name.
fn container_removals(plan: &Plan) -> BTreeMap<String, StepId> {
    plan.ids()
        .filter_map(|id| match &plan.step(id).action {
            Action::RemoveContainer { name, .. } => Some((name.clone(), id)),
            _ => None,
        })
        .collect()
}

/// Dependency waits and starts, dependencies first: each service with containers to start
/// first waits for each `depends_on` condition on the containers its dependency ends up
/// with (after that dependency's own starts), runs its `pre_start` hooks when none of its
/// containers keeps running, then starts them.
fn emit_starts(
    scope: &Scope<'_>,
    decided: &Decided<'_>,
    resources: &Resources,
    mut pending_starts: BTreeMap<&str, Vec<PendingStart>>,
    plan: &mut Plan,
) {
    let project = scope.desired.project;
    let mut starts_of: BTreeMap<&str, Vec<StepId>> = BTreeMap::new();
    for &name in &scope.order {
        let starts = pending_starts.remove(name).unwrap_or_default();
        if starts.is_empty() {
            continue;
        }
        let service = scope.service(name);
        let mut waits = Vec::new();
        for (dependency, condition) in &service.depends_on {
            let Some(found) = decided.decisions.get(dependency.as_str()) else {
                continue;
            };
            let containers = final_names(
                scope.desired,
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
            let after = starts_of
                .get(dependency.as_str())
                .cloned()
                .unwrap_or_default();
            let reason = format!("depends_on condition {}", condition.condition);
            waits.push(plan.add(Action::AwaitDependency(spec), reason, after));
        }
        if let Some(spec) = pre_start(scope, decided, resources, name) {
            let mut after: Vec<StepId> = starts
                .iter()
                .flat_map(|(_, after, _)| after.iter().copied())
                .chain(waits.iter().copied())
                .collect();
            after.sort();
            after.dedup();
            let reason = "pre_start: no container of the service runs yet";
            let hooks = plan.add(Action::RunPreStart(Box::new(spec)), reason, after);
            waits.push(hooks);
        }
        let mut steps = Vec::new();
        for (container, mut after, why) in starts {
            after.extend(waits.iter().copied());
            steps.push(plan.add(Action::StartContainer { name: container }, why, after));
        }
        starts_of.insert(name, steps);
    }
}

/// The `pre_start` hooks of service `name` to run before its starts: as Compose, once per
/// service and only when none of its containers keeps running, beside its lowest-numbered
/// container to start.
fn pre_start(
    scope: &Scope<'_>,
    decided: &Decided<'_>,
    resources: &Resources,
    name: &str,
) -> Option<PreStartSpec> {
    let service = scope.service(name);
    if service.pre_start.is_empty() {
        return None;
    }
    let mut numbers = Vec::new();
    for decision in &decided.decisions[name] {
        match decision {
            Decision::Keep(_) | Decision::Restart(..) => return None,
            Decision::Create(number) => numbers.push(*number),
            Decision::Start(c) | Decision::Recreate(c, _) => numbers.push(c.number().unwrap_or(1)),
            Decision::Remove(_) => {}
        }
    }
    let number = numbers.into_iter().min()?;
    let image = &decided.images[name];
    let container = container_spec(
        scope.desired,
        resources,
        name,
        service,
        image,
        number,
        BTreeMap::new(),
    );
    Some(PreStartSpec {
        container: Box::new(container),
        hooks: service.pre_start.clone(),
    })
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

/// Refuses two selected services with the same `container_name`, as Compose's `up` fails on
/// the second container; either service may still be brought up without the other.
fn check_container_names(
    desired: &Desired<'_>,
    selected: &BTreeSet<String>,
) -> Result<(), PlanError> {
    let mut taken: BTreeMap<&str, &str> = BTreeMap::new();
    for name in selected {
        let service = &desired.project.services[name];
        if let Some(container_name) = service.container_name.as_deref()
            && let Some(other) = taken.insert(container_name, name)
        {
            return Err(PlanError::ContainerNameConflict {
                service: name.clone(),
                other: other.to_string(),
                container_name: container_name.to_string(),
            });
        }
    }
    Ok(())
}

/// What a service shares with another service's container: `network_mode: service:`,
/// `ipc: service:`, `volumes_from` (a service, not `container:`), as (what, donor).
fn donors(service: &Service) -> Vec<(&'static str, &str)> {
    let mut found = Vec::new();
    let modes = [
        ("network namespace", &service.network_mode),
        ("IPC namespace", &service.ipc),
    ];
    for (what, mode) in modes {
        if let Some(donor) = mode.as_deref().and_then(|m| m.strip_prefix("service:")) {
            found.push((what, donor));
        }
    }
    for from in &service.volumes_from {
        if !from.starts_with("container:") {
            found.push(("volume", from.split(':').next().unwrap_or(from)));
        }
    }
    found
}

/// As Compose with `--no-deps`: a service sharing the container of a service left out of
/// this up needs that container to exist.
fn check_donors(
    desired: &Desired<'_>,
    observed: &Observed,
    selected: &BTreeSet<String>,
) -> Result<(), PlanError> {
    let project = &desired.project.name;
    for name in selected {
        for (what, donor) in donors(&desired.project.services[name]) {
            if selected.contains(donor) {
                continue;
            }
            let exists = observed
                .project_containers(project)
                .any(|c| c.service() == Some(donor) && !c.is_oneoff());
            if !exists {
                return Err(PlanError::DonorMissing {
                    service: name.clone(),
                    what,
                    donor: donor.to_string(),
                });
            }
        }
    }
    Ok(())
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
    desired: &Desired<'_>,
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
            Decision::Create(number) => Some(container_name(
                &desired.project.name,
                name,
                service,
                *number,
                desired.separator,
            )),
            Decision::Remove(_) => None,
        })
        .collect()
}

/// Why a container that is not up gets started.
fn state_reason(container: &ObservedContainer) -> String {
    format!("container is {}", container.status.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use compose_spec::model;

    #[test]
    fn two_services_may_share_a_container_name_only_when_not_brought_up_together() {
        let project = model::from_json(&serde_json::json!({ "services": {
            "test": {"image": "x", "container_name": "fixed"},
            "another_test": {"image": "x", "container_name": "fixed"}
        }}))
        .unwrap();
        let desired = Desired::new(&project).unwrap();
        let observed = Observed::default();
        let err = plan(&desired, &observed, &PlanOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container name \"fixed\" is already in use by service \"another_test\": \
             service \"test\" cannot have it too"
        );
        for service in ["test", "another_test"] {
            let options = PlanOptions {
                services: vec![service.to_string()],
                ..PlanOptions::default()
            };
            let plan = plan(&desired, &observed, &options).unwrap();
            assert!(
                plan.to_string().contains("create container fixed"),
                "{plan}"
            );
        }
    }
}
