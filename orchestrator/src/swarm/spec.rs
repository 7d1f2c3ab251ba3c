//! What a service asks for: the container of each task, where tasks may go, how they are
//! restarted, and how many run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::swarm::constraint::{Constraint, Spread};
use crate::swarm::container::{Healthcheck, Mount, PublishedPort, Ulimit};
use crate::swarm::endpoint::EndpointMode;
use crate::swarm::files::FileReference;
use crate::swarm::mode::Mode;
use crate::swarm::node::Node;
use crate::swarm::resources::ResourceRequirements;
use crate::swarm::restart::RestartPolicy;
use crate::swarm::update_config::UpdateConfig;

/// Where a service's tasks may go and how they spread.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// Every one must hold on the node.
    pub constraints: Vec<Constraint>,
    /// Spread over label values, outermost first (nested, as Swarm does).
    pub preferences: Vec<Spread>,
    /// Tasks of the service on one node at most; unlimited when absent.
    pub max_replicas_per_node: Option<u64>,
}

impl Placement {
    /// The first constraint `node` does not meet.
    pub fn unmet_constraint(&self, node: &Node) -> Option<&Constraint> {
        self.constraints.iter().find(|c| !c.matches(node))
    }
}

/// A network a service's tasks join (`--network name=web,alias=front`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NetworkAttachmentConfig {
    /// The network's name in the cluster.
    pub target: String,
    /// Extra DNS names of the service's tasks on that network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// The desired state of a service's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSpec {
    /// Image reference (pinned to its manifest digest by the CLI that writes the spec, when
    /// that node's agent holds the image).
    pub image: String,
    /// Overrides the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's command: the arguments after the entrypoint.
    pub command: Option<Vec<String>>,
    /// Environment, `NAME` → value.
    pub env: BTreeMap<String, String>,
    /// User (`name`, `uid`, `uid:gid`).
    pub user: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// Container host name.
    pub hostname: Option<String>,
    /// Labels of the service itself.
    pub labels: BTreeMap<String, String>,
    /// Labels of its containers.
    pub container_labels: BTreeMap<String, String>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// Healthcheck overriding the image's.
    pub healthcheck: Option<Healthcheck>,
    /// Signal that stops the container (`SIGTERM` when absent).
    pub stop_signal: Option<String>,
    /// Time between the stop signal and SIGKILL (10 s when absent).
    pub stop_grace_period: Option<Duration>,
    /// Run an init process as PID 1.
    pub init: Option<bool>,
    /// Root filesystem mounted read-only.
    pub read_only: bool,
    /// Capabilities added to the default set.
    pub cap_add: Vec<String>,
    /// Capabilities dropped from the default set.
    pub cap_drop: Vec<String>,
    /// Namespaced kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits of the processes.
    pub ulimits: Vec<Ulimit>,
    /// Limits and reservations.
    pub resources: ResourceRequirements,
    /// Published ports.
    pub ports: Vec<PublishedPort>,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// Placement.
    pub placement: Placement,
    /// How many tasks.
    pub mode: Mode,
    /// A node that has heard from no manager for this long stops its tasks of the service
    /// (`--stop-on-disconnect`); absent, it keeps them running however long it is cut off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_on_disconnect: Option<Duration>,
    /// How tasks are replaced when the spec changes.
    pub update_config: UpdateConfig,
    /// How tasks are replaced when the spec goes back to the previous one.
    pub rollback_config: UpdateConfig,
    /// Cluster networks the tasks join, each once (absent from older specs: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachmentConfig>,
    /// How the service is reached on its networks (absent from older specs: `vip`).
    #[serde(skip_serializing_if = "EndpointMode::is_vip")]
    pub endpoint_mode: EndpointMode,
    /// Secrets the tasks get as files on a tmpfs (absent from older specs: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileReference>,
    /// Configs the tasks get as files (absent from older specs: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileReference>,
}

