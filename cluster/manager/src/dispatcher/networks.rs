//! The overlay side of assignments: for each task on cluster networks, what its node needs to
//! join it there — the network (VXLAN identifier, subnet, gateway), the task's own address,
//! MAC and DNS names, and the network's endpoints on other nodes (each remote task's address
//! and MAC with its node's underlay address), computed from the store's records.
//!
//! A remote task is an endpoint while the managers want it running, it has not stopped, and
//! its node is not down: scaling down, a stopped task or a lost node withdraws its entries
//! from every other node. Its DNS names come with it only once its node reports it running.
//!
//! Each network also carries the virtual addresses of the services on it (`vip` mode), each
//! with its names and its backends: the addresses of its tasks that are wanted running, run
//! (a task with a healthcheck runs only once healthy) and are on a live node. A task wanted
//! shut down leaves the backends in the same change that tells its node to stop it. In `vip`
//! mode the service's name and aliases belong to the virtual address; the tasks keep
//! `tasks.<service>`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::networks::alloc;
use cluster_state::{NodeState, Record, TaskAttachment};
use orchestrator::swarm::{NodeId, TaskId, TaskState};

/// An endpoint of a network on another node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RemoteEndpoint {
    /// The task's address on the network.
    pub ip: Ipv4Addr,
    /// Its interface's MAC address.
    pub mac: String,
    /// The underlay address of its node.
    pub node: Ipv4Addr,
    /// Its DNS names on the network (service name, `tasks.<service>`, aliases); none until it
    /// runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// A service's virtual address on a network, with where it leads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceVip {
    /// The virtual address.
    pub vip: Ipv4Addr,
    /// Its DNS names: the service's name and its aliases on the network.
    pub names: Vec<String>,
    /// The addresses of the service's running tasks on the network, sorted.
    pub backends: Vec<Ipv4Addr>,
    /// The service's named ports (SRV records), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<VipPort>,
}

/// A named port of a service: the DNS SRV name `_<name>._<protocol>.<service>` leads to the
/// service's name and this port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VipPort {
    /// The port's name.
    pub name: String,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The port the tasks answer on (the published port's target).
    pub port: u16,
}

/// The named ports of `spec`, sorted.
pub fn named_ports(spec: &orchestrator::swarm::ServiceSpec) -> Vec<VipPort> {
    let mut out: Vec<VipPort> = spec
        .ports
        .iter()
        .filter_map(|p| {
            Some(VipPort {
                name: p.name.clone()?,
                protocol: p.protocol.to_string(),
                port: p.target,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A key of an encrypted network as its nodes get it (over their mutually authenticated
/// sessions, in memory only). Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OverlayKeyWire {
    /// The key's id.
    pub id: u32,
    /// The 32 secret bytes in hex.
    pub secret: String,
    /// Whether the node sends with it.
    pub primary: bool,
}

impl std::fmt::Debug for OverlayKeyWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlayKeyWire")
            .field("id", &self.id)
            .field("primary", &self.primary)
            .finish_non_exhaustive()
    }
}

/// The keys of `network` for its nodes: `None` when it is not encrypted.
pub fn keys_of(network: &cluster_state::Network) -> Option<Vec<OverlayKeyWire>> {
    network.encryption.as_ref().map(|e| {
        e.keys
            .iter()
            .map(|k| OverlayKeyWire {
                id: k.id,
                secret: k.secret.clone(),
                primary: k.primary,
            })
            .collect()
    })
}

/// One network of one task, as its node needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskNetwork {
    /// The network's record id.
    pub id: String,
    /// Its name (also its name on the node's agent).
    pub name: String,
    /// The VXLAN identifier.
    pub vni: u32,
    /// Its subnet, CIDR.
    pub subnet: String,
    /// Its gateway address.
    pub gateway: Ipv4Addr,
    /// No way out of the network.
    pub internal: bool,
    /// Standalone containers may join.
    pub attachable: bool,
    /// The underlay address of the node the task runs on.
    pub underlay: Ipv4Addr,
    /// The task's address.
    pub ip: Ipv4Addr,
    /// The task's MAC address.
    pub mac: String,
    /// The task's DNS names on the network, besides its container name.
    pub names: Vec<String>,
    /// The network's endpoints on other nodes, sorted.
    pub peers: Vec<RemoteEndpoint>,
    /// The virtual addresses of the services on the network, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceVip>,
    /// The MAC address of the node's bridge of the network, when the managers choose it (the
    /// ingress network: other nodes reach each node's end of the routing mesh there, so it
    /// must differ per node; the node's address is then the network's gateway on the node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_mac: Option<String>,
    /// On an encrypted network (IPsec ESP between nodes), its keys; `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<OverlayKeyWire>>,
}

/// A port the routing mesh publishes on every node, with where it leads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IngressPort {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The port on every node.
    pub published: u16,
    /// The port of the service's tasks.
    pub target: u16,
    /// The addresses, on the ingress network, of the service's running tasks on live nodes,
    /// sorted.
    pub backends: Vec<Ipv4Addr>,
}

/// What one node needs of the routing mesh: the ingress network as its end of the mesh (the
/// node's own address as the network's gateway there, its bridge's MAC, every other node's
/// end and every task on the network as remote endpoints) and the ports published
/// cluster-wide. Absent while no service publishes a port in ingress mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIngress {
    /// The ingress network on this node (`ip` and `gateway` are the node's address).
    pub network: TaskNetwork,
    /// The published ports, sorted.
    pub ports: Vec<IngressPort>,
}

