//! The atomic actions of a plan: each is one backend call.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use compose_spec::model::{Build, DependsOnCondition, Network, PreStartHook, Service, Volume};
use serde::Serialize;

use crate::compose::files::ServiceFile;

/// One backend call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Create a network.
    CreateNetwork(NetworkSpec),
    /// Remove a network.
    RemoveNetwork {
        /// The network's engine name.
        name: String,
    },
    /// Create a volume.
    CreateVolume(VolumeSpec),
    /// Remove a volume.
    RemoveVolume {
        /// The volume's engine name.
        name: String,
    },
    /// Pull an image.
    PullImage {
        /// The image reference.
        image: String,
    },
    /// Build a service's image.
    BuildImage(Box<BuildSpec>),
    /// Create a container (it is not started).
    CreateContainer(Box<ContainerSpec>),
    /// Start a container.
    StartContainer {
        /// The container name.
        name: String,
    },
    /// Stop a container: its stop signal, then SIGKILL after the grace period.
    StopContainer {
        /// The container name.
        name: String,
        /// The grace period.
        timeout: Duration,
    },
    /// Remove a stopped container.
    RemoveContainer {
        /// The container name.
        name: String,
        /// Remove its anonymous volumes too.
        anonymous_volumes: bool,
    },
    /// Rename a container (to free its name for its replacement).
    RenameContainer {
        /// The current name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Wait until a dependency's containers meet a `depends_on` condition.
    AwaitDependency(AwaitSpec),
    /// Run a service's `pre_start` hooks, in order, each in a container of its own with the
    /// volumes and networks of one of the service's containers (created, not started).
    RunPreStart(Box<PreStartSpec>),
}

impl Action {
    /// The name of the object the action is about (container, network, volume or image; the
    /// dependency service for a wait).
    pub fn target(&self) -> &str {
        match self {
            Self::CreateNetwork(spec) => &spec.name,
            Self::CreateVolume(spec) => &spec.name,
            Self::CreateContainer(spec) => &spec.name,
            Self::RemoveNetwork { name }
            | Self::RemoveVolume { name }
            | Self::StartContainer { name }
            | Self::StopContainer { name, .. }
            | Self::RemoveContainer { name, .. } => name,
            Self::PullImage { image } => image,
            Self::BuildImage(spec) => &spec.image,
            Self::RenameContainer { from, .. } => from,
            Self::AwaitDependency(spec) => &spec.dependency,
            Self::RunPreStart(spec) => &spec.container.name,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateNetwork(spec) => write!(f, "create network {}", spec.name),
            Self::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Self::CreateVolume(spec) => write!(f, "create volume {}", spec.name),
            Self::RemoveVolume { name } => write!(f, "remove volume {name}"),
            Self::PullImage { image } => write!(f, "pull image {image}"),
            Self::BuildImage(spec) => {
                write!(f, "build image {} for service {}", spec.image, spec.service)?;
                if spec.no_cache {
                    f.write_str(" without cache")?;
                }
                Ok(())
            }
            Self::CreateContainer(spec) => {
                write!(f, "create container {}", spec.name)?;
                if !spec.carried_volumes.is_empty() {
                    let carried: Vec<String> = spec
                        .carried_volumes
                        .iter()
                        .map(|(path, volume)| format!("{volume}:{path}"))
                        .collect();
                    write!(f, " keeping anonymous volumes {}", carried.join(", "))?;
                }
                Ok(())
            }
            Self::StartContainer { name } => write!(f, "start container {name}"),
            Self::StopContainer { name, timeout } => {
                write!(f, "stop container {name} (grace {}s)", timeout.as_secs())
            }
            Self::RemoveContainer {
                name,
                anonymous_volumes,
            } => {
                write!(f, "remove container {name}")?;
                if *anonymous_volumes {
                    f.write_str(" with its anonymous volumes")?;
                }
                Ok(())
            }
            Self::RenameContainer { from, to } => write!(f, "rename container {from} to {to}"),
            Self::AwaitDependency(spec) => write!(
                f,
                "wait for {} {} ({}) before starting {}{}",
                spec.dependency,
                condition_text(spec.condition),
                spec.containers.join(", "),
                spec.dependent,
                if spec.required { "" } else { " (optional)" }
            ),
            Self::RunPreStart(spec) => write!(
                f,
                "run {} pre_start hook{} of service {} with the volumes of {}",
                spec.hooks.len(),
                if spec.hooks.len() == 1 { "" } else { "s" },
                spec.container.service,
                spec.container.name
            ),
        }
    }
}

