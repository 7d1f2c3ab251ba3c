//! What the node reports about a container, in the agent's own types: its summary (state,
//! health, networks, mounts, published ports) and a resource usage sample. The service encodes
//! them for the wire ([`crate::convert`]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use engine::cgroups::Stats;
use engine::health::HealthStatus;
use engine::network::{NetworkRecord, PortMapping};
use engine::spec::{ContainerSpec, Mount};
use engine::{ContainerState, StateRecord};

use super::meta::Meta;

/// One container as listed and inspected.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSummary {
    /// The container id.
    pub id: String,
    /// The unique name.
    pub name: String,
    /// The command line (empty when the spec cannot be read).
    pub command: Vec<String>,
    /// The state, with the exit code once exited.
    pub state: ContainerState,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_at: u64,
    /// Last start, nanoseconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Last exit, nanoseconds since the Unix epoch.
    pub finished_at: Option<u64>,
    /// Host pid of the container's init, while it runs.
    pub pid: Option<i32>,
    /// The root filesystem directory.
    pub rootfs: Option<PathBuf>,
    /// Removed once it has exited.
    pub auto_remove: bool,
    /// The health status; `None` without a healthcheck that runs (`Starting` until a probe
    /// has run).
    pub health: Option<HealthStatus>,
    /// The last probe's output (empty when none ran).
    pub health_output: String,
    /// Restarts by the restart policy.
    pub restart_count: u32,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// The image as the user named it (empty for a directory rootfs).
    pub image: String,
    /// The image id (empty for a directory rootfs).
    pub image_id: String,
    /// Published ports as bound (while attached).
    pub ports: Vec<PortMapping>,
    /// The networks it is configured for.
    pub networks: Vec<Endpoint>,
    /// Its mounts.
    pub mounts: Vec<Mount>,
    /// Bind propagation by mount target.
    pub bind_propagation: BTreeMap<PathBuf, String>,
}

/// One network of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The network's name (as configured when the network is gone).
    pub network: String,
    /// The network's id, when the network exists.
    pub network_id: Option<String>,
    /// Extra DNS names.
    pub aliases: Vec<String>,
    /// The container's interface on it, while attached.
    pub attached: Option<Attached>,
}

/// A container's interface on a network it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Its address.
    pub ipv4: Ipv4Addr,
    /// The network's prefix length.
    pub prefix_len: u8,
    /// Its MAC address.
    pub mac: String,
    /// The network's gateway.
    pub gateway: Ipv4Addr,
}

/// A resource usage sample of a live container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSample {
    /// The cgroup's counters.
    pub stats: Stats,
    /// When they were read, nanoseconds since the Unix epoch.
    pub read_at: u64,
}

impl ContainerSummary {
    /// The summary of a container from its record, its state, its spec (if it can be read)
    /// and the node's networks (its endpoints are looked up there).
    pub fn new(
        meta: &Meta,
        record: &StateRecord,
        spec: Option<&ContainerSpec>,
        networks: &[NetworkRecord],
    ) -> Self {
        let checked = spec.is_some_and(has_check);
        ContainerSummary {
            id: meta.id.clone(),
            name: meta.name.clone(),
            command: spec.map(|s| s.args.clone()).unwrap_or_default(),
            state: record.state,
            created_at: record.created_at,
            started_at: record.started_at,
            finished_at: record.finished_at,
            pid: record.pid.filter(|_| record.state.is_alive()),
            rootfs: spec.map(|s| s.rootfs.clone()),
            auto_remove: meta.auto_remove,
            health: checked.then(|| {
                record
                    .health
                    .as_ref()
                    .map_or(HealthStatus::Starting, |h| h.status)
            }),
            health_output: record
                .health
                .as_ref()
                .and_then(|h| h.log.last())
                .map(|probe| probe.output.clone())
                .unwrap_or_default(),
            restart_count: record.restart.restart_count,
            labels: meta.labels.clone(),
            image: meta.image.clone(),
            image_id: meta.image_id.clone(),
            ports: networks
                .iter()
                .filter_map(|n| n.endpoints.get(&meta.id))
                .flat_map(|e| e.ports.iter().cloned())
                .collect(),
            networks: endpoints(meta, networks),
            mounts: spec.map(|s| s.mounts.clone()).unwrap_or_default(),
            bind_propagation: spec.map(|s| s.bind_propagation.clone()).unwrap_or_default(),
        }
    }

    /// Whether the container's processes run (running or paused).
    pub fn runs(&self) -> bool {
        matches!(self.state, ContainerState::Running | ContainerState::Paused)
    }
}

/// The container's endpoints; a network it is configured for but not attached to (it is not
/// running) is listed without an interface.
fn endpoints(meta: &Meta, networks: &[NetworkRecord]) -> Vec<Endpoint> {
    meta.networks
        .iter()
        .map(|plan| {
            let net = networks.iter().find(|n| {
                n.name == plan.network || n.id == plan.network || n.id.starts_with(&plan.network)
            });
            let attached = net.and_then(|n| {
                n.endpoints.get(&meta.id).map(|e| Attached {
                    ipv4: e.ipv4,
                    prefix_len: n.subnet.prefix_len(),
                    mac: e.mac.clone(),
                    gateway: n.gateway,
                })
            });
            Endpoint {
                network: net.map_or_else(|| plan.network.clone(), |n| n.name.clone()),
                network_id: net.map(|n| n.id.clone()),
                aliases: plan.aliases.clone(),
                attached,
            }
        })
        .collect()
}

/// Whether the spec has a healthcheck that runs.
pub(crate) fn has_check(spec: &ContainerSpec) -> bool {
    spec.healthcheck
        .as_ref()
        .is_some_and(|h| h.test.argv().is_some())
}