/// A standalone container of a node on an attachable overlay (`container run --network`), as
/// its node needs it: the network with the container's address, MAC and names, and the
/// network's endpoints on other nodes and virtual addresses, as a task there gets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAttachment {
    /// The attachment's id (in the network record).
    pub id: String,
    /// The container's name.
    pub container: String,
    /// When the managers gave the attachment, milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_ms: u64,
    /// The network on this node.
    pub network: TaskNetwork,
}

/// The standalone containers of one node on attachable overlays, sorted by id.
pub type NodeAttachments = Vec<NodeAttachment>;

/// The DNS names of a standalone container on an overlay: its name and its aliases (other
/// nodes answer them, as Docker's gossip of container names on attachable overlays does).
pub fn container_names(a: &cluster_state::NetworkAttachment) -> Vec<String> {
    let mut names = vec![a.container.clone()];
    for alias in &a.aliases {
        if !names.contains(alias) {
            names.push(alias.clone());
        }
    }
    names
}

/// The host part of a node's `addr` (`10.0.0.2:4242` → `10.0.0.2`).
pub fn node_address(addr: &str) -> Option<Ipv4Addr> {
    addr.parse::<std::net::SocketAddr>()
        .ok()
        .and_then(|s| match s.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .or_else(|| addr.parse().ok())
}

/// The DNS names of a task of `service` with `attachment`: the service's name, `tasks.` and
/// the service's name, and the aliases the service gives on that network; only `tasks.` and
/// the name when the service has a virtual address there (`vip`: the others are the
/// address's).
pub fn task_names(service: &str, attachment: &TaskAttachment, vip: bool) -> Vec<String> {
    if vip {
        return vec![format!("tasks.{service}")];
    }
    let mut names = vec![service.to_owned(), format!("tasks.{service}")];
    for alias in &attachment.aliases {
        if !names.contains(alias) {
            names.push(alias.clone());
        }
    }
    names
}

struct Endpoint<'a> {
    node: &'a str,
    node_addr: Ipv4Addr,
    attachment: &'a TaskAttachment,
    names: Vec<String>,
}

/// The networks of every assigned task that has attachments, by task id; a task on the
/// ingress network is left out while its node has no address there yet (its node must not
/// start it without the network).
pub fn task_networks(records: &[Record]) -> BTreeMap<TaskId, Vec<TaskNetwork>> {
    networks_and_mesh(records).0
}

/// What each node needs of the routing mesh, by node id (every live node with an address on
/// the ingress network, while a service publishes a port in ingress mode), and each node's
/// standalone containers on attachable overlays (nodes without any left out), from one pass
/// over `records`.
pub fn mesh_and_attachments(
    records: &[Record],
) -> (BTreeMap<NodeId, NodeIngress>, BTreeMap<NodeId, NodeAttachments>) {
    let (_, mesh, attached) = networks_and_mesh(records);
    (mesh, attached)
}

