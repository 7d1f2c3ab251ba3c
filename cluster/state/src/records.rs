//! Typed records of the cluster store: nodes, services, tasks, networks, volumes, secrets and
//! configs, each carrying the same versioned metadata.

use std::collections::BTreeMap;
use std::fmt;

use orchestrator::swarm;
use serde::{Deserialize, Serialize};

/// The kind of a record; one table of the store per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A machine in the cluster.
    Node,
    /// A replicated or global service.
    Service,
    /// One scheduled instance of a service.
    Task,
    /// An overlay or bridge network.
    Network,
    /// A named volume.
    Volume,
    /// A secret (its payload is opaque bytes).
    Secret,
    /// A config file (its payload is opaque bytes).
    Config,
    /// The cluster-wide settings (one record): CA and join secrets.
    Cluster,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 8] = [
        Kind::Node,
        Kind::Service,
        Kind::Task,
        Kind::Network,
        Kind::Volume,
        Kind::Secret,
        Kind::Config,
        Kind::Cluster,
    ];

    /// The lower-case name of the kind, as used in keys and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Node => "node",
            Kind::Service => "service",
            Kind::Task => "task",
            Kind::Network => "network",
            Kind::Volume => "volume",
            Kind::Secret => "secret",
            Kind::Config => "config",
            Kind::Cluster => "cluster",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata every record carries. `version`, `created_at_ms` and `updated_at_ms` are set by
/// the apply step from the committed entry, never by the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Meta {
    /// Identifier, chosen by the leader when it builds the proposal.
    pub id: String,
    /// Raft index of the entry that last wrote this record.
    pub version: u64,
    /// Leader-stamped time of creation, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// Leader-stamped time of the last update, milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
}

/// Role of a node in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs tasks only.
    Worker,
    /// Takes part in Raft and may lead.
    Manager,
}

/// Scheduling availability of a node, set by the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// New tasks may be scheduled here.
    Active,
    /// No new tasks; running tasks stay.
    Pause,
    /// No tasks; running tasks are moved away.
    Drain,
}

/// Liveness of a node as seen by the managers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Heartbeats arrive.
    Ready,
    /// Heartbeats stopped.
    Down,
}

/// A machine in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Record metadata.
    pub meta: Meta,
    /// Host name reported by the node.
    pub hostname: String,
    /// Address other nodes reach it at.
    pub addr: String,
    /// Worker or manager.
    pub role: NodeRole,
    /// Raft id when the node is a manager; raft ids are never reused.
    pub raft_id: Option<u64>,
    /// Operator-set availability.
    pub availability: Availability,
    /// Observed liveness.
    pub state: NodeState,
    /// The role an operator asked for, until the node has taken it (`node promote` sets
    /// `manager`; the node's daemon completes the change). Absent from older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_role: Option<NodeRole>,
    /// Leader-stamped time of the node's last demotion, milliseconds since the Unix epoch:
    /// the manager certificates it was issued before then are revoked. Absent from older
    /// records and from nodes never demoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demoted_at_ms: Option<u64>,
    /// Operating system and architecture the node reported.
    #[serde(default)]
    pub platform: swarm::Platform,
    /// CPU and memory the node reported as available to tasks.
    #[serde(default)]
    pub resources: swarm::Resources,
}

impl Node {
    /// The node as the swarm logic sees it (its labels are the record's labels).
    pub fn to_swarm(&self) -> swarm::Node {
        swarm::Node {
            id: swarm::NodeId(self.meta.id.clone()),
            hostname: self.hostname.clone(),
            role: match self.role {
                NodeRole::Worker => swarm::NodeRole::Worker,
                NodeRole::Manager => swarm::NodeRole::Manager,
            },
            labels: self.meta.labels.clone(),
            platform: self.platform.clone(),
            availability: match self.availability {
                Availability::Active => swarm::Availability::Active,
                Availability::Pause => swarm::Availability::Pause,
                Availability::Drain => swarm::Availability::Drain,
            },
            status: match self.state {
                NodeState::Ready => swarm::NodeStatus::Ready,
                NodeState::Down => swarm::NodeStatus::Down,
            },
            resources: self.resources,
        }
    }
}

