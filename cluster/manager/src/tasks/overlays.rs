//! The overlay links of this node's tasks on its agent, owned and reconciled in one place:
//! an overlay exists on the node while a task assigned here and wanted running joins it (made
//! before the task's container, with the VXLAN identifier and subnet the managers allocated,
//! so it is the same on every node), its remote endpoints are exactly those the assignments
//! carry, and it is removed once no such task is left (the agent refuses while a container is
//! still attached: the runner tries again). Links are recognised by their cluster network id
//! label, so a restarted node daemon converges instead of leaking.

use std::collections::BTreeMap;

use crate::dispatcher::networks::{
    IngressPort, NodeIngress, OverlayKeyWire, RemoteEndpoint, ServiceVip, TaskNetwork,
};
use crate::dispatcher::sets::NodeSet;
use crate::tasks::attached::Attached;
use crate::tasks::engine::{EngineError, TaskEngine};
use orchestrator::swarm::DesiredState;

/// Label on an agent network made for a cluster network: the cluster network's id.
pub const NETWORK_ID: &str = "com.docker.swarm.network.id";

/// The name of the routing mesh's overlay.
const INGRESS: &str = crate::networks::ingress::NAME;

/// An overlay on the agent that carries [`NETWORK_ID`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayLink {
    /// Its name on the agent (the cluster network's name).
    pub name: String,
    /// The cluster network's id (its label).
    pub cluster_id: String,
    /// Its VXLAN identifier.
    pub vni: u32,
    /// The remote endpoints programmed, sorted.
    pub peers: Vec<RemoteEndpoint>,
    /// The services' virtual addresses programmed, sorted.
    pub services: Vec<ServiceVip>,
    /// The routing mesh's ports published through it, sorted.
    pub mesh: Vec<IngressPort>,
}

/// One change to the node's overlays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayAction {
    /// Remove the overlay of this name (no task wants it, or it belongs to an older network
    /// of the same name).
    Remove(String),
    /// Create the overlay of this network.
    Create(Box<TaskNetwork>),
    /// Set the keys of an encrypted overlay to exactly these (sent at every sync: the agent
    /// holds them in memory only and changes nothing when they are the same).
    SetKeys {
        /// The overlay's name.
        name: String,
        /// The keys.
        keys: Vec<OverlayKeyWire>,
    },
    /// Set the overlay's remote endpoints to exactly these.
    SetPeers {
        /// The overlay's name.
        name: String,
        /// The endpoints.
        peers: Vec<RemoteEndpoint>,
    },
    /// Set the overlay's services' virtual addresses (and their backends) to exactly these.
    SetServices {
        /// The overlay's name.
        name: String,
        /// The virtual addresses.
        services: Vec<ServiceVip>,
    },
    /// Set the ports the routing mesh publishes through the overlay to exactly these.
    SetMesh {
        /// The overlay's name.
        name: String,
        /// The ports.
        ports: Vec<IngressPort>,
    },
}

/// What the node knows of the routing mesh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mesh {
    /// Nothing yet (no manager has answered since the node daemon started): the ingress
    /// overlay the agent has is left as it is.
    #[default]
    Unknown,
    /// What the managers said: the node's end of the mesh, or none (no port is published in
    /// ingress mode).
    Known(Option<Box<NodeIngress>>),
}

/// The overlays the node needs (`wanted`, from its tasks) with its end of the routing mesh
/// added, and the agent's overlays (`existing`) the plan may touch: while the mesh is
/// unknown, an ingress overlay no task needs is kept out of the plan (not removed).
pub fn with_mesh(
    mut wanted: BTreeMap<String, TaskNetwork>,
    mut existing: Vec<OverlayLink>,
    mesh: &Mesh,
) -> (BTreeMap<String, TaskNetwork>, Vec<OverlayLink>) {
    match mesh {
        Mesh::Unknown => existing.retain(|l| l.name != INGRESS || wanted.contains_key(&l.name)),
        Mesh::Known(Some(ingress)) => {
            wanted.insert(ingress.network.name.clone(), ingress.network.clone());
        }
        Mesh::Known(None) => {}
    }
    (wanted, existing)
}