/// The published ports of the routing mesh: each ingress port of each service, with the
/// service's backends on the ingress network.
fn mesh_ports(
    services: &BTreeMap<&str, &cluster_state::Service>,
    backends: &BTreeMap<(&str, &str), Vec<Ipv4Addr>>,
    ingress_id: &str,
) -> Vec<IngressPort> {
    let mut out = Vec::new();
    for s in services.values() {
        let mut to = backends
            .get(&(ingress_id, s.service.id.as_str()))
            .cloned()
            .unwrap_or_default();
        to.sort();
        for p in s.endpoint.ports.iter().filter(|p| p.is_ingress()) {
            let Some(published) = p.published_port else {
                continue;
            };
            out.push(IngressPort {
                protocol: p.protocol.clone(),
                published,
                target: p.target_port,
                backends: to.clone(),
            });
        }
    }
    out.sort();
    out
}

type Views = (
    BTreeMap<TaskId, Vec<TaskNetwork>>,
    BTreeMap<NodeId, NodeIngress>,
    BTreeMap<NodeId, NodeAttachments>,
);

fn networks_and_mesh(records: &[Record]) -> Views {
    let mut nodes: BTreeMap<&str, (Option<Ipv4Addr>, bool)> = BTreeMap::new();
    let mut networks = BTreeMap::new();
    let mut services: BTreeMap<&str, &cluster_state::Service> = BTreeMap::new();
    for record in records {
        match record {
            Record::Node(n) => {
                nodes.insert(
                    n.meta.id.as_str(),
                    (node_address(&n.addr), n.state == NodeState::Ready),
                );
            }
            Record::Network(n) => {
                if let Some(addressing) = alloc::addressing(n) {
                    networks.insert(n.meta.id.as_str(), (n, addressing));
                }
            }
            Record::Service(s) => {
                services.insert(s.service.id.as_str(), s);
            }
            _ => {}
        }
    }
    let service_name = |task: &orchestrator::swarm::Task| {
        services
            .get(task.service_id.as_str())
            .map_or_else(|| task.service_id.to_string(), |s| s.service.name.clone())
    };
    // The ingress network: each node's address there, an endpoint like a task's.
    let ingress: Option<&cluster_state::Network> = networks
        .values()
        .map(|(n, _)| *n)
        .find(|n| n.ingress.is_some());
    let ingress_id = ingress.map(|n| n.meta.id.as_str());
    let node_ingress = |node: &str| {
        ingress
            .and_then(|n| n.ingress.as_ref())
            .and_then(|i| i.nodes.get(node).copied())
    };
    let has_vip = |task: &orchestrator::swarm::Task, network_id: &str| {
        services
            .get(task.service_id.as_str())
            .is_some_and(|s| s.endpoint.vip_on(network_id).is_some())
    };
    // Backends by network id and service id: running tasks on live nodes.
    let mut backends: BTreeMap<(&str, &str), Vec<Ipv4Addr>> = BTreeMap::new();
    // Endpoints by network id: tasks wanted running, not stopped, on a live node; on the
    // ingress network, the live nodes' own addresses too.
    let mut endpoints: BTreeMap<&str, Vec<Endpoint>> = BTreeMap::new();
    let node_attachments: Vec<(&str, Ipv4Addr, TaskAttachment)> = match ingress {
        Some(network) => network
            .ingress
            .iter()
            .flat_map(|i| &i.nodes)
            .filter_map(|(node, ip)| {
                let (id, (Some(addr), true)) = nodes.get_key_value(node.as_str())? else {
                    return None;
                };
                Some((
                    *id,
                    *addr,
                    TaskAttachment {
                        network_id: network.meta.id.clone(),
                        network: network.name.clone(),
                        ip: *ip,
                        mac: alloc::mac_of(*ip),
                        aliases: Vec::new(),
                    },
                ))
            })
            .collect(),
        None => Vec::new(),
    };
    for (node, node_addr, attachment) in &node_attachments {
        endpoints
            .entry(attachment.network_id.as_str())
            .or_default()
            .push(Endpoint {
                node,
                node_addr: *node_addr,
                attachment,
                names: Vec::new(),
            });
    }
    // Standalone containers on attachable overlays: endpoints named by their containers'
    // names, on live nodes.
    let mut standalone: Vec<(&str, &str, &cluster_state::NetworkAttachment, TaskAttachment)> =
        Vec::new();
    for (network, _) in networks.values() {
        for (id, a) in &network.attachments {
            standalone.push((
                id.as_str(),
                network.meta.id.as_str(),
                a,
                TaskAttachment {
                    network_id: network.meta.id.clone(),
                    network: network.name.clone(),
                    ip: a.ip,
                    mac: alloc::mac_of(a.ip),
                    aliases: a.aliases.clone(),
                },
            ));
        }
    }
    for (_, _, a, attachment) in &standalone {
        let Some((id, (Some(addr), true))) = nodes.get_key_value(a.node.as_str()) else {
            continue;
        };
        endpoints
            .entry(attachment.network_id.as_str())
            .or_default()
            .push(Endpoint {
                node: id,
                node_addr: *addr,
                attachment,
                names: container_names(a),
            });
    }
    for record in records {
        let Record::Task(t) = record else { continue };
        let task = &t.task;
        let Some(node) = &task.node else { continue };
        let Some((Some(addr), true)) = nodes.get(node.as_str()) else {
            continue;
        };
        if !task.is_desired_running()
            || task.status.state < TaskState::Assigned
            || task.status.state.is_terminal()
        {
            continue;
        }
        // Its entries are programmed from assignment on, so that it is reachable as soon as
        // it starts; its names answer only once it runs.
        let running = task.status.state == TaskState::Running;
        for a in &t.networks {
            if running {
                backends
                    .entry((a.network_id.as_str(), task.service_id.as_str()))
                    .or_default()
                    .push(a.ip);
            }
            endpoints
                .entry(a.network_id.as_str())
                .or_default()
                .push(Endpoint {
                    node: node.as_str(),
                    node_addr: *addr,
                    attachment: a,
                    names: if running && Some(a.network_id.as_str()) != ingress_id {
                        task_names(&service_name(task), a, has_vip(task, &a.network_id))
                    } else {
                        Vec::new()
                    },
                });
        }
    }
    // Virtual addresses by network id.
    let mut vips: BTreeMap<&str, Vec<ServiceVip>> = BTreeMap::new();
    for s in services.values() {
        for v in &s.endpoint.virtual_ips {
            let (Some(vip), Some((network, _))) = (v.ip(), networks.get(v.network_id.as_str()))
            else {
                continue;
            };
            // The ingress network answers no name: it only carries the routing mesh.
            let mut names = if Some(v.network_id.as_str()) == ingress_id {
                Vec::new()
            } else {
                vec![s.service.name.clone()]
            };
            let aliases = s
                .service
                .spec
                .networks
                .iter()
                .filter(|c| c.target == network.name)
                .flat_map(|c| &c.aliases);
            for alias in aliases {
                if !names.contains(alias) {
                    names.push(alias.clone());
                }
            }
            let mut to = backends
                .get(&(v.network_id.as_str(), s.service.id.as_str()))
                .cloned()
                .unwrap_or_default();
            to.sort();
            vips.entry(v.network_id.as_str())
                .or_default()
                .push(ServiceVip {
                    vip,
                    // The routing mesh's network answers no name, so no port either.
                    ports: if names.is_empty() {
                        Vec::new()
                    } else {
                        named_ports(&s.service.spec)
                    },
                    names,
                    backends: to,
                });
        }
    }
    for list in vips.values_mut() {
        list.sort();
    }
    let mut out = BTreeMap::new();
    for record in records {
        let Record::Task(t) = record else { continue };
        let task = &t.task;
        let (Some(node), false) = (&task.node, t.networks.is_empty()) else {
            continue;
        };
        let Some((Some(underlay), _)) = nodes.get(node.as_str()) else {
            // A node without an underlay address joins no overlay.
            out.insert(task.id.clone(), Vec::new());
            continue;
        };
        let mut joined = Vec::new();
        let mut complete = true;
        for a in &t.networks {
            let Some((network, (subnet, gateway))) = networks.get(a.network_id.as_str()) else {
                continue;
            };
            let on_ingress = Some(a.network_id.as_str()) == ingress_id;
            // On the ingress network the node's own address is the gateway there; a node
            // without one yet cannot join it (the next change brings it).
            let (gateway, bridge_mac) = if on_ingress {
                let Some(ip) = node_ingress(node.as_str()) else {
                    complete = false;
                    continue;
                };
                (ip, Some(alloc::mac_of(ip)))
            } else {
                (*gateway, None)
            };
            let mut peers: Vec<RemoteEndpoint> = endpoints
                .get(a.network_id.as_str())
                .into_iter()
                .flatten()
                .filter(|e| e.node != node.as_str() && e.node_addr != *underlay)
                .map(|e| RemoteEndpoint {
                    ip: e.attachment.ip,
                    mac: e.attachment.mac.clone(),
                    node: e.node_addr,
                    names: e.names.clone(),
                })
                .collect();
            peers.sort();
            joined.push(TaskNetwork {
                id: network.meta.id.clone(),
                name: network.name.clone(),
                vni: network.vni,
                subnet: subnet.to_string(),
                gateway,
                internal: network.internal,
                attachable: network.attachable,
                underlay: *underlay,
                ip: a.ip,
                mac: a.mac.clone(),
                names: if on_ingress {
                    Vec::new()
                } else {
                    task_names(&service_name(task), a, has_vip(task, &a.network_id))
                },
                peers,
                services: vips.get(a.network_id.as_str()).cloned().unwrap_or_default(),
                bridge_mac,
                keys: keys_of(network),
            });
        }
        if complete {
            out.insert(task.id.clone(), joined);
        }
    }
    let mut attached: BTreeMap<NodeId, NodeAttachments> = BTreeMap::new();
    for (id, network_id, a, attachment) in &standalone {
        let (Some((Some(underlay), _)), Some((network, (subnet, gateway)))) =
            (nodes.get(a.node.as_str()), networks.get(network_id))
        else {
            continue;
        };
        let mut peers: Vec<RemoteEndpoint> = endpoints
            .get(network_id)
            .into_iter()
            .flatten()
            .filter(|e| e.node != a.node.as_str() && e.node_addr != *underlay)
            .map(|e| RemoteEndpoint {
                ip: e.attachment.ip,
                mac: e.attachment.mac.clone(),
                node: e.node_addr,
                names: e.names.clone(),
            })
            .collect();
        peers.sort();
        attached
            .entry(NodeId::from(a.node.as_str()))
            .or_default()
            .push(NodeAttachment {
                id: (*id).to_owned(),
                container: a.container.clone(),
                created_ms: a.created_ms,
                network: TaskNetwork {
                    id: network.meta.id.clone(),
                    name: network.name.clone(),
                    vni: network.vni,
                    subnet: subnet.to_string(),
                    gateway: *gateway,
                    internal: network.internal,
                    attachable: network.attachable,
                    underlay: *underlay,
                    ip: attachment.ip,
                    mac: attachment.mac.clone(),
                    names: container_names(a),
                    peers,
                    services: vips.get(*network_id).cloned().unwrap_or_default(),
                    bridge_mac: None,
                    keys: keys_of(network),
                },
            });
    }
    for list in attached.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let mut mesh = BTreeMap::new();
    let (Some(network), Some(id)) = (ingress, ingress_id) else {
        return (out, mesh, attached);
    };
    let ports = mesh_ports(&services, &backends, id);
    let Some((_, (subnet, _))) = networks.get(id) else {
        return (out, mesh, attached);
    };
    if ports.is_empty() {
        return (out, mesh, attached);
    }
    for (node, underlay, attachment) in &node_attachments {
        let mut peers: Vec<RemoteEndpoint> = endpoints
            .get(id)
            .into_iter()
            .flatten()
            .filter(|e| e.node != *node && e.node_addr != *underlay)
            .map(|e| RemoteEndpoint {
                ip: e.attachment.ip,
                mac: e.attachment.mac.clone(),
                node: e.node_addr,
                names: e.names.clone(),
            })
            .collect();
        peers.sort();
        let network = TaskNetwork {
            id: network.meta.id.clone(),
            name: network.name.clone(),
            vni: network.vni,
            subnet: subnet.to_string(),
            gateway: attachment.ip,
            internal: network.internal,
            attachable: network.attachable,
            underlay: *underlay,
            ip: attachment.ip,
            mac: attachment.mac.clone(),
            names: Vec::new(),
            peers,
            services: vips.get(id).cloned().unwrap_or_default(),
            bridge_mac: Some(attachment.mac.clone()),
            keys: keys_of(network),
        };
        mesh.insert(
            NodeId::from(*node),
            NodeIngress {
                network,
                ports: ports.clone(),
            },
        );
    }
    (out, mesh, attached)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::sets::tests::task;
    use cluster_state::{Availability, Meta, Network, Node, NodeRole};

    fn node(id: &str, addr: &str, state: NodeState) -> Record {
        Record::Node(Node {
            meta: Meta {
                id: id.into(),
                ..Meta::default()
            },
            hostname: id.into(),
            addr: addr.into(),
            role: NodeRole::Worker,
            raft_id: None,
            availability: Availability::Active,
            state,
            desired_role: None,
            demoted_at_ms: None,
            platform: Default::default(),
            resources: Default::default(),
        })
    }

    fn network() -> Record {
        Record::Network(Network {
            meta: Meta {
                id: "net1".into(),
                ..Meta::default()
            },
            name: "front".into(),
            driver: "overlay".into(),
            subnet: Some("10.32.0.0/20".into()),
            gateway: None,
            vni: 4096,
            attachable: false,
            internal: false,
            ingress: None,
            encryption: None,
            attachments: Default::default(),
        })
    }

    fn on_net(id: &str, node: &str, state: TaskState, last: u8) -> Record {
        let mut t = task(id, Some(node), state, u64::from(last));
        let ip = Ipv4Addr::new(10, 32, 0, last);
        t.networks.push(TaskAttachment {
            network_id: "net1".into(),
            network: "front".into(),
            ip,
            mac: alloc::mac_of(ip),
            aliases: vec!["www".into()],
        });
        Record::Task(Box::new(t))
    }

    fn peers_of(all: &BTreeMap<TaskId, Vec<TaskNetwork>>, task: &str) -> Vec<u8> {
        all[&TaskId::from(task)][0]
            .peers
            .iter()
            .map(|p| p.ip.octets()[3])
            .collect()
    }

    #[test]
    fn each_task_sees_the_running_endpoints_on_other_live_nodes() {
        let mut records = vec![
            node("n1", "10.213.0.1:4242", NodeState::Ready),
            node("n2", "10.213.0.2:4242", NodeState::Ready),
            node("n3", "10.213.0.3:4242", NodeState::Ready),
            network(),
            on_net("a", "n1", TaskState::Running, 2),
            on_net("b", "n1", TaskState::Running, 3),
            on_net("c", "n2", TaskState::Starting, 4),
            on_net("d", "n3", TaskState::Failed, 5),
        ];
        let all = task_networks(&records);
        let a = &all[&TaskId::from("a")][0];
        assert_eq!((a.vni, a.subnet.as_str()), (4096, "10.32.0.0/20"));
        assert_eq!(a.gateway, Ipv4Addr::new(10, 32, 0, 1));
        assert_eq!(a.underlay, Ipv4Addr::new(10, 213, 0, 1));
        assert_eq!(
            a.names,
            ["s1", "tasks.s1", "www"].map(String::from).to_vec()
        );
        // Same-node tasks are local endpoints, a failed task is none.
        assert_eq!(peers_of(&all, "a"), [4]);
        assert_eq!(a.peers[0].node, Ipv4Addr::new(10, 213, 0, 2));
        assert_eq!(a.peers[0].mac, "02:42:0a:20:00:04");
        assert_eq!(peers_of(&all, "c"), [2, 3]);
        // A task not running yet is reachable but not named.
        assert_eq!(all[&TaskId::from("c")][0].peers[0].names.len(), 3);
        let c_seen_from_a = &all[&TaskId::from("a")][0].peers[0];
        assert!(c_seen_from_a.names.is_empty(), "{c_seen_from_a:?}");

        // A task wanted shut down is withdrawn at once; so are the tasks of a node gone down.
        if let Record::Task(t) = &mut records[5] {
            t.task.desired_state = orchestrator::swarm::DesiredState::Shutdown;
        }
        records[1] = node("n2", "10.213.0.2:4242", NodeState::Down);
        let all = task_networks(&records);
        assert_eq!(peers_of(&all, "a"), Vec::<u8>::new());
        assert_eq!(peers_of(&all, "c"), [2]);
    }

    #[test]
    fn a_standalone_container_is_its_nodes_attachment_and_a_named_endpoint_elsewhere() {
        let ip = Ipv4Addr::new(10, 32, 15, 254);
        let mut net = network();
        if let Record::Network(n) = &mut net {
            n.attachable = true;
            n.attachments.insert(
                "att1".into(),
                cluster_state::NetworkAttachment {
                    node: "n2".into(),
                    container: "probe".into(),
                    aliases: vec!["db".into()],
                    ip,
                    created_ms: 5,
                },
            );
        }
        let mut records = vec![
            node("n1", "10.213.0.1:4242", NodeState::Ready),
            node("n2", "10.213.0.2:4242", NodeState::Ready),
            net,
            on_net("a", "n1", TaskState::Running, 2),
        ];
        // The task's node programs the container, named by its name and aliases.
        let all = task_networks(&records);
        let seen = &all[&TaskId::from("a")][0].peers;
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!((seen[0].ip, seen[0].node), (ip, Ipv4Addr::new(10, 213, 0, 2)));
        assert_eq!(seen[0].mac, "02:42:0a:20:0f:fe");
        assert_eq!(seen[0].names, ["probe", "db"]);
        // The container's node gets the network with its address and the task as a peer.
        let (_, attached) = mesh_and_attachments(&records);
        assert!(!attached.contains_key(&NodeId::from("n1")));
        let mine = &attached[&NodeId::from("n2")];
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].id.as_str(), mine[0].container.as_str(), mine[0].created_ms), ("att1", "probe", 5));
        let n = &mine[0].network;
        assert_eq!((n.ip, n.gateway, n.underlay), (ip, Ipv4Addr::new(10, 32, 0, 1), Ipv4Addr::new(10, 213, 0, 2)));
        assert!(n.attachable);
        assert_eq!(n.peers.iter().map(|p| p.ip.octets()[3]).collect::<Vec<_>>(), [2]);
        // Its node down: the container is no endpoint of the others any more.
        records[1] = node("n2", "10.213.0.2:4242", NodeState::Down);
        let all = task_networks(&records);
        assert!(all[&TaskId::from("a")][0].peers.is_empty());
    }

    #[test]
    fn addresses_parse_with_or_without_a_port() {
        assert_eq!(
            node_address("10.0.0.2:4242"),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(node_address("10.0.0.2"), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(node_address("[::1]:4242"), None);
        assert_eq!(node_address("host:4242"), None);
    }

    fn vip_service(vip: &str) -> Record {
        let mut spec = orchestrator::swarm::ServiceSpec::default();
        spec.networks.push(orchestrator::swarm::NetworkAttachmentConfig {
            target: "front".into(),
            aliases: vec!["www".into()],
        });
        let mut s = cluster_state::Service::new(orchestrator::swarm::Service::new(
            "s1".into(),
            "web",
            spec,
            orchestrator::swarm::Timestamp(0),
        ));
        s.endpoint.virtual_ips.push(cluster_state::VirtualIp {
            network_id: "net1".into(),
            addr: vip.into(),
        });
        Record::Service(Box::new(s))
    }

    #[test]
    fn a_vip_leads_to_the_running_tasks_on_live_nodes_and_owns_the_service_name() {
        let mut records = vec![
            node("n1", "10.213.0.1:4242", NodeState::Ready),
            node("n2", "10.213.0.2:4242", NodeState::Ready),
            node("n3", "10.213.0.3:4242", NodeState::Down),
            network(),
            vip_service("10.32.0.9/20"),
            on_net("a", "n1", TaskState::Running, 2),
            on_net("b", "n2", TaskState::Running, 3),
            on_net("c", "n2", TaskState::Starting, 4),
            on_net("d", "n3", TaskState::Running, 5),
            on_net("e", "n1", TaskState::Running, 6),
        ];
        if let Record::Task(t) = &mut records[9] {
            t.task.desired_state = orchestrator::swarm::DesiredState::Shutdown;
        }
        let all = task_networks(&records);
        let a = &all[&TaskId::from("a")][0];
        let vip = ServiceVip {
            vip: Ipv4Addr::new(10, 32, 0, 9),
            names: vec!["web".into(), "www".into()],
            backends: vec![Ipv4Addr::new(10, 32, 0, 2), Ipv4Addr::new(10, 32, 0, 3)],
            ports: Vec::new(),
        };
        // Not yet running (c), on a down node (d), wanted shut down (e): no backend.
        assert_eq!(a.services, std::slice::from_ref(&vip));
        assert_eq!(all[&TaskId::from("c")][0].services, [vip]);
        // The service's name and alias are the VIP's; the tasks keep tasks.<service>.
        assert_eq!(a.names, ["tasks.web"]);
        assert_eq!(a.peers[0].names, ["tasks.web"]);

        // Without a virtual address (dnsrr), the tasks hold every name and no VIP is sent.
        records[4] = Record::Service(Box::new(cluster_state::Service::new(
            orchestrator::swarm::Service::new(
                "s1".into(),
                "web",
                orchestrator::swarm::ServiceSpec::default(),
                orchestrator::swarm::Timestamp(0),
            ),
        )));
        let all = task_networks(&records);
        let a = &all[&TaskId::from("a")][0];
        assert!(a.services.is_empty());
        assert_eq!(a.names, ["web", "tasks.web", "www"]);
    }

    fn ingress_network(nodes: &[(&str, u8)]) -> Record {
        Record::Network(Network {
            meta: Meta {
                id: "ing".into(),
                ..Meta::default()
            },
            name: "ingress".into(),
            driver: "overlay".into(),
            subnet: Some("10.33.0.0/20".into()),
            gateway: None,
            vni: 4097,
            attachable: false,
            internal: false,
            ingress: Some(cluster_state::IngressNodes {
                nodes: nodes
                    .iter()
                    .map(|(n, last)| ((*n).to_owned(), Ipv4Addr::new(10, 33, 0, *last)))
                    .collect(),
            }),
            encryption: None,
            attachments: Default::default(),
        })
    }

    fn on_ingress(id: &str, node: &str, state: TaskState, last: u8) -> Record {
        let mut t = task(id, Some(node), state, u64::from(last));
        let ip = Ipv4Addr::new(10, 33, 0, last);
        t.networks.push(TaskAttachment {
            network_id: "ing".into(),
            network: "ingress".into(),
            ip,
            mac: alloc::mac_of(ip),
            aliases: Vec::new(),
        });
        Record::Task(Box::new(t))
    }

    fn publishing(ports: &[u16]) -> Record {
        let mut s = cluster_state::Service::new(orchestrator::swarm::Service::new(
            "s1".into(),
            "web",
            orchestrator::swarm::ServiceSpec::default(),
            orchestrator::swarm::Timestamp(0),
        ));
        s.endpoint.ports = ports
            .iter()
            .map(|p| cluster_state::EndpointPort {
                protocol: "tcp".into(),
                target_port: 80,
                published_port: Some(*p),
                publish_mode: "ingress".into(),
            })
            .collect();
        Record::Service(Box::new(s))
    }

    #[test]
    fn every_live_node_gets_its_end_of_the_mesh_with_the_running_tasks_as_backends() {
        let ip = |last| Ipv4Addr::new(10, 33, 0, last);
        let mut records = vec![
            node("m1", "10.213.0.1:4242", NodeState::Ready),
            node("w1", "10.213.0.2:4242", NodeState::Ready),
            node("w2", "10.213.0.3:4242", NodeState::Ready),
            node("gone", "10.213.0.4:4242", NodeState::Down),
            ingress_network(&[("m1", 2), ("w1", 3), ("w2", 4), ("gone", 5)]),
            publishing(&[8080]),
            on_ingress("a", "w1", TaskState::Running, 10),
            on_ingress("b", "w2", TaskState::Starting, 11),
        ];
        let (tasks, mesh, _) = networks_and_mesh(&records);
        // The manager runs no task and still gets its end; the down node gets none.
        assert_eq!(
            mesh.keys().map(NodeId::as_str).collect::<Vec<_>>(),
            ["m1", "w1", "w2"]
        );
        let m1 = &mesh[&NodeId::from("m1")];
        assert_eq!(m1.network.gateway, ip(2));
        assert_eq!(m1.network.bridge_mac.as_deref(), Some("02:42:0a:21:00:02"));
        assert_eq!(
            m1.ports,
            [IngressPort {
                protocol: "tcp".into(),
                published: 8080,
                target: 80,
                backends: vec![ip(10)],
            }]
        );
        // Its peers: the other live nodes' ends and every task, named by nothing.
        let peers: Vec<Ipv4Addr> = m1.network.peers.iter().map(|p| p.ip).collect();
        assert_eq!(peers, [ip(3), ip(4), ip(10), ip(11)]);
        assert!(m1.network.peers.iter().all(|p| p.names.is_empty()));
        // A task's ingress network on its node is that node's end (same gateway and peers).
        let a = &tasks[&TaskId::from("a")][0];
        let w1 = &mesh[&NodeId::from("w1")];
        assert_eq!((a.gateway, &a.peers), (w1.network.gateway, &w1.network.peers));
        assert!(a.names.is_empty());

        // No port published in ingress mode: no node has an end.
        records[5] = publishing(&[]);
        assert!(networks_and_mesh(&records).1.is_empty());
        // A node without an address yet: its task waits (left out), the others go on.
        records[5] = publishing(&[8080]);
        records[4] = ingress_network(&[("m1", 2), ("w1", 3)]);
        let (tasks, mesh, _) = networks_and_mesh(&records);
        assert!(tasks.contains_key(&TaskId::from("a")));
        assert!(!tasks.contains_key(&TaskId::from("b")));
        assert!(!mesh.contains_key(&NodeId::from("w2")));
    }
}
