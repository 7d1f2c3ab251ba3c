//! The network calls of the services API: create (the VXLAN identifier and subnet allocated
//! against every network of the store, in one guarded write), list, inspect and remove
//! (refused while a service uses the network, naming the services).

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use tonic::{Response, Status};

use super::alloc::{self, AllocError};
use crate::driver::{Query, Refused};
use crate::service::{ManagerService, status_of};
use crate::services::decode::label_pairs;
use crate::services::guard::{self, at_versions_read, in_use};
use crate::services::lookup::pick;
use crate::services::proto;
use cluster_raft::WriteError;
use cluster_state::{ApplyError, Batch, Command, Kind, Meta, Network, Record, RecordKey, Service};

/// Attempts of a read-decide-write that keeps losing races.
const ATTEMPTS: usize = 5;

/// The longest network name (it names the network on every node's agent too).
const MAX_NAME: usize = 64;

struct Contents {
    networks: Vec<Network>,
    services: Vec<Service>,
}

async fn contents(manager: &ManagerService) -> Result<Contents, Status> {
    let (data, _) = manager
        .raft
        .read(Query::Kinds(vec![Kind::Network, Kind::Service]))
        .await
        .map_err(status_of)?;
    let records: Vec<Record> = serde_json::from_slice(&data)
        .map_err(|e| Status::internal(format!("cannot decode records: {e}")))?;
    let mut contents = Contents {
        networks: Vec::new(),
        services: Vec::new(),
    };
    for record in records {
        match record {
            Record::Network(n) => contents.networks.push(n),
            Record::Service(s) => contents.services.push(*s),
            _ => {}
        }
    }
    Ok(contents)
}

impl Contents {
    /// The network `name` designates: exact id, exact name, else a unique id prefix.
    fn network(&self, name: &str) -> Result<&Network, Status> {
        pick(&self.networks, name, "network", |n| &n.meta.id, |n| &n.name)
    }

    /// The names of the services whose spec joins `network`, sorted.
    fn users(&self, network: &Network) -> Vec<String> {
        let mut names: Vec<String> = self
            .services
            .iter()
            .filter(|s| {
                super::ingress::networks_of(&s.service.spec)
                    .iter()
                    .any(|n| n.target == network.name)
            })
            .map(|s| s.service.name.clone())
            .collect();
        names.sort();
        names
    }

    fn info(&self, network: &Network) -> Result<proto::NetworkInfo, Status> {
        // An encrypted network's keys never leave the managers but for its nodes.
        let mut shown = network.clone();
        for key in shown.encryption.iter_mut().flat_map(|e| e.keys.iter_mut()) {
            key.secret.clear();
        }
        Ok(proto::NetworkInfo {
            record: serde_json::to_vec(&shown)
                .map_err(|e| Status::internal(format!("cannot encode the network: {e}")))?,
            services: self.users(network),
        })
    }
}

/// Whether `name` may name a network: a letter or digit, then letters, digits, `_`, `.`, `-`.
fn check_name(name: &str) -> Result<(), Status> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || name.len() > MAX_NAME
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Status::invalid_argument(format!(
            "invalid network name {name:?}: use letters, digits, '_', '.' and '-' (at most {MAX_NAME}), starting with a letter or digit"
        )));
    }
    Ok(())
}

/// [`guard::raced`], or a record created meanwhile under the same key.
fn raced(refused: &Refused) -> bool {
    guard::raced(refused)
        || matches!(
            refused,
            Refused::Write(WriteError::Refused(ApplyError::Exists(_)))
        )
}

fn alloc_status(err: AllocError) -> Status {
    match err {
        AllocError::Exhausted(_) => Status::resource_exhausted(err.to_string()),
        AllocError::Invalid(_) | AllocError::Overlaps { .. } => {
            Status::invalid_argument(err.to_string())
        }
    }
}