/// The overlays the node needs (`wanted`) with those of its standalone containers added
/// (`attached`; none while unknown: an overlay a standalone container is attached to is then
/// planned for removal, which the agent refuses while the container is there, until the
/// managers have said).
pub fn with_attached(
    mut wanted: BTreeMap<String, TaskNetwork>,
    attached: &Attached,
) -> BTreeMap<String, TaskNetwork> {
    for a in attached.list() {
        wanted
            .entry(a.network.name.clone())
            .or_insert_with(|| a.network.clone());
    }
    wanted
}

/// [`plan`] with the routing mesh's ports: withdrawn first from an overlay that publishes
/// some and should publish none (so that it can go, or stops answering), set last on the
/// node's ingress overlay (once it exists, with its endpoints and backends programmed).
pub fn plan_with_mesh(
    desired: &BTreeMap<String, TaskNetwork>,
    existing: &[OverlayLink],
    mesh: &Mesh,
) -> Vec<OverlayAction> {
    let target = match mesh {
        Mesh::Known(Some(ingress)) => Some(ingress.as_ref()),
        _ => None,
    };
    let mut actions = Vec::new();
    for link in existing.iter().filter(|l| !l.mesh.is_empty()) {
        let keeps = target.is_some_and(|t| {
            t.network.name == link.name && t.network.id == link.cluster_id && t.network.vni == link.vni
        });
        if !keeps && !matches!(mesh, Mesh::Unknown) {
            actions.push(OverlayAction::SetMesh {
                name: link.name.clone(),
                ports: Vec::new(),
            });
        }
    }
    actions.extend(plan(desired, existing));
    if let Some(t) = target {
        let current = existing.iter().find(|l| {
            l.name == t.network.name && l.cluster_id == t.network.id && l.vni == t.network.vni
        });
        if current.is_none_or(|l| l.mesh != t.ports) {
            actions.push(OverlayAction::SetMesh {
                name: t.network.name.clone(),
                ports: t.ports.clone(),
            });
        }
    }
    actions
}

/// The overlays `set` needs on this node, by name: those of its tasks wanted running that
/// have not finished (every task of a network carries the same endpoints).
pub fn desired(set: &NodeSet) -> BTreeMap<String, TaskNetwork> {
    let mut out = BTreeMap::new();
    for a in set.values() {
        if a.desired_state != DesiredState::Running || a.finished {
            continue;
        }
        for n in &a.networks {
            out.entry(n.name.clone()).or_insert_with(|| n.clone());
        }
    }
    out
}

/// What takes the node from the overlays `existing` to `desired`: removals first (so a
/// network replaced under the same name goes before its successor comes), then creations
/// with their endpoints and virtual addresses, then changes. On a kept overlay the virtual
/// addresses change before the endpoints: a withdrawn task leaves the backends before its
/// entries go, and a new backend (a running task) has had its entries since it was assigned.
pub fn plan(
    desired: &BTreeMap<String, TaskNetwork>,
    existing: &[OverlayLink],
) -> Vec<OverlayAction> {
    let mut actions = Vec::new();
    let mut kept = BTreeMap::new();
    for link in existing {
        match desired.get(&link.name) {
            Some(n) if n.id == link.cluster_id && n.vni == link.vni => {
                kept.insert(link.name.as_str(), link);
            }
            _ => actions.push(OverlayAction::Remove(link.name.clone())),
        }
    }
    for (name, network) in desired {
        match kept.get(name.as_str()) {
            None => {
                actions.push(OverlayAction::Create(Box::new(network.clone())));
                if let Some(keys) = &network.keys {
                    actions.push(OverlayAction::SetKeys {
                        name: name.clone(),
                        keys: keys.clone(),
                    });
                }
                if !network.peers.is_empty() {
                    actions.push(OverlayAction::SetPeers {
                        name: name.clone(),
                        peers: network.peers.clone(),
                    });
                }
                if !network.services.is_empty() {
                    actions.push(OverlayAction::SetServices {
                        name: name.clone(),
                        services: network.services.clone(),
                    });
                }
            }
            Some(link) => {
                // Keys before endpoints: a new remote node's SAs are made with its peers.
                if let Some(keys) = &network.keys {
                    actions.push(OverlayAction::SetKeys {
                        name: name.clone(),
                        keys: keys.clone(),
                    });
                }
                if link.services != network.services {
                    actions.push(OverlayAction::SetServices {
                        name: name.clone(),
                        services: network.services.clone(),
                    });
                }
                if link.peers != network.peers {
                    actions.push(OverlayAction::SetPeers {
                        name: name.clone(),
                        peers: network.peers.clone(),
                    });
                }
            }
        }
    }
    actions
}

