//! The observed state: what the backend reports about a project's containers, networks,
//! volumes and local images. Plain values, so the planner stays a pure function.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::compose::labels;

/// Everything the planner looks at, as observed at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Containers carrying the project's label (service and one-off containers).
    pub containers: Vec<ObservedContainer>,
    /// Networks, the project's and any external ones the project names.
    pub networks: Vec<ObservedNetwork>,
    /// Volumes, the project's and any external ones the project names.
    pub volumes: Vec<ObservedVolume>,
    /// Local images: reference (`redis:7`) → digest (`sha256:…`).
    pub images: BTreeMap<String, String>,
}

impl Observed {
    /// The network with this engine name.
    pub fn network(&self, name: &str) -> Option<&ObservedNetwork> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The volume with this engine name.
    pub fn volume(&self, name: &str) -> Option<&ObservedVolume> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// The containers of `project`, in name order.
    pub fn project_containers(
        &self,
        project: &str,
    ) -> impl Iterator<Item = &ObservedContainer> + use<'_> {
        let mut found: Vec<&ObservedContainer> = self
            .containers
            .iter()
            .filter(|c| c.project() == Some(project))
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found.into_iter()
    }
}

/// One container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedContainer {
    /// The engine's id.
    pub id: String,
    /// The container name.
    pub name: String,
    /// Labels, including Compose's identity labels.
    pub labels: BTreeMap<String, String>,
    /// The image reference it was created from.
    pub image: String,
    /// The digest of that image when the container was created.
    pub image_digest: Option<String>,
    /// Run state and health.
    pub status: ContainerStatus,
    /// Engine names of the networks it is attached to.
    pub networks: Vec<String>,
    /// Its mounts.
    pub mounts: Vec<Mount>,
}

impl ObservedContainer {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The project label.
    pub fn project(&self) -> Option<&str> {
        self.label(labels::PROJECT)
    }

    /// The service label.
    pub fn service(&self) -> Option<&str> {
        self.label(labels::SERVICE)
    }

    /// The container number label, when it is a number.
    pub fn number(&self) -> Option<u32> {
        self.label(labels::CONTAINER_NUMBER)?.parse().ok()
    }

    /// Whether the container was made by `run`.
    pub fn is_oneoff(&self) -> bool {
        self.label(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case(labels::TRUE))
    }

    /// The config hash label.
    pub fn config_hash(&self) -> Option<&str> {
        self.label(labels::CONFIG_HASH)
    }

    /// The recorded service definition ([`labels::SERVICE_CONFIG`]), when present and valid.
    pub fn recorded_config(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.label(labels::SERVICE_CONFIG)?).ok()
    }

    /// The anonymous volumes mounted, as (container path, volume name).
    pub fn anonymous_volumes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.mounts.iter().filter_map(|m| match &m.source {
            MountSource::Volume {
                name,
                anonymous: true,
            } => Some((m.destination.as_str(), name.as_str())),
            _ => None,
        })
    }
}

/// The run state of a container, with its health when it has a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerStatus {
    /// Created, running, exited, …
    pub state: ContainerState,
    /// The health check's verdict, when the container has one.
    pub health: Option<Health>,
}

impl ContainerStatus {
    /// A status without health check.
    pub fn new(state: ContainerState) -> Self {
        Self {
            state,
            health: None,
        }
    }
}

/// The lifecycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Its process ended with this exit code.
    Exited {
        /// The exit code.
        code: i32,
    },
    /// Failed to be removed or otherwise broken.
    Dead,
}

impl ContainerState {
    /// Whether the container's process is alive (running, paused or restarting): `up` leaves
    /// such a container alone unless it must be recreated.
    pub fn is_up(self) -> bool {
        matches!(self, Self::Running | Self::Paused | Self::Restarting)
    }

