//! The `Networks` gRPC service: create, list, inspect, remove and prune the node's networks, and
//! connect or disconnect running containers. It owns the node's embedded DNS servers, which
//! follow the networks it creates and removes, and installs the userland proxy serving the
//! published ports DNAT cannot ([`super::proxy`]).

pub mod client;
pub mod convert;
pub mod filter;

use std::sync::Arc;

use engine::network::{AttachRequest, Netns, NetworkError, NetworkRecord};
use engine::spec::NetworkAttachment;
use tonic::{Code, Request, Response, Status};

use super::dns::{DNS_PORT, DnsServers, upstream};
use super::node::{DEFAULT_NETWORK, Node};
use super::proto::{self, networks_server::Networks as NetworksApi};
use super::proxy::PortProxies;
use filter::NetworkFilters;

/// The host's resolver configuration, read at agent start and again whenever it changes.
pub const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";

/// The network API over one node.
#[derive(Debug, Clone)]
pub struct NetworksService {
    node: Arc<Node>,
    dns: Arc<DnsServers>,
    proxies: Arc<PortProxies>,
}

impl NetworksService {
    /// The service over `node`; starts the DNS servers of its networks (and keeps them in line
    /// with the records while the service lives) and the proxies of the ports DNAT cannot
    /// serve (which then follow every attach and detach). Call inside the tokio runtime.
    pub fn new(node: Arc<Node>) -> Self {
        let proxies = Arc::new(PortProxies::new(tokio::runtime::Handle::current()));
        // Binding is quick and there is nothing to close yet: fine on this thread.
        if let Err(err) = node.networks().set_proxy(proxies.clone()) {
            tracing::warn!(cause = %err, "cannot update the published ports served in user space");
        }
        let upstreams = upstream::Upstreams::from_file(std::path::Path::new(HOST_RESOLV_CONF));
        let dns = Arc::new(DnsServers::new(
            node.networks().clone(),
            upstreams,
            DNS_PORT,
        ));
        dns.spawn_reconciler();
        Self { node, dns, proxies }
    }

    /// The node's port proxies.
    pub fn proxies(&self) -> &Arc<PortProxies> {
        &self.proxies
    }

    /// The node's DNS servers.
    pub fn dns(&self) -> &Arc<DnsServers> {
        &self.dns
    }
}

/// The gRPC status of a network error.
pub fn status(err: NetworkError) -> Status {
    let code = match &err {
        NetworkError::NotFound(_) | NetworkError::NotAttached { .. } => Code::NotFound,
        NetworkError::AlreadyExists(_) | NetworkError::AlreadyAttached { .. } => {
            Code::AlreadyExists
        }
        NetworkError::InUse { .. } | NetworkError::PortInUse(_) => Code::FailedPrecondition,
        NetworkError::Invalid { .. }
        | NetworkError::BadPort { .. }
        | NetworkError::Publish { .. } => Code::InvalidArgument,
        NetworkError::Exhausted(_) => Code::ResourceExhausted,
        _ => Code::Internal,
    };
    Status::new(code, err.to_string())
}

/// Runs a blocking network call on the blocking pool.
/// Runs a runtime call on the blocking pool; its error becomes an internal status.
async fn engine_blocking<T: Send + 'static>(
    f: impl FnOnce() -> engine::Result<T> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("container task failed: {e}")))?
        .map_err(|e| Status::internal(e.to_string()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NetworkError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("network task failed: {e}")))?
        .map_err(status)
}

type Reply<T> = Result<Response<T>, Status>;

impl NetworksService {
    fn engine(&self) -> engine::network::Networks {
        self.node.networks().clone()
    }

    async fn record(&self, key: &str) -> Result<NetworkRecord, Status> {
        let (nets, key) = (self.engine(), key.to_string());
        blocking(move || nets.inspect(&key)).await
    }

    /// Why `rec` cannot be removed now, if it cannot.
    fn removal_blocker(&self, rec: &NetworkRecord) -> Option<String> {
        if rec.name == DEFAULT_NETWORK {
            return Some(format!(
                "{DEFAULT_NETWORK} is a pre-defined network and cannot be removed"
            ));
        }
        let mut users = self.node.containers_using_network(&rec.name, &rec.id);
        users.extend(rec.endpoints.keys().cloned());
        users.sort();
        users.dedup();
        (!users.is_empty()).then(|| {
            let names: Vec<String> = users
                .iter()
                .map(|id| {
                    self.node
                        .meta(id)
                        .map(|m| m.name)
                        .unwrap_or_else(|_| id.clone())
                })
                .collect();
            format!(
                "network {} has active endpoints (containers: {})",
                rec.name,
                names.join(", ")
            )
        })
    }