/// Brings the agent's overlays to what `set` needs. False when something is left to do (the
/// agent could not be listed, refused a removal while a container is attached, or failed a
/// call): the caller applies the set again later.
pub async fn sync<E: TaskEngine>(
    engine: &E,
    set: &NodeSet,
    mesh: &Mesh,
    attached: &Attached,
) -> bool {
    let wanted = desired(set);
    let existing = match engine.overlays().await {
        Ok(links) => links,
        Err(err) => {
            if !wanted.is_empty() {
                tracing::warn!(cause = %err, "cannot list the node's overlays");
            }
            return false;
        }
    };
    let wanted = with_attached(wanted, attached);
    let (wanted, existing) = with_mesh(wanted, existing, mesh);
    let mut done = true;
    for action in plan_with_mesh(&wanted, &existing, mesh) {
        let result = match &action {
            OverlayAction::Remove(name) => engine.remove_overlay(name).await,
            OverlayAction::Create(network) => engine.create_overlay(network).await,
            OverlayAction::SetPeers { name, peers } => engine.set_peers(name, peers).await,
            OverlayAction::SetKeys { name, keys } => engine.set_keys(name, keys).await,
            OverlayAction::SetServices { name, services } => {
                engine.set_services(name, services).await
            }
            OverlayAction::SetMesh { name, ports } => engine.set_mesh(name, ports).await,
        };
        match (&action, result) {
            (OverlayAction::Remove(name), Ok(())) => {
                tracing::info!(network = %name, "overlay removed: no task of this node on it");
            }
            (OverlayAction::Create(n), Ok(())) => {
                tracing::info!(network = %n.name, vni = n.vni, subnet = %n.subnet, "overlay created");
            }
            (OverlayAction::SetPeers { name, peers }, Ok(())) => {
                tracing::debug!(network = %name, peers = peers.len(), "overlay endpoints set");
            }
            (OverlayAction::SetKeys { name, keys }, Ok(())) => {
                tracing::debug!(network = %name, keys = keys.len(), "overlay keys set");
            }
            (OverlayAction::SetServices { name, services }, Ok(())) => {
                tracing::debug!(network = %name, services = services.len(), "overlay virtual addresses set");
            }
            (OverlayAction::SetMesh { name, ports }, Ok(())) => {
                tracing::info!(network = %name, ports = ports.len(), "routing mesh ports set");
            }
            (OverlayAction::Remove(name), Err(err)) => {
                // Usually a task container still attached: it goes soon.
                tracing::debug!(network = %name, cause = %err, "overlay not removed yet");
                done = false;
            }
            (_, Err(err)) => {
                tracing::warn!(?action, cause = %err, "overlay change failed");
                done = false;
            }
        }
    }
    done
}

