//! `plan_down`: stop and remove a project's containers, then its networks and, with `-v`, its
//! volumes.
//!
//! A container stops once the containers of the services depending on it have stopped, so
//! every container of one level of the dependency graph stops in parallel, each with its own
//! grace period. External networks and volumes are never removed; a network or volume still
//! used by a container that stays (an orphan kept without `--remove-orphans`) is kept, with a
//! warning.

use std::collections::BTreeMap;

use compose_spec::model::Service;

use crate::compose::action::Action;
use crate::compose::error::PlanError;
use crate::compose::graph::ServiceGraph;
use crate::compose::observed::{MountSource, Observed, ObservedContainer};
use crate::compose::options::{DEFAULT_STOP_TIMEOUT, DownOptions};
use crate::compose::orphans;
use crate::compose::plan::{Plan, StepId};
use compose_spec::model::Project;

/// Plans `down` for `project` (enabled and profile-disabled services alike).
pub fn plan_down(
    project: &Project,
    observed: &Observed,
    options: &DownOptions,
) -> Result<Plan, PlanError> {
    let mut services: BTreeMap<String, Service> = project.disabled_services.clone();
    services.extend(project.services.clone());
    let graph = ServiceGraph::of(&services)?;
    let mut plan = Plan::new();
    let whole = options.services.is_empty();
    let mut removals = if whole {
        orphans::plan_orphans(
            project,
            observed,
            options.remove_orphans,
            options.timeout,
            &mut plan,
        )
    } else {
        Vec::new()
    };

    let mut by_service: BTreeMap<&str, Vec<&ObservedContainer>> = BTreeMap::new();
    for container in observed.project_containers(&project.name) {
        match container.service() {
            Some(service)
                if services.contains_key(service)
                    && (whole || options.services.iter().any(|s| s == service)) =>
            {
                by_service.entry(service).or_default().push(container);
            }
            _ => {}
        }
    }
    let mut stops: BTreeMap<&str, Vec<StepId>> = BTreeMap::new();
    let mut removed: Vec<(&ObservedContainer, StepId)> = Vec::new();
    for name in graph.order().iter().rev() {
        let Some(containers) = by_service.get(name.as_str()) else {
            continue;
        };
        let after: Vec<StepId> = graph
            .dependents(name)
            .iter()
            .filter_map(|d| stops.get(d))
            .flatten()
            .copied()
            .collect();
        let timeout = options
            .timeout
            .or(services[name]
                .stop_grace_period
                .as_ref()
                .map(|d| d.as_std()))
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let mut own = Vec::new();
        for container in containers {
            let stop = container.status.state.is_up().then(|| {
                let action = Action::StopContainer {
                    name: container.name.clone(),
                    timeout,
                };
                plan.add(action, "down", after.clone())
            });
            own.extend(stop);
            let remove = Action::RemoveContainer {
                name: container.name.clone(),
                anonymous_volumes: options.volumes,
            };
            let step = plan.add(remove, "down", stop);
            removed.push((container, step));
        }
        stops.insert(name.as_str(), own);
    }
    if whole && options.remove_orphans {
        let orphans = orphans::orphans(project, observed);
        removed.extend(orphans.into_iter().zip(removals.drain(..)));
    }
    let staying: Vec<&ObservedContainer> = observed
        .project_containers(&project.name)
        .filter(|c| !removed.iter().any(|(r, _)| r.name == c.name))
        .collect();

    for network in project.networks.values().filter(|n| !n.external) {
        let Some(name) = network.name.as_deref() else {
            continue;
        };
        if observed.network(name).is_none() {
            continue;
        }
        let users: Vec<&str> = staying
            .iter()
            .filter(|c| c.networks.iter().any(|n| n == name))
            .map(|c| c.name.as_str())
            .collect();
        if !users.is_empty() {
            if whole {
                plan.warn(format!(
                    "network {name} is kept: still used by {}",
                    users.join(", ")
                ));
            }
            continue;
        }
        let after = removed
            .iter()
            .filter(|(c, _)| c.networks.iter().any(|n| n == name))
            .map(|(_, s)| *s);
        plan.add(
            Action::RemoveNetwork {
                name: name.to_string(),
            },
            "down",
            after,
        );
    }
    if options.volumes {
        for volume in project.volumes.values().filter(|v| !v.external) {
            let Some(name) = volume.name.as_deref() else {
                continue;
            };
            if observed.volume(name).is_none() {
                continue;
            }
            let users: Vec<&str> = staying
                .iter()
                .filter(|c| mounts_volume(c, name))
                .map(|c| c.name.as_str())
                .collect();
            if !users.is_empty() {
                if whole {
                    plan.warn(format!(
                        "volume {name} is kept: still used by {}",
                        users.join(", ")
                    ));
                }
                continue;
            }
            let after = removed
                .iter()
                .filter(|(c, _)| mounts_volume(c, name))
                .map(|(_, s)| *s);
            plan.add(
                Action::RemoveVolume {
                    name: name.to_string(),
                },
                "down -v",
                after,
            );
        }
    }
    Ok(plan)
}

fn mounts_volume(container: &ObservedContainer, volume: &str) -> bool {
    container
        .mounts
        .iter()
        .any(|m| matches!(&m.source, MountSource::Volume { name, .. } if name == volume))
}