    async fn remove_record(&self, rec: &NetworkRecord) -> Result<(), Status> {
        if let Some(why) = self.removal_blocker(rec) {
            return Err(Status::failed_precondition(why));
        }
        let (nets, id) = (self.engine(), rec.id.clone());
        blocking(move || nets.remove(&id)).await?;
        self.dns.reconcile().await;
        tracing::info!(network = %rec.name, "network removed");
        Ok(())
    }

    /// The running container `reference`: id, name and its init's network namespace.
    async fn running_container(&self, reference: &str) -> Result<(String, String, i32), Status> {
        let id = self.node.resolve(reference)?;
        let name = self.node.meta(&id)?.name;
        let runtime = self.node.runtime().clone();
        let i = id.clone();
        let record = tokio::task::spawn_blocking(move || runtime.state(&i))
            .await
            .map_err(|e| Status::internal(format!("container task failed: {e}")))?
            .map_err(|e| Status::internal(e.to_string()))?;
        match (record.state, record.pid) {
            (engine::ContainerState::Running | engine::ContainerState::Paused, Some(pid)) => {
                Ok((id, name, pid))
            }
            (state, _) => Err(Status::failed_precondition(format!(
                "container {name} is {}: only running containers can be connected or disconnected",
                state.name()
            ))),
        }
    }
}

#[tonic::async_trait]
impl NetworksApi for NetworksService {
    async fn create(&self, request: Request<proto::NetworkCreateRequest>) -> Reply<proto::Network> {
        let req = request.into_inner();
        let create = convert::create_request(&req).map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let if_not_exists = req.if_not_exists;
        let rec = blocking(move || match nets.create(&create) {
            Err(NetworkError::AlreadyExists(name)) if if_not_exists => nets.inspect(&name),
            other => other,
        })
        .await?;
        self.dns.reconcile().await;
        tracing::info!(network = %rec.name, subnet = %rec.subnet, "network created");
        Ok(Response::new(convert::network(&rec)))
    }

    async fn list(
        &self,
        request: Request<proto::NetworkListRequest>,
    ) -> Reply<proto::NetworkListResponse> {
        let filters = NetworkFilters::parse(&request.into_inner().filters)
            .map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let records = blocking(move || nets.list()).await?;
        let networks = records
            .iter()
            .filter(|r| filters.matches(r))
            .map(convert::network)
            .collect();
        Ok(Response::new(proto::NetworkListResponse { networks }))
    }

    async fn inspect(&self, request: Request<proto::NetworkRef>) -> Reply<proto::Network> {
        let rec = self.record(&request.into_inner().network).await?;
        Ok(Response::new(convert::network(&rec)))
    }