    /// Whether the container is stopped (created and never started, or exited): what `start`
    /// starts and `rm` removes.
    pub fn is_stopped(self) -> bool {
        matches!(self, Self::Created | Self::Exited { .. })
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created => f.write_str("created"),
            Self::Running => f.write_str("running"),
            Self::Paused => f.write_str("paused"),
            Self::Restarting => f.write_str("restarting"),
            Self::Exited { code } => write!(f, "exited ({code})"),
            Self::Dead => f.write_str("dead"),
        }
    }
}

/// A health check's verdict and the output of its last probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Starting, healthy or unhealthy.
    pub status: HealthStatus,
    /// The output of the last probe (empty when none ran yet).
    pub last_output: String,
}

/// The verdict of a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Within the start period, or no probe has decided yet.
    Starting,
    /// The last probes succeeded.
    Healthy,
    /// Too many probes failed in a row.
    Unhealthy,
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        })
    }
}

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The path inside the container.
    pub destination: String,
    /// What is mounted there.
    pub source: MountSource,
}

/// What a mount mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MountSource {
    /// A volume; `anonymous` when the engine made it up for this container.
    Volume {
        /// The volume's engine name.
        name: String,
        /// Created for this container, without a name in the project.
        anonymous: bool,
    },
    /// A host path.
    Bind {
        /// The host path.
        path: String,
    },
    /// A tmpfs.
    Tmpfs,
}

/// One network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedNetwork {
    /// The engine's id.
    pub id: String,
    /// The engine name (`<project>_<key>` for project networks).
    pub name: String,
    /// Labels, with [`labels::PROJECT`] and [`labels::NETWORK`] on project networks.
    pub labels: BTreeMap<String, String>,
}

/// One volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedVolume {
    /// The engine name (`<project>_<key>` for project volumes).
    pub name: String,
    /// Labels, with [`labels::PROJECT`] and [`labels::VOLUME`] on project volumes.
    pub labels: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(labels: &[(&str, &str)]) -> ObservedContainer {
        ObservedContainer {
            id: "c1".into(),
            name: "demo-web-1".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            image: "nginx".into(),
            image_digest: None,
            status: ContainerStatus::new(ContainerState::Running),
            networks: vec![],
            mounts: vec![
                Mount {
                    destination: "/cache".into(),
                    source: MountSource::Volume {
                        name: "0a1b".into(),
                        anonymous: true,
                    },
                },
                Mount {
                    destination: "/data".into(),
                    source: MountSource::Volume {
                        name: "demo_data".into(),
                        anonymous: false,
                    },
                },
            ],
        }
    }

    #[test]
    fn identity_comes_from_labels() {
        let c = container(&[
            (labels::PROJECT, "demo"),
            (labels::SERVICE, "web"),
            (labels::CONTAINER_NUMBER, "2"),
            (labels::ONEOFF, "True"),
            (labels::SERVICE_CONFIG, r#"{"image":"nginx"}"#),
        ]);
        assert_eq!(c.project(), Some("demo"));
        assert_eq!(c.service(), Some("web"));
        assert_eq!(c.number(), Some(2));
        assert!(c.is_oneoff());
        assert_eq!(
            c.recorded_config(),
            Some(serde_json::json!({"image": "nginx"}))
        );
        assert_eq!(
            c.anonymous_volumes().collect::<Vec<_>>(),
            [("/cache", "0a1b")]
        );
    }

    #[test]
    fn missing_or_bad_labels_read_as_absent() {
        let c = container(&[
            (labels::CONTAINER_NUMBER, "x"),
            (labels::SERVICE_CONFIG, "{"),
        ]);
        assert_eq!(c.number(), None);
        assert!(!c.is_oneoff());
        assert_eq!(c.recorded_config(), None);
    }

    #[test]
    fn states_read_like_docker() {
        assert_eq!(
            ContainerState::Exited { code: 137 }.to_string(),
            "exited (137)"
        );
        assert!(ContainerState::Paused.is_up());
        assert!(!ContainerState::Created.is_up());
    }
}
