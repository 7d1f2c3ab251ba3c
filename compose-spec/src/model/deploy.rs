//! `deploy`: replicas, resources, restart, placement and rolling-update settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::bytes::{self, ByteSize};
use crate::model::device::DeviceRequest;
use crate::model::duration::Duration;
use crate::model::lists;
use crate::model::scalar::{self, Extensions};

string_enum! {
    /// How many tasks a service runs.
    pub enum DeployMode ("deploy mode") {
        /// `replicas` tasks (the default).
        Replicated = "replicated",
        /// One task per node.
        Global = "global",
        /// `replicas` tasks run to completion.
        ReplicatedJob = "replicated-job",
        /// One task per node run to completion.
        GlobalJob = "global-job",
    }
}

string_enum! {
    /// How clients reach a service's tasks.
    pub enum EndpointMode ("endpoint mode") {
        /// A virtual IP in front of the tasks (the default).
        Vip = "vip",
        /// DNS round-robin over the task IPs.
        Dnsrr = "dnsrr",
    }
}

string_enum! {
    /// When a task is restarted.
    pub enum RestartCondition ("restart condition") {
        /// Never.
        None = "none",
        /// After a non-zero exit.
        OnFailure = "on-failure",
        /// Always (the default).
        Any = "any",
    }
}

string_enum! {
    /// What a failed update does.
    pub enum UpdateFailureAction ("failure action") {
        /// Keep updating.
        Continue = "continue",
        /// Roll back to the previous version.
        Rollback = "rollback",
        /// Pause the update.
        Pause = "pause",
    }
}

string_enum! {
    /// Order of operations during an update.
    pub enum UpdateOrder ("update order") {
        /// Start the new task before stopping the old one.
        StartFirst = "start-first",
        /// Stop the old task before starting the new one (the default).
        StopFirst = "stop-first",
    }
}

/// The `deploy` section of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deploy {
    /// Replicated, global or a job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<DeployMode>,
    /// VIP or DNS round-robin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<EndpointMode>,
    /// Number of tasks.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub replicas: Option<u64>,
    /// Labels of the service (not of its containers).
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// How rollbacks proceed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    /// How updates proceed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    /// Limits and reservations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// When tasks are restarted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicyConfig>,
    /// Where tasks may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Rolling update or rollback settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// Tasks updated at once (0: all).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub parallelism: Option<u64>,
    /// Wait between groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// What a failure does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<UpdateFailureAction>,
    /// How long each task is watched for failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    /// Tolerated failure ratio.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_failure_ratio: Option<f64>,
    /// Start-first or stop-first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<UpdateOrder>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Resource limits and reservations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Upper bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceLimits>,
    /// Guaranteed amounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ResourceReservations>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Resource upper bounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceLimits {
    /// CPUs (fractional).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpus: Option<f64>,
    /// Memory (written as a string of bytes, the only form the schema allows here).
    #[serde(
        serialize_with = "bytes::serialize_opt_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<ByteSize>,
    /// Process count.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub pids: Option<i64>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Guaranteed resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceReservations {
    /// CPUs (fractional).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpus: Option<f64>,
    /// Memory (written as a string of bytes, the only form the schema allows here).
    #[serde(
        serialize_with = "bytes::serialize_opt_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<ByteSize>,
    /// Node-specific resources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub generic_resources: Vec<GenericResource>,
    /// Devices (GPUs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRequest>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// A generic resource (`discrete_resource_spec: {kind, value}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenericResource {
    /// The discrete resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discrete_resource_spec: Option<DiscreteResourceSpec>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// A count of a named node resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiscreteResourceSpec {
    /// The resource kind (`gpu`, `ssd`).
    #[serde(deserialize_with = "scalar::scalar")]
    pub kind: String,
    /// How many.
    #[serde(deserialize_with = "scalar::scalar")]
    pub value: i64,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// When and how often tasks are restarted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicyConfig {
    /// Restart condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<RestartCondition>,
    /// Wait between restarts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Attempts before giving up (within `window`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_attempts: Option<u64>,
    /// Window used to count attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Where tasks may be placed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// Constraints such as `node.role == manager`.
    #[serde(
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub constraints: Vec<String>,
    /// Spread preferences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<PlacementPreference>,
    /// Maximum tasks of this service per node.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_replicas_per_node: Option<u64>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// A placement preference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementPreference {
    /// Spread tasks evenly over the values of this node label (`node.labels.zone`).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub spread: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_round_trips() {
        let d: Deploy = serde_json::from_value(json!({
            "mode": "replicated", "endpoint_mode": "dnsrr", "replicas": "3", "labels": ["a=b"],
            "rollback_config": {"parallelism": 1, "delay": "5s", "failure_action": "pause",
                                "monitor": "1m", "max_failure_ratio": "0.1", "order": "stop-first"},
            "update_config": {"parallelism": 2, "delay": "10s", "failure_action": "rollback",
                              "monitor": "30s", "max_failure_ratio": 0.3, "order": "start-first", "x-u": 1},
            "resources": {
                "limits": {"cpus": "0.5", "memory": "512m", "pids": 100},
                "reservations": {"cpus": 0.25, "memory": "128m",
                                 "generic_resources": [{"discrete_resource_spec": {"kind": "gpu", "value": 2}}],
                                 "devices": [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]}
            },
            "restart_policy": {"condition": "on-failure", "delay": "5s", "max_attempts": 3, "window": "120s"},
            "placement": {"constraints": ["node.role == manager"], "preferences": [{"spread": "node.labels.zone"}],
                          "max_replicas_per_node": 1},
            "x-d": true
        }))
        .unwrap();
        assert_eq!(d.replicas, Some(3));
        assert_eq!(d.mode, Some(DeployMode::Replicated));
        let update = d.update_config.as_ref().unwrap();
        assert_eq!(update.order, Some(UpdateOrder::StartFirst));
        assert_eq!(update.delay, Some(Duration::from_secs(10)));
        let limits = d
            .resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .unwrap();
        assert_eq!(limits.cpus, Some(0.5));
        assert_eq!(limits.memory, Some(ByteSize(512 << 20)));
        let policy = d.restart_policy.as_ref().unwrap();
        assert_eq!(policy.condition, Some(RestartCondition::OnFailure));
        assert_eq!(policy.window, Some(Duration::from_secs(120)));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["restart_policy"]["window"], json!("2m0s"));
        // The schema only allows a string for memory.
        assert_eq!(json["resources"]["limits"]["memory"], json!("536870912"));
        assert_eq!(serde_json::from_value::<Deploy>(json).unwrap(), d);
    }

    #[test]
    fn every_enum_value() {
        for m in DeployMode::ALL {
            assert_eq!(m.as_str().parse::<DeployMode>(), Ok(*m));
        }
        for m in EndpointMode::ALL {
            assert_eq!(m.as_str().parse::<EndpointMode>(), Ok(*m));
        }
        for c in RestartCondition::ALL {
            assert_eq!(c.as_str().parse::<RestartCondition>(), Ok(*c));
        }
        for a in UpdateFailureAction::ALL {
            assert_eq!(a.as_str().parse::<UpdateFailureAction>(), Ok(*a));
        }
        for o in UpdateOrder::ALL {
            assert_eq!(o.as_str().parse::<UpdateOrder>(), Ok(*o));
        }
        let err = serde_json::from_value::<Deploy>(json!({"mode": "daemon"}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid deploy mode \"daemon\": expected one of replicated, global, replicated-job, global-job"
        );
    }
}