/// Withdraws every port of the routing mesh the agent publishes (the node leaves the
/// cluster: nothing of the mesh may answer on it any more). Returns how many overlays had
/// some; the first failure is the error.
pub async fn withdraw_mesh<E: TaskEngine>(engine: &E) -> Result<usize, EngineError> {
    let mut withdrawn = 0;
    for link in engine.overlays().await? {
        if !link.mesh.is_empty() {
            engine.set_mesh(&link.name, &[]).await?;
            withdrawn += 1;
        }
    }
    Ok(withdrawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::Assignment;
    use orchestrator::swarm::TaskSlot;
    use std::net::Ipv4Addr;

    fn endpoint(last: u8) -> RemoteEndpoint {
        RemoteEndpoint {
            ip: Ipv4Addr::new(10, 32, 0, last),
            mac: format!("02:42:0a:20:00:{last:02x}"),
            node: Ipv4Addr::new(10, 213, 0, 2),
            names: vec!["web".into()],
        }
    }

    fn network(name: &str, id: &str, peers: &[u8]) -> TaskNetwork {
        TaskNetwork {
            id: id.into(),
            name: name.into(),
            vni: 4096,
            subnet: "10.32.0.0/20".into(),
            gateway: Ipv4Addr::new(10, 32, 0, 1),
            internal: false,
            attachable: false,
            underlay: Ipv4Addr::new(10, 213, 0, 1),
            ip: Ipv4Addr::new(10, 32, 0, 2),
            mac: "02:42:0a:20:00:02".into(),
            names: vec!["web".into()],
            peers: peers.iter().map(|l| endpoint(*l)).collect(),
            services: Vec::new(),
            bridge_mac: None,
            keys: None,
        }
    }

    fn assignment(id: &str, networks: Vec<TaskNetwork>, desired: DesiredState) -> Assignment {
        Assignment {
            task_id: id.into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot: TaskSlot::Slot(1),
            desired_state: desired,
            finished: false,
            spec_version: 1,
            spec: Default::default(),
            networks,
            registry_auth: None,
            files: Vec::new(),
        }
    }

    fn link(name: &str, id: &str, peers: &[u8]) -> OverlayLink {
        OverlayLink {
            name: name.into(),
            cluster_id: id.into(),
            vni: 4096,
            peers: peers.iter().map(|l| endpoint(*l)).collect(),
            services: Vec::new(),
            mesh: Vec::new(),
        }
    }

    fn keys(primary: u32) -> Vec<OverlayKeyWire> {
        vec![OverlayKeyWire {
            id: primary,
            secret: "ab".repeat(32),
            primary: true,
        }]
    }

    #[test]
    fn a_standalone_containers_overlay_is_wanted_like_a_tasks() {
        let net = network("front", "n1", &[3]);
        let attachment = crate::dispatcher::networks::NodeAttachment {
            id: "att1".into(),
            container: "probe".into(),
            created_ms: 0,
            network: net.clone(),
        };
        let existing = vec![link("front", "n1", &[3]), link("old", "n0", &[])];
        // Its network is wanted like a task's, the rest may go.
        let wanted = with_attached(BTreeMap::new(), &Attached::Known(vec![attachment]));
        assert_eq!(wanted.get("front"), Some(&net));
        assert_eq!(
            plan(&wanted, &existing),
            vec![OverlayAction::Remove("old".into())]
        );
        // Unknown (no manager heard yet): nothing is wanted for it.
        assert!(with_attached(BTreeMap::new(), &Attached::Unknown).is_empty());
    }

    #[test]
    fn an_encrypted_overlay_gets_its_keys_before_its_endpoints_at_every_sync() {
        let mut net = network("front", "n1", &[3]);
        net.keys = Some(keys(1));
        let desired: BTreeMap<String, TaskNetwork> = [("front".into(), net.clone())].into();
        let created = plan(&desired, &[]);
        assert_eq!(
            created,
            vec![
                OverlayAction::Create(Box::new(net.clone())),
                OverlayAction::SetKeys {
                    name: "front".into(),
                    keys: keys(1)
                },
                OverlayAction::SetPeers {
                    name: "front".into(),
                    peers: vec![endpoint(3)]
                },
            ]
        );
        // Kept: the keys again (the agent may have restarted and lost them), then a change of
        // endpoints.
        let kept = plan(&desired, &[link("front", "n1", &[4])]);
        assert_eq!(
            kept,
            vec![
                OverlayAction::SetKeys {
                    name: "front".into(),
                    keys: keys(1)
                },
                OverlayAction::SetPeers {
                    name: "front".into(),
                    peers: vec![endpoint(3)]
                },
            ]
        );
        // The secret never shows in what a failed action logs.
        let shown = format!("{:?}", created[1]);
        assert!(!shown.contains(&"ab".repeat(32)), "{shown}");
        // Unencrypted: no keys.
        let plain: BTreeMap<String, TaskNetwork> =
            [("front".into(), network("front", "n1", &[3]))].into();
        assert!(
            plan(&plain, &[link("front", "n1", &[3])]).is_empty(),
            "nothing to do"
        );
    }

    fn vip(backends: &[u8]) -> ServiceVip {
        ServiceVip {
            vip: Ipv4Addr::new(10, 32, 0, 200),
            names: vec!["web".into()],
            backends: backends
                .iter()
                .map(|l| Ipv4Addr::new(10, 32, 0, *l))
                .collect(),
            ports: Vec::new(),
        }
    }

    #[test]
    fn only_tasks_wanted_running_keep_an_overlay() {
        let set: NodeSet = [
            assignment(
                "t1",
                vec![network("front", "n1", &[3])],
                DesiredState::Running,
            ),
            assignment(
                "t2",
                vec![network("back", "n2", &[])],
                DesiredState::Shutdown,
            ),
        ]
        .into_iter()
        .map(|a| (a.task_id.clone(), a))
        .collect();
        let wanted = desired(&set);
        assert_eq!(wanted.keys().collect::<Vec<_>>(), ["front"]);
    }

    #[test]
    fn plans_create_peers_and_removal() {
        let wanted: BTreeMap<String, TaskNetwork> = [
            ("front".to_owned(), network("front", "n1", &[3, 4])),
            ("mid".to_owned(), network("mid", "n3", &[5])),
            ("fresh".to_owned(), network("fresh", "n4", &[])),
        ]
        .into();
        let existing = [
            link("front", "n1", &[3]),
            link("mid", "n3", &[5]),
            link("gone", "n2", &[]),
        ];
        let actions = plan(&wanted, &existing);
        assert_eq!(
            actions,
            [
                OverlayAction::Remove("gone".into()),
                OverlayAction::Create(Box::new(network("fresh", "n4", &[]))),
                OverlayAction::SetPeers {
                    name: "front".into(),
                    peers: vec![endpoint(3), endpoint(4)],
                },
            ]
        );
        // At rest: nothing to do.
        let existing = [
            link("front", "n1", &[3, 4]),
            link("mid", "n3", &[5]),
            link("fresh", "n4", &[]),
        ];
        assert!(plan(&wanted, &existing).is_empty());
    }

    #[test]
    fn a_network_recreated_under_its_name_replaces_the_old_link() {
        let wanted: BTreeMap<String, TaskNetwork> =
            [("front".to_owned(), network("front", "new", &[3]))].into();
        let actions = plan(&wanted, &[link("front", "old", &[])]);
        assert_eq!(
            actions,
            [
                OverlayAction::Remove("front".into()),
                OverlayAction::Create(Box::new(network("front", "new", &[3]))),
                OverlayAction::SetPeers {
                    name: "front".into(),
                    peers: vec![endpoint(3)],
                },
            ]
        );
    }

    #[test]
    fn virtual_addresses_change_before_endpoints_and_come_after_them_on_a_new_overlay() {
        let mut front = network("front", "n1", &[4]);
        front.services = vec![vip(&[2])];
        let wanted: BTreeMap<String, TaskNetwork> = [("front".to_owned(), front.clone())].into();
        // A new overlay: created, its endpoints set, then its virtual addresses.
        assert_eq!(
            plan(&wanted, &[]),
            [
                OverlayAction::Create(Box::new(front.clone())),
                OverlayAction::SetPeers {
                    name: "front".into(),
                    peers: vec![endpoint(4)],
                },
                OverlayAction::SetServices {
                    name: "front".into(),
                    services: vec![vip(&[2])],
                },
            ]
        );
        // Task 3 is withdrawn (scale down): it leaves the backends before its entries go.
        let mut existing = link("front", "n1", &[3, 4]);
        existing.services = vec![vip(&[2, 3])];
        assert_eq!(
            plan(&wanted, std::slice::from_ref(&existing)),
            [
                OverlayAction::SetServices {
                    name: "front".into(),
                    services: vec![vip(&[2])],
                },
                OverlayAction::SetPeers {
                    name: "front".into(),
                    peers: vec![endpoint(4)],
                },
            ]
        );
        // At rest: nothing.
        existing.peers = vec![endpoint(4)];
        existing.services = vec![vip(&[2])];
        assert!(plan(&wanted, &[existing]).is_empty());
    }

    fn mesh(network: TaskNetwork, published: &[u16]) -> Mesh {
        Mesh::Known(Some(Box::new(NodeIngress {
            network,
            ports: published
                .iter()
                .map(|p| IngressPort {
                    protocol: "tcp".into(),
                    published: *p,
                    target: 80,
                    backends: vec![Ipv4Addr::new(10, 32, 0, 3)],
                })
                .collect(),
        })))
    }

    #[test]
    fn the_nodes_end_of_the_mesh_is_made_then_its_ports_set_last() {
        let ingress = network("ingress", "n9", &[3]);
        let known = mesh(ingress.clone(), &[8080]);
        // A node without tasks: the ingress overlay is made for the mesh alone.
        let (wanted, existing) = with_mesh(BTreeMap::new(), Vec::new(), &known);
        let actions = plan_with_mesh(&wanted, &existing, &known);
        let Mesh::Known(Some(end)) = &known else {
            unreachable!()
        };
        assert_eq!(
            actions,
            [
                OverlayAction::Create(Box::new(ingress.clone())),
                OverlayAction::SetPeers {
                    name: "ingress".into(),
                    peers: vec![endpoint(3)],
                },
                OverlayAction::SetMesh {
                    name: "ingress".into(),
                    ports: end.ports.clone(),
                },
            ]
        );
        // At rest: nothing; a port more: only the mesh changes.
        let mut link = link("ingress", "n9", &[3]);
        link.mesh = end.ports.clone();
        let (wanted, existing) = with_mesh(BTreeMap::new(), vec![link.clone()], &known);
        assert!(plan_with_mesh(&wanted, &existing, &known).is_empty());
        let more = mesh(ingress, &[8080, 9090]);
        let (wanted, existing) = with_mesh(BTreeMap::new(), vec![link.clone()], &more);
        assert!(matches!(
            plan_with_mesh(&wanted, &existing, &more).as_slice(),
            [OverlayAction::SetMesh { ports, .. }] if ports.len() == 2
        ));
        // No port left anywhere: the ports are withdrawn first, then the overlay goes.
        let none = Mesh::Known(None);
        let (wanted, existing) = with_mesh(BTreeMap::new(), vec![link.clone()], &none);
        assert_eq!(
            plan_with_mesh(&wanted, &existing, &none),
            [
                OverlayAction::SetMesh {
                    name: "ingress".into(),
                    ports: Vec::new(),
                },
                OverlayAction::Remove("ingress".into()),
            ]
        );
        // Before any manager answers, the ingress overlay the agent has is left alone.
        let (wanted, existing) = with_mesh(BTreeMap::new(), vec![link], &Mesh::Unknown);
        assert!(plan_with_mesh(&wanted, &existing, &Mesh::Unknown).is_empty());
    }
}
