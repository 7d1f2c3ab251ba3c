//! The `Backend`: the calls the executor makes to the world (the local agent in production, a
//! recording fake in tests). Synchronous: the executor calls it from several threads at once.

use std::time::Duration;

use crate::compose::action::{BuildSpec, ContainerSpec, NetworkSpec, VolumeSpec};
use crate::compose::error::BackendError;
use crate::compose::observed::{ContainerStatus, Observed};

/// What the compose executor needs from a container engine.
pub trait Backend: Sync {
    /// The observed state of a project: its containers (one-offs included), networks and
    /// volumes, every external network and volume it may name, and the local images.
    fn observe(&self, project: &str) -> Result<Observed, BackendError>;
    /// Creates a network.
    fn create_network(&self, spec: &NetworkSpec) -> Result<(), BackendError>;
    /// Removes a network.
    fn remove_network(&self, name: &str) -> Result<(), BackendError>;
    /// Creates a volume.
    fn create_volume(&self, spec: &VolumeSpec) -> Result<(), BackendError>;
    /// Removes a volume.
    fn remove_volume(&self, name: &str) -> Result<(), BackendError>;
    /// Pulls an image.
    fn pull_image(&self, image: &str) -> Result<(), BackendError>;
    /// Builds a service's image and tags it.
    fn build_image(&self, spec: &BuildSpec) -> Result<(), BackendError>;
    /// Creates a container (not started), with the anonymous volumes it carries over.
    fn create_container(&self, spec: &ContainerSpec) -> Result<(), BackendError>;
    /// Starts a container.
    fn start_container(&self, name: &str) -> Result<(), BackendError>;
    /// Stops a container: its stop signal, SIGKILL after `timeout`.
    fn stop_container(&self, name: &str, timeout: Duration) -> Result<(), BackendError>;
    /// Removes a container, and its anonymous volumes when asked.
    fn remove_container(&self, name: &str, anonymous_volumes: bool) -> Result<(), BackendError>;
    /// Renames a container.
    fn rename_container(&self, from: &str, to: &str) -> Result<(), BackendError>;
    /// The current state and health of a container.
    fn container_status(&self, name: &str) -> Result<ContainerStatus, BackendError>;
}