/// Creates a cluster network: its identifier and subnet are chosen against the networks of
/// one read, and the write rewrites those networks at the versions read, so a concurrent
/// create or removal makes this one decide again instead of sharing an identifier or subnet.
pub(crate) async fn create(
    manager: &ManagerService,
    request: proto::CreateNetworkRequest,
) -> Result<Response<proto::NetworkInfo>, Status> {
    let name = request.name.trim().to_owned();
    check_name(&name)?;
    if name == super::ingress::NAME {
        return Err(Status::invalid_argument(format!(
            "network name {name} is reserved for the routing mesh (the managers create it with the first port published in ingress mode)"
        )));
    }
    match request.driver.as_str() {
        "" | "overlay" => {}
        other => {
            return Err(Status::invalid_argument(format!(
                "driver {other} is not a cluster driver: cluster networks are overlays (create a bridge network on a node's agent)"
            )));
        }
    }
    let labels = label_pairs("--label", &request.labels)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let subnet = non_empty(&request.subnet);
    let gateway = non_empty(&request.gateway);
    for _ in 0..ATTEMPTS {
        let store = contents(manager).await?;
        if store.networks.iter().any(|n| n.name == name) {
            return Err(Status::already_exists(format!(
                "network {name} already exists"
            )));
        }
        let vni = alloc::next_vni(&store.networks).map_err(alloc_status)?;
        let (net, gw) = alloc::addresses(subnet.as_deref(), gateway.as_deref(), &store.networks)
            .map_err(alloc_status)?;
        let network = Network {
            meta: Meta {
                id: crate::control::new_task_id().0,
                labels: labels.clone(),
                ..Meta::default()
            },
            name: name.clone(),
            driver: "overlay".to_owned(),
            subnet: Some(net.to_string()),
            gateway: Some(gw.to_string()),
            vni,
            attachable: request.attachable,
            internal: request.internal,
            ingress: None,
            encryption: request
                .encrypted
                .then(|| super::keys::first(request.key_rotation_secs, crate::control::now())),
            attachments: Default::default(),
        };
        // Every existing network is rewritten at the version read: a network created or
        // removed meanwhile refuses the batch, so two creates never share an identifier.
        let mut commands: Vec<Command> = store
            .networks
            .iter()
            .map(|n| Command::Update {
                expected_version: n.meta.version,
                record: Record::Network(n.clone()),
            })
            .collect();
        commands.push(Command::Create(Record::Network(network.clone())));
        match manager.raft.write(Batch::new(0, commands)).await {
            Ok(_) => {
                tracing::info!(network = %name, vni, subnet = %net, encrypted = request.encrypted, "cluster network created");
                return Ok(Response::new(store.info(&network)?));
            }
            Err(Refused::Write(WriteError::Refused(ApplyError::NameInUse { .. }))) => {
                return Err(Status::already_exists(format!(
                    "network {name} already exists"
                )));
            }
            Err(refused) if raced(&refused) => continue,
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "networks kept changing while creating {name}; retry"
    )))
}

/// Every cluster network, by name.
pub(crate) async fn list(manager: &ManagerService) -> Result<Response<proto::NetworkList>, Status> {
    let store = contents(manager).await?;
    let mut sorted: BTreeMap<&str, &Network> = BTreeMap::new();
    for n in &store.networks {
        sorted.insert(&n.name, n);
    }
    let networks = sorted
        .values()
        .map(|n| store.info(n))
        .collect::<Result<_, _>>()?;
    Ok(Response::new(proto::NetworkList { networks }))
}

/// One cluster network.
pub(crate) async fn inspect(
    manager: &ManagerService,
    name: &str,
) -> Result<Response<proto::NetworkInfo>, Status> {
    let store = contents(manager).await?;
    let network = store.network(name)?;
    Ok(Response::new(store.info(network)?))
}