/// A service: its swarm definition (spec, versions, update status) and the restart history
/// the control loop keeps for its slots (in the store, so that a new leader continues it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Record metadata (`meta.id` is the service's id).
    pub meta: Meta,
    /// The service.
    pub service: swarm::Service,
    /// Recent restarts per slot.
    #[serde(default)]
    pub restarts: swarm::RestartHistory,
    /// How many times an update was forced (`service update --force`); each forced update
    /// also gives the service a new spec version, so every task is replaced.
    #[serde(default)]
    pub force_update: u64,
    /// Credentials for the service's image registry (`--with-registry-auth`): sealed at rest,
    /// handed only to the nodes that run its tasks, never shown to clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<crate::StoredAuth>,
    /// Whether the service has registry credentials (what clients see of them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_registry_auth: bool,
    /// The service's virtual addresses, Docker's `Endpoint` (allocated by the leader).
    #[serde(
        default,
        rename = "Endpoint",
        skip_serializing_if = "ServiceEndpoint::is_empty"
    )]
    pub endpoint: ServiceEndpoint,
}

/// How a service is reached: its virtual addresses, one per overlay it joins in `vip` mode
/// (Docker's `Endpoint` object, in its shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoint {
    /// One virtual address per network.
    #[serde(rename = "VirtualIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_ips: Vec<VirtualIp>,
    /// The published ports, with the port the leader chose for an ingress port published
    /// without one.
    #[serde(rename = "Ports", default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

/// A published port of a service as allocated (Docker's `Endpoint.Ports` entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EndpointPort {
    /// `tcp`, `udp` or `sctp`.
    #[serde(rename = "Protocol")]
    pub protocol: String,
    /// The port inside the tasks.
    #[serde(rename = "TargetPort")]
    pub target_port: u16,
    /// The port outside: on every node (`ingress`) or on the task's node (`host`; absent
    /// when the node chooses it).
    #[serde(
        rename = "PublishedPort",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub published_port: Option<u16>,
    /// `ingress` or `host`.
    #[serde(rename = "PublishMode")]
    pub publish_mode: String,
}

impl EndpointPort {
    /// Published through the routing mesh.
    pub fn is_ingress(&self) -> bool {
        self.publish_mode == "ingress"
    }
}

impl ServiceEndpoint {
    /// No virtual address and no published port.
    pub fn is_empty(&self) -> bool {
        self.virtual_ips.is_empty() && self.ports.is_empty()
    }

    /// The virtual address on network `network_id`, if the service holds one there.
    pub fn vip_on(&self, network_id: &str) -> Option<std::net::Ipv4Addr> {
        self.virtual_ips
            .iter()
            .find(|v| v.network_id == network_id)
            .and_then(VirtualIp::ip)
    }
}

/// A service's virtual address on one network.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VirtualIp {
    /// The network's record id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// The address with the network's prefix length, `10.32.0.2/20`.
    #[serde(rename = "Addr")]
    pub addr: String,
}

impl VirtualIp {
    /// The address without its prefix length (`None` if the record is malformed).
    pub fn ip(&self) -> Option<std::net::Ipv4Addr> {
        self.addr.split('/').next().and_then(|a| a.parse().ok())
    }
}

impl Service {
    /// The record of a new service (its id becomes the record's id).
    pub fn new(service: swarm::Service) -> Self {
        Service {
            meta: Meta {
                id: service.id.as_str().to_owned(),
                ..Meta::default()
            },
            service,
            restarts: swarm::RestartHistory::default(),
            force_update: 0,
            registry_auth: None,
            with_registry_auth: false,
            endpoint: ServiceEndpoint::default(),
        }
    }

    /// The record as clients see it: the credentials left out (the marker stays).
    pub fn shown(&self) -> Service {
        Service {
            registry_auth: None,
            ..self.clone()
        }
    }
}

/// One task of a service: a single run of its spec on one node, never reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Record metadata (`meta.id` is the task's id).
    pub meta: Meta,
    /// The task.
    pub task: swarm::Task,
    /// Its addresses on the networks of its spec, allocated when it was assigned to a node.
    /// Absent from older records and from tasks on no network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<TaskAttachment>,
    /// Raft index of the entry that last changed the managers' part of the record (all but
    /// the status its node reports): set by the store when it applies a write. 0 in records
    /// written before it was kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub decided: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Task {
    /// Whether `self` and `other` differ only in the status their node reports (and their
    /// record metadata).
    pub fn same_decisions(&self, other: &Task) -> bool {
        let swarm::Task {
            id,
            service_id,
            slot,
            node,
            spec,
            spec_version,
            desired_state,
            shutdown_reason,
            status: _,
            created_at,
            replaces,
            not_before,
            preferred_node,
        } = &self.task;
        *id == other.task.id
            && *service_id == other.task.service_id
            && *slot == other.task.slot
            && *node == other.task.node
            && *spec_version == other.task.spec_version
            && *desired_state == other.task.desired_state
            && *created_at == other.task.created_at
            && *replaces == other.task.replaces
            && *not_before == other.task.not_before
            && *shutdown_reason == other.task.shutdown_reason
            && *preferred_node == other.task.preferred_node
            && self.networks == other.networks
            && *spec == other.task.spec
    }

    /// The record of a new task (its id becomes the record's id).
    pub fn new(task: swarm::Task) -> Self {
        Task {
            meta: Meta {
                id: task.id.as_str().to_owned(),
                ..Meta::default()
            },
            task,
            networks: Vec::new(),
            decided: 0,
        }
    }
}

