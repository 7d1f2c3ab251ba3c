//! The `Backend`: the calls the executor makes to the world (the local agent in production, a
//! recording fake in tests). Synchronous: the executor calls it from several threads at once.

use std::time::Duration;

use crate::compose::action::{BuildSpec, ContainerSpec, NetworkSpec, PreStartSpec, VolumeSpec};
use crate::compose::error::BackendError;
use crate::compose::observed::{ContainerStatus, Observed};

/// What the compose executor needs from a container engine.
pub trait Backend: Sync {
    /// The observed state of a project: its containers (one-offs included), networks and
    /// volumes, every external network and volume it may name, and the local images.
    fn observe(&self, project: &str) -> Result<Observed, BackendError>;
    /// The project's containers alone, as [`Backend::observe`] sees them (its networks,
    /// volumes and images left empty): what a wait that polls container states needs.
    fn observe_containers(&self, project: &str) -> Result<Observed, BackendError> {
        let observed = self.observe(project)?;
        Ok(Observed {
            containers: observed.containers,
            ..Observed::default()
        })
    }
    /// Creates a network.
    fn create_network(&self, spec: &NetworkSpec) -> Result<(), BackendError>;
    /// Removes a network.
    fn remove_network(&self, name: &str) -> Result<(), BackendError>;
    /// Creates a volume.
    fn create_volume(&self, spec: &VolumeSpec) -> Result<(), BackendError>;
    /// Removes a volume.
    fn remove_volume(&self, name: &str) -> Result<(), BackendError>;
    /// Pulls an image; returns the image's id.
    fn pull_image(&self, image: &str) -> Result<String, BackendError>;
    /// Pushes an image to its registry; returns the pushed manifest's digest.
    fn push_image(&self, image: &str) -> Result<String, BackendError>;
    /// Removes an image (its tag; the image itself once nothing else uses it).
    fn remove_image(&self, image: &str) -> Result<(), BackendError>;
    /// Builds a service's image and tags it.
    fn build_image(&self, spec: &BuildSpec) -> Result<(), BackendError>;
    /// Creates a container (not started), with the anonymous volumes it carries over.
    fn create_container(&self, spec: &ContainerSpec) -> Result<(), BackendError>;
    /// Starts a container.
    fn start_container(&self, name: &str) -> Result<(), BackendError>;
    /// Runs a service's `pre_start` hooks to completion, in order; a hook that exits
    /// non-zero is the error (naming its index and code, as Compose does).
    fn run_pre_start(&self, spec: &PreStartSpec) -> Result<(), BackendError>;
    /// Stops a container: its stop signal, SIGKILL after `timeout` (the container's own stop
    /// timeout when `None`).
    fn stop_container(&self, name: &str, timeout: Option<Duration>) -> Result<(), BackendError>;
    /// Stops a container as [`Backend::stop_container`] does, then starts it again.
    fn restart_container(&self, name: &str, timeout: Option<Duration>) -> Result<(), BackendError>;
    /// Sends signal number `signal` to a container's main process.
    fn kill_container(&self, name: &str, signal: i32) -> Result<(), BackendError>;
    /// Freezes every process of a container.
    fn pause_container(&self, name: &str) -> Result<(), BackendError>;
    /// Thaws a paused container.
    fn unpause_container(&self, name: &str) -> Result<(), BackendError>;
    /// Removes a container, and its anonymous volumes when asked.
    fn remove_container(&self, name: &str, anonymous_volumes: bool) -> Result<(), BackendError>;
    /// Renames a container.
    fn rename_container(&self, from: &str, to: &str) -> Result<(), BackendError>;
    /// The current state and health of a container.
    fn container_status(&self, name: &str) -> Result<ContainerStatus, BackendError>;
}