/// Removes a cluster network unless a service uses it. Its tasks' addresses go with their
/// records; each node removes its overlay link once its last task there is gone.
pub(crate) async fn remove(
    manager: &ManagerService,
    name: &str,
) -> Result<Response<proto::Empty>, Status> {
    for _ in 0..ATTEMPTS {
        let store = contents(manager).await?;
        let network = store.network(name)?;
        let users = store.users(network);
        if !users.is_empty() {
            return Err(in_use(&format!("network {}", network.name), &users));
        }
        // A service that joined the network meanwhile refuses the removal.
        let mut commands = at_versions_read(&store.services);
        commands.push(Command::Delete {
            key: RecordKey::new(Kind::Network, network.meta.id.clone()),
            expected_version: Some(network.meta.version),
        });
        match manager.raft.write(Batch::new(0, commands)).await {
            Ok(_) => {
                tracing::info!(network = %network.name, "cluster network removed");
                return Ok(Response::new(proto::Empty {}));
            }
            Err(refused) if raced(&refused) => continue,
            Err(refused) => return Err(status_of(refused)),
        }
    }
    Err(Status::aborted(format!(
        "network {name} kept changing; retry"
    )))
}

/// The ports service `service_id` publishes with `spec` (allocated against every other
/// service's, keeping the ones of `current`), and the commands its write needs with them:
/// the other publishing services rewritten at the versions read (so two services never take
/// one port concurrently) and, for the first port published in ingress mode, the ingress
/// network created (every network rewritten at the version read, as `network create` does).
pub(crate) async fn published(
    manager: &ManagerService,
    service_id: &str,
    spec: &orchestrator::swarm::ServiceSpec,
    current: &[cluster_state::EndpointPort],
) -> Result<(Vec<cluster_state::EndpointPort>, Vec<Command>), Status> {
    if spec.ports.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let store = contents(manager).await?;
    let others: Vec<&Service> = store
        .services
        .iter()
        .filter(|s| s.meta.id != service_id && !s.endpoint.ports.is_empty())
        .collect();
    let taken: Vec<(&str, &[cluster_state::EndpointPort])> = others
        .iter()
        .map(|s| (s.service.name.as_str(), s.endpoint.ports.as_slice()))
        .collect();
    let ports = super::ingress::allocate_ports(spec, current, &taken).map_err(|e| match e {
        super::ingress::PortError::InUse { .. } => Status::already_exists(e.to_string()),
        super::ingress::PortError::Exhausted { .. } => Status::resource_exhausted(e.to_string()),
        _ => Status::invalid_argument(e.to_string()),
    })?;
    let mut commands = at_versions_read(others.iter().copied());
    if super::ingress::uses_mesh(spec) && super::ingress::find(&store.networks).is_none() {
        if store
            .networks
            .iter()
            .any(|n| n.name == super::ingress::NAME)
        {
            return Err(Status::failed_precondition(format!(
                "a network named {} exists and is not the routing mesh's: remove it to publish ports in ingress mode",
                super::ingress::NAME
            )));
        }
        let network = super::ingress::new_network(&store.networks, crate::control::new_task_id().0)
            .map_err(alloc_status)?;
        commands.extend(store.networks.iter().map(|n| Command::Update {
            expected_version: n.meta.version,
            record: Record::Network(n.clone()),
        }));
        tracing::info!(vni = network.vni, subnet = ?network.subnet, "creating the ingress network with the first ingress port");
        commands.push(Command::Create(Record::Network(network)));
    }
    Ok((ports, commands))
}

/// Checks that every network `spec` joins is a cluster network, and returns the commands
/// that rewrite those networks at the versions read: added to a service's write, they make
/// it fail if one of them was removed meanwhile.
pub(crate) async fn joined(
    manager: &ManagerService,
    spec: &orchestrator::swarm::ServiceSpec,
) -> Result<Vec<Command>, Status> {
    if spec.networks.is_empty() {
        return Ok(Vec::new());
    }
    let store = contents(manager).await?;
    spec.networks
        .iter()
        .map(|wanted| {
            let network = store
                .networks
                .iter()
                .find(|n| n.name == wanted.target)
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "network {} not found: create it on a manager with `bosun network create --driver overlay {}`",
                        wanted.target, wanted.target
                    ))
                })?;
            Ok(Command::Update {
                expected_version: network.meta.version,
                record: Record::Network(network.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["front", "a", "web_1.net-2"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a b", "a/b", &"n".repeat(65)] {
            let err = check_name(bad).unwrap_err();
            assert!(err.message().starts_with("invalid network name"), "{bad}");
        }
    }
}