/// A network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Record metadata.
    pub meta: Meta,
    /// Unique network name.
    pub name: String,
    /// Driver name (`overlay`, `bridge`).
    pub driver: String,
    /// Subnet in CIDR notation (given, or allocated by the managers from their pool).
    pub subnet: Option<String>,
    /// The gateway address inside the subnet (its first host address when not given).
    /// Absent from older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The VXLAN identifier the managers allocated (overlays; 0 on older records).
    #[serde(default)]
    pub vni: u32,
    /// Standalone containers may join the overlay, not only the tasks of services.
    #[serde(default)]
    pub attachable: bool,
    /// No way out of the network: no outbound NAT, no default route.
    #[serde(default)]
    pub internal: bool,
    /// The routing mesh's network (`ingress`), with each node's own address on it; absent on
    /// every other network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressNodes>,
    /// Traffic between nodes is encrypted with IPsec ESP (`--opt encrypted`): the keys the
    /// leader generates and rotates; absent on an unencrypted network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<NetworkEncryption>,
    /// The standalone containers joined to an attachable overlay (`container run --network`
    /// on a node), by attachment id: each holds an address of the network like a task.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attachments: std::collections::BTreeMap<String, NetworkAttachment>,
}

/// A standalone container's place on an attachable overlay: the address the managers gave it
/// when its node asked, kept until its node withdraws it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The node the container runs on.
    pub node: String,
    /// The container's name (its DNS name on the network, as Docker answers it).
    pub container: String,
    /// Its other DNS names on the network (`--network-alias`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Its IPv4 address on the network.
    pub ip: std::net::Ipv4Addr,
    /// When the managers gave it, milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// The keys of an encrypted overlay. The leader seals each secret before proposing the
/// record (see [`crate::seal`]), as it does secrets' payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEncryption {
    /// Seconds between key rotations; 0 means the default (12 hours).
    #[serde(default)]
    pub rotation_secs: u64,
    /// The keys, oldest first: one primary (sent with), others accepted only (a new key
    /// before it is promoted, an old one during its grace period).
    #[serde(default)]
    pub keys: Vec<NetworkKey>,
}

/// One key of an encrypted overlay. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkKey {
    /// Unique in the network, growing with each rotation.
    pub id: u32,
    /// The 32 secret bytes in hex, or sealed (`sealed:…`) in the store.
    pub secret: String,
    /// When the leader generated it, milliseconds since the epoch.
    pub created_ms: u64,
    /// Since when nodes send with it, milliseconds since the epoch; absent before it is
    /// promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_since_ms: Option<u64>,
    /// Whether it is the key nodes send with.
    #[serde(default)]
    pub primary: bool,
}

impl std::fmt::Debug for NetworkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkKey")
            .field("id", &self.id)
            .field("created_ms", &self.created_ms)
            .field("primary_since_ms", &self.primary_since_ms)
            .field("primary", &self.primary)
            .finish_non_exhaustive()
    }
}

/// The nodes' addresses on the ingress network, allocated by the leader: each node's end of
/// the routing mesh (its ingress bridge holds it), which other nodes reach like a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressNodes {
    /// Node id → its address on the network.
    #[serde(default)]
    pub nodes: std::collections::BTreeMap<String, std::net::Ipv4Addr>,
}

/// A task's place on one network: the address and MAC address the leader allocated to it
/// when it assigned the task (the store is the address manager: an address is taken while a
/// task record holds it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskAttachment {
    /// The network's record id.
    pub network_id: String,
    /// The network's name.
    pub network: String,
    /// The task's IPv4 address on it.
    pub ip: std::net::Ipv4Addr,
    /// The MAC address of the task's interface on it, `02:42:` and the address (lower case).
    pub mac: String,
    /// Extra DNS names of the task on this network (the service's aliases there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Record metadata.
    pub meta: Meta,
    /// Unique volume name.
    pub name: String,
    /// Driver name.
    pub driver: String,
}

