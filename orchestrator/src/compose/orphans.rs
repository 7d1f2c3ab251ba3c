//! Orphans: containers of the project whose service is no longer in it. Services switched off
//! by profiles are not orphans, nor are one-off `run` containers. Without `--remove-orphans`
//! they only earn a warning; removing them never touches their volumes.

use std::time::Duration;

use compose_spec::model::Project;

use crate::compose::action::Action;
use crate::compose::observed::{Observed, ObservedContainer};
use crate::compose::options::DEFAULT_STOP_TIMEOUT;
use crate::compose::plan::{Plan, StepId};

/// The orphan containers of `project`, in name order.
pub fn orphans<'o>(project: &Project, observed: &'o Observed) -> Vec<&'o ObservedContainer> {
    observed
        .project_containers(&project.name)
        .filter(|c| !c.is_oneoff())
        .filter(|c| {
            c.service().is_none_or(|s| {
                !project.services.contains_key(s) && !project.disabled_services.contains_key(s)
            })
        })
        .collect()
}

/// Adds the removal of the orphans (when `remove`) or a warning naming them, and returns the
/// removal steps.
pub fn plan_orphans(
    project: &Project,
    observed: &Observed,
    remove: bool,
    timeout: Option<Duration>,
    plan: &mut Plan,
) -> Vec<StepId> {
    let found = orphans(project, observed);
    if found.is_empty() {
        return Vec::new();
    }
    if !remove {
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        plan.warn(format!(
            "found orphan containers ({}) for this project; if you removed or renamed their \
             service in the compose file, run with --remove-orphans to clean them up",
            names.join(", ")
        ));
        return Vec::new();
    }
    let mut removals = Vec::new();
    for container in found {
        let reason = format!(
            "orphan: service {} is not in the project",
            container.service().unwrap_or("(none)")
        );
        let stop = container.status.state.is_up().then(|| {
            let action = Action::StopContainer {
                name: container.name.clone(),
                timeout: timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            };
            plan.add(action, reason.clone(), [])
        });
        let remove = Action::RemoveContainer {
            name: container.name.clone(),
            anonymous_volumes: false,
        };
        removals.push(plan.add(remove, reason, stop));
    }
    removals
}