/// How a condition reads in a sentence.
pub fn condition_text(condition: DependsOnCondition) -> &'static str {
    match condition {
        DependsOnCondition::ServiceStarted => "to start",
        DependsOnCondition::ServiceHealthy => "to be healthy",
        DependsOnCondition::ServiceCompletedSuccessfully => "to complete successfully",
    }
}

/// A network to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkSpec {
    /// The engine name.
    pub name: String,
    /// The key in the project.
    pub key: String,
    /// The definition.
    pub definition: Network,
    /// Labels, Compose's identity labels included.
    pub labels: BTreeMap<String, String>,
}

/// A volume to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeSpec {
    /// The engine name.
    pub name: String,
    /// The key in the project.
    pub key: String,
    /// The definition.
    pub definition: Volume,
    /// Labels, Compose's identity labels included.
    pub labels: BTreeMap<String, String>,
}

/// A container to create: the service definition plus everything resolved for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSpec {
    /// The container name.
    pub name: String,
    /// The project name.
    pub project: String,
    /// The service name.
    pub service: String,
    /// The container number.
    pub number: u32,
    /// The image reference.
    pub image: String,
    /// The service definition, canonical.
    pub definition: Service,
    /// Labels: the service's own plus Compose's identity labels and the recorded definition.
    pub labels: BTreeMap<String, String>,
    /// Networks joined: key in the project → engine name.
    pub networks: BTreeMap<String, String>,
    /// Named volumes mounted: key in the project → engine name.
    pub volumes: BTreeMap<String, String>,
    /// Anonymous volumes of the replaced container to mount again: container path → volume.
    pub carried_volumes: BTreeMap<String, String>,
    /// The service's secrets and configs to mount, or why they cannot be (the backend refuses
    /// to create the container then, with this message).
    pub files: Result<Vec<ServiceFile>, String>,
}

/// A service's `pre_start` hooks and the container they run beside: Compose runs them once
/// per service, before the first start while none of its containers runs, each as a
/// container of the hook's image (the service's when unset) with the service's environment
/// and that container's volumes and networks; the first that exits non-zero fails the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreStartSpec {
    /// The service's container (lowest number) whose volumes and networks the hooks get, as
    /// the plan creates it.
    pub container: Box<ContainerSpec>,
    /// The hooks, in order.
    pub hooks: Vec<PreStartHook>,
}

/// An image to build for a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildSpec {
    /// The service.
    pub service: String,
    /// The image name (`<project>-<service>` unless `image:` is set).
    pub image: String,
    /// Every tag to give it: the image name first, then `build.tags`.
    pub tags: Vec<String>,
    /// The service's `build:` section (its context absolute).
    pub definition: Build,
    /// Build arguments, command-line values over `build.args`.
    pub args: BTreeMap<String, String>,
    /// Build secrets: id → file.
    pub secrets: BTreeMap<String, String>,
    /// Use no cached step.
    pub no_cache: bool,
    /// Pull the base images again.
    pub pull: bool,
}

/// A `depends_on` condition to wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwaitSpec {
    /// The service about to start.
    pub dependent: String,
    /// The service it depends on.
    pub dependency: String,
    /// What to wait for.
    pub condition: DependsOnCondition,
    /// When false, a failure is only a warning.
    pub required: bool,
    /// The dependency's containers.
    pub containers: Vec<String>,
}