    async fn remove(&self, request: Request<proto::NetworkRef>) -> Reply<proto::Empty> {
        let rec = self.record(&request.into_inner().network).await?;
        self.remove_record(&rec).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn prune(
        &self,
        request: Request<proto::NetworkPruneRequest>,
    ) -> Reply<proto::NetworkPruneResponse> {
        let filters = NetworkFilters::parse(&request.into_inner().filters)
            .map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let records = blocking(move || nets.list()).await?;
        let mut deleted = Vec::new();
        for rec in records.iter().filter(|r| filters.matches(r)) {
            if self.removal_blocker(rec).is_some() {
                continue;
            }
            match self.remove_record(rec).await {
                Ok(()) => deleted.push(rec.name.clone()),
                Err(err) => {
                    tracing::warn!(network = %rec.name, cause = %err.message(), "prune: cannot remove")
                }
            }
        }
        Ok(Response::new(proto::NetworkPruneResponse { deleted }))
    }

    async fn connect_container(
        &self,
        request: Request<proto::NetworkConnectRequest>,
    ) -> Reply<proto::Empty> {
        let req = request.into_inner();
        let attachment = req
            .attachment
            .ok_or_else(|| Status::invalid_argument("connect: missing the network attachment"))?;
        let (id, name, pid) = self.running_container(&req.container).await?;
        let ipv4 =
            match attachment.ipv4_address.as_str() {
                "" => None,
                text => Some(text.parse().map_err(|_| {
                    Status::invalid_argument(format!("invalid IPv4 address {text:?}"))
                })?),
            };
        let ipv6 =
            match attachment.ipv6_address.as_str() {
                "" => None,
                text => Some(text.parse().map_err(|_| {
                    Status::invalid_argument(format!("invalid IPv6 address {text:?}"))
                })?),
            };
        let mac = Some(attachment.mac_address.clone()).filter(|m| !m.is_empty());
        let nets = self.engine();
        let runtime = self.node.runtime().clone();
        let network = attachment.network.clone();
        let aliases = attachment.aliases.clone();
        let kept = NetworkAttachment {
            network: network.clone(),
            aliases: aliases.clone(),
            ipv4,
            mac: mac.clone(),
            service_task: false,
            interface_name: None,
        };
        let (attach_nets, attach_id, attach_network) = (nets.clone(), id.clone(), network.clone());
        let (ep, rec) = blocking(move || {
            let netns = Netns::of_pid(pid)?;
            let req = AttachRequest {
                container_id: attach_id,
                container_name: name,
                aliases,
                ipv4,
                mac,
                ports: Vec::new(),
                netns: &netns,
                service_task: false,
            };
            let ep = attach_nets.attach_with_v6(&attach_network, &req, ipv6)?;
            Ok((ep, attach_nets.inspect(&attach_network)?))
        })
        .await?;
        // Joined again at every start, like the networks the container was created with.
        engine_blocking(move || {
            let recorded = runtime.record_attachment(&id, &network, Some(kept));
            if recorded.is_err() {
                let _ = nets.detach(&network, &id);
            }
            recorded
        })
        .await?;
        tracing::info!(network = %rec.name, container = %ep.container_name, ip = %ep.ipv4, "container connected");
        Ok(Response::new(proto::Empty {}))
    }

    async fn disconnect_container(
        &self,
        request: Request<proto::NetworkDisconnectRequest>,
    ) -> Reply<proto::Empty> {
        let req = request.into_inner();
        let rec = self.record(&req.network).await?;
        let id = match self.node.resolve(&req.container) {
            Ok(id) => id,
            // With force, an endpoint whose container is gone can still be dropped by its id.
            Err(_) if req.force && rec.endpoints.contains_key(&req.container) => {
                req.container.clone()
            }
            Err(err) => return Err(err.into()),
        };
        let nets = self.engine();
        let runtime = self.node.runtime().clone();
        let network = rec.id.clone();
        let detach_id = id.clone();
        let detach_network = network.clone();
        blocking(move || nets.detach(&detach_network, &detach_id)).await?;
        // A container that is gone (force) has no spec left to update.
        engine_blocking(move || match runtime.spec(&id) {
            Ok(_) => runtime.record_attachment(&id, &network, None),
            Err(_) => Ok(()),
        })
        .await?;
        tracing::info!(network = %rec.name, container = %req.container, "container disconnected");
        Ok(Response::new(proto::Empty {}))
    }

    async fn set_peers(
        &self,
        request: Request<proto::NetworkPeersRequest>,
    ) -> Reply<proto::Network> {
        let req = request.into_inner();
        let peers = convert::peers(&req.peers).map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let network = req.network.clone();
        let rec = blocking(move || nets.set_peers(&network, &peers)).await?;
        let count = rec.overlay.as_ref().map_or(0, |o| o.peers.len());
        tracing::info!(network = %rec.name, peers = count, "overlay peers set");
        Ok(Response::new(convert::network(&rec)))
    }

    async fn set_keys(&self, request: Request<proto::NetworkKeysRequest>) -> Reply<proto::Network> {
        let req = request.into_inner();
        let keys = convert::keys(&req.keys).map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let network = req.network.clone();
        let rec = blocking(move || nets.set_keys(&network, &keys)).await?;
        let sas = rec
            .overlay
            .as_ref()
            .and_then(|o| o.encryption.as_ref())
            .map_or(0, |e| e.sas.len());
        tracing::debug!(network = %rec.name, keys = req.keys.len(), sas, "overlay keys set");
        Ok(Response::new(convert::network(&rec)))
    }

    async fn set_services(
        &self,
        request: Request<proto::NetworkServicesRequest>,
    ) -> Reply<proto::Network> {
        let req = request.into_inner();
        let services = convert::services(&req.services).map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let network = req.network.clone();
        let rec = blocking(move || nets.set_services(&network, &services)).await?;
        let count = rec.overlay.as_ref().map_or(0, |o| o.services.len());
        tracing::info!(network = %rec.name, services = count, "overlay virtual addresses set");
        Ok(Response::new(convert::network(&rec)))
    }

    async fn set_mesh(&self, request: Request<proto::NetworkMeshRequest>) -> Reply<proto::Network> {
        let req = request.into_inner();
        let ports = convert::mesh_ports(&req.ports).map_err(Status::invalid_argument)?;
        let nets = self.engine();
        let network = req.network.clone();
        let rec = blocking(move || nets.set_mesh(&network, &ports)).await?;
        let count = rec.overlay.as_ref().map_or(0, |o| o.mesh.len());
        tracing::info!(network = %rec.name, ports = count, "routing mesh ports set");
        Ok(Response::new(convert::network(&rec)))
    }
}
