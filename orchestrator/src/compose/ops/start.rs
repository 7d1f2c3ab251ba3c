//! `start` and `restart`: service by service in dependency order, each service's containers
//! at once.

use std::slice;
use std::time::Duration;

use compose_spec::model::Project;

use crate::compose::error::PlanError;
use crate::compose::graph::ServiceGraph;
use crate::compose::observed::{ContainerState, Observed};
use crate::compose::ops::batch::{Batch, ContainerOp};
use crate::compose::ops::order::{restart_order, start_order};
use crate::compose::ops::select::containers;

/// `start`: the stopped containers of the named services (every service when none is named)
/// and of everything they depend on, one batch per service, dependencies first (an exited
/// container runs again). Services with nothing to start have no batch.
pub fn start(
    project: &Project,
    observed: &Observed,
    services: &[String],
) -> Result<Vec<Batch>, PlanError> {
    let graph = ServiceGraph::new(project)?;
    let order = start_order(&graph, services);
    Ok(per_service(
        project,
        observed,
        &order,
        ContainerOp::Start,
        ContainerState::is_stopped,
    ))
}

/// `restart`: every container (whatever its state) of the named services and, unless
/// `no_deps`, of the services that declared `depends_on: {SERVICE: {restart: true}}` on them
/// ([`restart_order`]), one batch per service, dependencies first.
pub fn restart(
    project: &Project,
    observed: &Observed,
    services: &[String],
    no_deps: bool,
    timeout: Option<Duration>,
) -> Result<Vec<Batch>, PlanError> {
    let graph = ServiceGraph::new(project)?;
    let order = restart_order(project, &graph, services, no_deps);
    let op = ContainerOp::Restart { timeout };
    Ok(per_service(project, observed, &order, op, |_| true))
}

/// One batch of `op` per service of `order` over its containers that `keep` accepts, empty
/// batches left out.
fn per_service(
    project: &Project,
    observed: &Observed,
    order: &[String],
    op: ContainerOp,
    keep: impl Fn(ContainerState) -> bool + Copy,
) -> Vec<Batch> {
    order
        .iter()
        .map(|service| {
            let names = containers(observed, &project.name, slice::from_ref(service), keep);
            Batch::new(op, names)
        })
        .filter(|batch| !batch.is_empty())
        .collect()
}