impl ServiceSpec {
    /// Whether tasks made from `self` and from `other` run the same container: the specs
    /// differ at most in the task count, the update and rollback knobs and the endpoint mode,
    /// which change no task (the mode changes what the names answer, not the containers).
    pub fn same_tasks(&self, other: &ServiceSpec) -> bool {
        let mut other = other.clone();
        other.mode = self.mode;
        other.update_config = self.update_config;
        other.rollback_config = self.rollback_config;
        other.endpoint_mode = self.endpoint_mode;
        other == *self
    }
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            image: String::new(),
            entrypoint: None,
            command: None,
            env: BTreeMap::new(),
            user: None,
            workdir: None,
            hostname: None,
            labels: BTreeMap::new(),
            container_labels: BTreeMap::new(),
            mounts: Vec::new(),
            healthcheck: None,
            stop_signal: None,
            stop_grace_period: None,
            init: None,
            read_only: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            sysctls: BTreeMap::new(),
            ulimits: Vec::new(),
            resources: ResourceRequirements::default(),
            ports: Vec::new(),
            restart_policy: RestartPolicy::default(),
            placement: Placement::default(),
            mode: Mode::Replicated { replicas: 1 },
            stop_on_disconnect: None,
            update_config: UpdateConfig::default(),
            rollback_config: UpdateConfig::default(),
            networks: Vec::new(),
            endpoint_mode: EndpointMode::Vip,
            secrets: Vec::new(),
            configs: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::tests::node;

    #[test]
    fn a_minimal_spec_reads_from_json_with_defaults() {
        let spec: ServiceSpec = serde_json::from_str(
            r#"{"image":"nginx","placement":{"constraints":["node.role==worker"]}}"#,
        )
        .unwrap();
        assert_eq!(spec.mode, Mode::Replicated { replicas: 1 });
        assert_eq!(spec.restart_policy, RestartPolicy::default());
        assert_eq!(
            spec.placement.constraints[0].to_string(),
            "node.role==worker"
        );
        let back: ServiceSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn stop_on_disconnect_is_absent_from_older_records_and_kept_when_set() {
        let old: ServiceSpec = serde_json::from_str(r#"{"image":"nginx"}"#).unwrap();
        assert_eq!(old.stop_on_disconnect, None);
        assert!(
            !serde_json::to_string(&old)
                .unwrap()
                .contains("stop_on_disconnect"),
            "an unset field leaves the record as it was"
        );
        let set = ServiceSpec {
            stop_on_disconnect: Some(Duration::from_secs(3)),
            ..old
        };
        let back: ServiceSpec =
            serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        assert_eq!(back.stop_on_disconnect, Some(Duration::from_secs(3)));
    }

    #[test]
    fn tasks_are_the_same_whatever_the_count_the_update_knobs_and_the_endpoint_mode() {
        let spec = ServiceSpec {
            image: "nginx".into(),
            ..ServiceSpec::default()
        };
        let mut other = spec.clone();
        other.mode = Mode::Replicated { replicas: 7 };
        other.update_config.parallelism = 3;
        other.rollback_config.delay = Duration::from_secs(2);
        other.endpoint_mode = EndpointMode::Dnsrr;
        assert!(spec.same_tasks(&other));
        other.env.insert("A".into(), "1".into());
        assert!(!spec.same_tasks(&other));
    }

    #[test]
    fn invalid_constraints_do_not_deserialize() {
        let err = serde_json::from_str::<ServiceSpec>(
            r#"{"image":"nginx","placement":{"constraints":["node.zone==a"]}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown key \"node.zone\""),
            "{err}"
        );
    }

    #[test]
    fn the_first_unmet_constraint_is_named() {
        let placement = Placement {
            constraints: vec![
                "node.role==worker".parse().unwrap(),
                "node.labels.zone==east".parse().unwrap(),
            ],
            ..Placement::default()
        };
        let n = node("n1");
        assert_eq!(
            placement.unmet_constraint(&n).map(ToString::to_string),
            Some("node.labels.zone==east".to_string())
        );
    }
}
