//! Standalone containers on attachable overlays (`container run --network NET` on a node):
//! the node asks the leader ([`attach`]), which gives the container an address of the
//! network's subnet and keeps it in the network record (`attachments`), guarded by the
//! record's version; the dispatcher then streams the attachment to its node (which makes the
//! overlay there) and to every other node of the network as an endpoint named by the
//! container. The node withdraws it once the container is gone ([`detach`]).
//!
//! Addresses come from the top of the subnet down, while the control loop gives tasks and
//! virtual addresses the lowest free ones: the control loop does not guard its task writes
//! with the network record, so the two allocators keep to opposite ends instead.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::net::Ipv4Addr;

use tonic::Status;

use super::alloc::AddressBook;
use super::{ingress, vips};
use crate::driver::{Query, Refused};
use crate::service::{ManagerService, status_of};
use crate::services::guard;
use crate::services::lookup::pick;
use cluster_state::{Batch, Command, Kind, Network, NetworkAttachment, Record};

/// Attempts of a read-decide-write that keeps losing races.
const ATTEMPTS: usize = 5;

/// What a node asks for its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asked {
    /// The network's name or id.
    pub(crate) network: String,
    /// The container's name.
    pub(crate) container: String,
    /// Its other names on the network.
    pub(crate) aliases: Vec<String>,
}

/// An attachment given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    /// The attachment's id.
    pub(crate) id: String,
    /// The network's record id.
    pub(crate) network_id: String,
    /// The network's name.
    pub(crate) network: String,
    /// The container's address.
    pub(crate) ip: Ipv4Addr,
}

/// Why an attachment is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AttachError {
    /// Docker's words for a network created without `--attachable`.
    #[error("could not attach to network {0}: network {0} not manually attachable")]
    NotAttachable(String),
    /// The routing mesh's network takes no container.
    #[error("could not attach to network {0}: the routing mesh's network takes no container")]
    Ingress(String),
    /// No free address left.
    #[error("could not attach to network {0}: no free address left in its subnet")]
    Full(String),
    /// A container name is needed: it is the container's DNS name on the network.
    #[error("a container joining a cluster network needs a name")]
    NoName,
}

/// The network record with the container of `asked` on `node` attached under `id` at
/// `now_ms`, its address the highest free one of `book`; pure.
pub(crate) fn plan(
    network: &Network,
    book: &mut AddressBook,
    node: &str,
    asked: &Asked,
    id: &str,
    now_ms: u64,
) -> Result<(Network, Ipv4Addr), AttachError> {
    if network.ingress.is_some() {
        return Err(AttachError::Ingress(network.name.clone()));
    }
    if !network.attachable {
        return Err(AttachError::NotAttachable(network.name.clone()));
    }
    if asked.container.trim().is_empty() {
        return Err(AttachError::NoName);
    }
    let ip = book
        .take_highest(&network.meta.id)
        .ok_or_else(|| AttachError::Full(network.name.clone()))?;
    let mut updated = network.clone();
    updated.attachments.insert(
        id.to_owned(),
        NetworkAttachment {
            node: node.to_owned(),
            container: asked.container.clone(),
            aliases: asked.aliases.clone(),
            ip,
            created_ms: now_ms,
        },
    );
    Ok((updated, ip))
}

/// The network record without attachment `id` of `node`, if it holds it; pure.
pub(crate) fn without(network: &Network, node: &str, id: &str) -> Option<Network> {
    if network.attachments.get(id).is_none_or(|a| a.node != node) {
        return None;
    }
    let mut updated = network.clone();
    updated.attachments.remove(id);
    Some(updated)
}

/// The networks, and the address book of one read of the store (tasks' addresses, services'
/// virtual addresses, nodes' addresses on the ingress network and attachments all taken).
async fn read(manager: &ManagerService) -> Result<(Vec<Network>, AddressBook), Status> {
    let (data, _) = manager
        .raft
        .read(Query::Kinds(vec![Kind::Network, Kind::Task, Kind::Service]))
        .await
        .map_err(status_of)?;
    let records: Vec<Record> = serde_json::from_slice(&data)
        .map_err(|e| Status::internal(format!("cannot decode records: {e}")))?;
    let mut networks = Vec::new();
    let mut tasks = Vec::new();
    let mut services = Vec::new();
    for record in records {
        match record {
            Record::Network(n) => networks.push(n),
            Record::Task(t) => tasks.push(*t),
            Record::Service(s) => services.push(*s),
            _ => {}
        }
    }
    let mut book = AddressBook::new(&networks, tasks.iter().flat_map(|t| &t.networks));
    for s in &services {
        vips::hold(&mut book, &s.endpoint);
    }
    if let Some(network) = ingress::find(&networks) {
        ingress::hold_nodes(&mut book, network);
    }
    Ok((networks, book))
}

/// Writes `network` at the version read; `Ok(false)` when it changed meanwhile.
async fn write(manager: &ManagerService, network: Network) -> Result<bool, Status> {
    let command = Command::Update {
        expected_version: network.meta.version,
        record: Record::Network(network),
    };
    match manager.raft.write(Batch::new(0, vec![command])).await {
        Ok(_) => Ok(true),
        Err(refused) if guard::raced(&refused) => Ok(false),
        Err(Refused::NotLeader { addr, .. }) => Err(Status::unavailable(format!(
            "this manager is not the leader; ask {}",
            addr.as_deref().unwrap_or("the leader")
        ))),
        Err(refused) => Err(status_of(refused)),
    }
}