/// A secret or config payload with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// Record metadata.
    pub meta: Meta,
    /// Unique name within its kind.
    pub name: String,
    /// Opaque payload.
    pub data: Vec<u8>,
}

/// Cluster-wide settings, replicated so that every manager can admit nodes: the root CA
/// (certificate and key) and the current join secret of each role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Record metadata (the id is always [`ClusterInfo::ID`]).
    pub meta: Meta,
    /// The root CA certificate, PEM.
    pub ca_cert_pem: String,
    /// The root CA private key, PEM.
    pub ca_key_pem: String,
    /// Secret of the worker join token.
    pub worker_secret: String,
    /// Secret of the manager join token.
    pub manager_secret: String,
    /// The raft id the next manager gets; raft ids are never reused.
    pub next_raft_id: u64,
    /// Validity of the node certificates the managers issue, in seconds; 0 for the default.
    #[serde(default)]
    pub cert_validity_secs: u64,
    /// Ids of the nodes removed from the cluster: their certificates are refused everywhere,
    /// and node ids are never reused. Absent from older records.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub removed_nodes: std::collections::BTreeSet<String>,
}

/// Validity of node certificates when the cluster sets none (90 days).
pub const DEFAULT_CERT_VALIDITY: std::time::Duration =
    std::time::Duration::from_secs(90 * 24 * 3600);

impl ClusterInfo {
    /// The id of the one cluster record.
    pub const ID: &'static str = "cluster";

    /// Validity of the node certificates issued now.
    pub fn cert_validity(&self) -> std::time::Duration {
        match self.cert_validity_secs {
            0 => DEFAULT_CERT_VALIDITY,
            secs => std::time::Duration::from_secs(secs),
        }
    }
}

/// Any record of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    /// A node.
    Node(Node),
    /// A service (boxed: a spec is large).
    Service(Box<Service>),
    /// A task (boxed: it carries its spec).
    Task(Box<Task>),
    /// A network.
    Network(Network),
    /// A volume.
    Volume(Volume),
    /// A secret.
    Secret(Blob),
    /// A config.
    Config(Blob),
    /// The cluster settings.
    Cluster(ClusterInfo),
}

impl Record {
    /// The kind of this record.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Node(_) => Kind::Node,
            Record::Service(_) => Kind::Service,
            Record::Task(_) => Kind::Task,
            Record::Network(_) => Kind::Network,
            Record::Volume(_) => Kind::Volume,
            Record::Secret(_) => Kind::Secret,
            Record::Config(_) => Kind::Config,
            Record::Cluster(_) => Kind::Cluster,
        }
    }

    /// The metadata of this record.
    pub fn meta(&self) -> &Meta {
        match self {
            Record::Node(r) => &r.meta,
            Record::Service(r) => &r.meta,
            Record::Task(r) => &r.meta,
            Record::Network(r) => &r.meta,
            Record::Volume(r) => &r.meta,
            Record::Secret(r) | Record::Config(r) => &r.meta,
            Record::Cluster(r) => &r.meta,
        }
    }

    /// Mutable metadata of this record.
    pub(crate) fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Record::Node(r) => &mut r.meta,
            Record::Service(r) => &mut r.meta,
            Record::Task(r) => &mut r.meta,
            Record::Network(r) => &mut r.meta,
            Record::Volume(r) => &mut r.meta,
            Record::Secret(r) | Record::Config(r) => &mut r.meta,
            Record::Cluster(r) => &mut r.meta,
        }
    }

    /// The unique user-visible name, for kinds that have one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Record::Service(r) => Some(&r.service.name),
            Record::Network(r) => Some(&r.name),
            Record::Volume(r) => Some(&r.name),
            Record::Secret(r) | Record::Config(r) => Some(&r.name),
            Record::Node(_) | Record::Task(_) | Record::Cluster(_) => None,
        }
    }

    /// The key of this record in the store.
    pub fn key(&self) -> RecordKey {
        RecordKey {
            kind: self.kind(),
            id: self.meta().id.clone(),
        }
    }
}

/// Where a record lives: its kind and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    /// Record kind.
    pub kind: Kind,
    /// Record id.
    pub id: String,
}

impl RecordKey {
    /// A key from its parts.
    pub fn new(kind: Kind, id: impl Into<String>) -> Self {
        RecordKey {
            kind,
            id: id.into(),
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.id)
    }
}
