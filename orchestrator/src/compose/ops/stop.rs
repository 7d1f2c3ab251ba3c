//! `stop`, `kill`, `pause`, `unpause` and `rm`: one batch over every container in scope
//! ([`scope`]), at once.

use std::time::Duration;

use compose_spec::model::Project;

use crate::compose::observed::{ContainerState, Observed};
use crate::compose::ops::batch::{Batch, ContainerOp};
use crate::compose::ops::select::{containers, scope};

/// The live (running or paused) containers of the services in scope, under `op`.
fn live(project: &Project, observed: &Observed, services: &[String], op: ContainerOp) -> Batch {
    let scope = scope(project, services);
    let names = containers(observed, &project.name, &scope, ContainerState::is_up);
    Batch::new(op, names)
}

/// `stop` (and the first half of `rm --stop`): every container of the services in scope, each
/// with its grace period. As Compose, a container already stopped is in the batch too (its
/// stop does nothing), so a repeated `stop` still reports each container `Stopped`.
pub fn stop(
    project: &Project,
    observed: &Observed,
    services: &[String],
    timeout: Option<Duration>,
) -> Batch {
    let scope = scope(project, services);
    let names = containers(observed, &project.name, &scope, |_| true);
    Batch::new(ContainerOp::Stop { timeout }, names)
}

/// `kill`: signal number `signal` to the live containers.
pub fn kill(project: &Project, observed: &Observed, services: &[String], signal: i32) -> Batch {
    live(project, observed, services, ContainerOp::Kill { signal })
}

/// `pause`: the live containers.
pub fn pause(project: &Project, observed: &Observed, services: &[String]) -> Batch {
    live(project, observed, services, ContainerOp::Pause)
}

/// `unpause`: the live containers.
pub fn unpause(project: &Project, observed: &Observed, services: &[String]) -> Batch {
    live(project, observed, services, ContainerOp::Unpause)
}

/// `rm`: the stopped containers (created or exited) of the services in scope; running ones
/// stay (`rm --stop` stops them first with [`stop`], then observes again).
pub fn remove(
    project: &Project,
    observed: &Observed,
    services: &[String],
    anonymous_volumes: bool,
) -> Batch {
    let scope = scope(project, services);
    let names = containers(observed, &project.name, &scope, ContainerState::is_stopped);
    Batch::new(ContainerOp::Remove { anonymous_volumes }, names)
}