/// Attaches the container of `asked` on `node` to its network (on the leader).
pub(crate) async fn attach(
    manager: &ManagerService,
    node: &str,
    asked: Asked,
) -> Result<Joined, Status> {
    for _ in 0..ATTEMPTS {
        let (networks, mut book) = read(manager).await?;
        let network = pick(
            &networks,
            &asked.network,
            "network",
            |n| &n.meta.id,
            |n| &n.name,
        )?;
        let id = crate::control::new_task_id().0;
        let now = crate::control::now().0;
        let (updated, ip) =
            plan(network, &mut book, node, &asked, &id, now).map_err(|e| match e {
                AttachError::NotAttachable(_) => Status::permission_denied(e.to_string()),
                AttachError::Full(_) => Status::resource_exhausted(e.to_string()),
                AttachError::Ingress(_) | AttachError::NoName => {
                    Status::invalid_argument(e.to_string())
                }
            })?;
        let joined = Joined {
            id,
            network_id: updated.meta.id.clone(),
            network: updated.name.clone(),
            ip,
        };
        if write(manager, updated).await? {
            tracing::info!(network = %joined.network, %node, container = %asked.container, %ip, "container attached to a cluster network");
            return Ok(joined);
        }
    }
    Err(Status::aborted(format!(
        "network {} kept changing while attaching {}; retry",
        asked.network, asked.container
    )))
}

/// Withdraws attachment `id` of `node` (on the leader): false when no network holds it.
pub(crate) async fn detach(manager: &ManagerService, node: &str, id: &str) -> Result<bool, Status> {
    for _ in 0..ATTEMPTS {
        let (networks, _) = read(manager).await?;
        let Some(updated) = networks.iter().find_map(|n| without(n, node, id)) else {
            return Ok(false);
        };
        let name = updated.name.clone();
        if write(manager, updated).await? {
            tracing::info!(network = %name, %node, attachment = %id, "container detached from a cluster network");
            return Ok(true);
        }
    }
    Err(Status::aborted(format!(
        "networks kept changing while withdrawing attachment {id}; retry"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::Meta;

    fn network(attachable: bool) -> Network {
        Network {
            meta: Meta {
                id: "net1".into(),
                ..Meta::default()
            },
            name: "front".into(),
            driver: "overlay".into(),
            subnet: Some("10.32.0.0/29".into()),
            gateway: None,
            vni: 4096,
            attachable,
            internal: false,
            ingress: None,
            encryption: None,
            attachments: Default::default(),
        }
    }

    fn asked(container: &str) -> Asked {
        Asked {
            network: "front".into(),
            container: container.into(),
            aliases: vec!["db".into()],
        }
    }

    #[test]
    fn an_attachable_network_gives_the_highest_free_address() {
        let net = network(true);
        let mut book = AddressBook::new(std::slice::from_ref(&net), []);
        let (updated, ip) = plan(&net, &mut book, "node-a", &asked("c1"), "a1", 7).unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 32, 0, 6));
        let a = &updated.attachments["a1"];
        assert_eq!(
            (a.node.as_str(), a.container.as_str(), a.ip, a.created_ms),
            ("node-a", "c1", ip, 7)
        );
        assert_eq!(a.aliases, ["db"]);
        // A second container, from the book of the updated record, gets the next one down,
        // and tasks keep taking from the bottom.
        let mut book = AddressBook::new(std::slice::from_ref(&updated), []);
        let (_, next) = plan(&updated, &mut book, "node-b", &asked("c2"), "a2", 8).unwrap();
        assert_eq!(next, Ipv4Addr::new(10, 32, 0, 5));
        assert_eq!(
            book.take("net1").map(|t| t.0),
            Some(Ipv4Addr::new(10, 32, 0, 2))
        );
    }

    #[test]
    fn refusals_use_dockers_words() {
        let net = network(false);
        let mut book = AddressBook::new(std::slice::from_ref(&net), []);
        let err = plan(&net, &mut book, "n", &asked("c1"), "a1", 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not attach to network front: network front not manually attachable"
        );
        let net = network(true);
        let err = plan(&net, &mut book, "n", &asked(" "), "a1", 0).unwrap_err();
        assert_eq!(err, AttachError::NoName);
    }

    #[test]
    fn a_full_subnet_is_refused() {
        let net = network(true);
        let mut book = AddressBook::new(std::slice::from_ref(&net), []);
        // 10.32.0.0/29: .1 is the gateway, .2 to .6 free.
        for _ in 0..5 {
            assert!(book.take("net1").is_some());
        }
        let err = plan(&net, &mut book, "n", &asked("c1"), "a1", 0).unwrap_err();
        assert_eq!(err, AttachError::Full("front".into()));
    }

    #[test]
    fn only_its_own_node_withdraws_an_attachment() {
        let net = network(true);
        let mut book = AddressBook::new(std::slice::from_ref(&net), []);
        let (updated, _) = plan(&net, &mut book, "node-a", &asked("c1"), "a1", 0).unwrap();
        assert!(without(&updated, "node-b", "a1").is_none());
        assert!(without(&updated, "node-a", "nope").is_none());
        let gone = without(&updated, "node-a", "a1").unwrap();
        assert!(gone.attachments.is_empty());
    }
}
