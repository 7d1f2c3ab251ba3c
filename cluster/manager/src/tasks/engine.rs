//! The calls a node makes on its local agent to run tasks, behind a small trait so the
//! task actors can be driven by a fake in tests; [`AgentEngine`] is the real one, over the
//! agent's unix socket (`<run-root>/bosun.sock`). An image no registry gives, pinned to its
//! manifest digest, is fetched from another node ([`crate::tasks::fetch`]).

use std::path::PathBuf;
use std::sync::Arc;

use api::agent as proto;
use api::{AgentClient, ClientError};

use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::dispatcher::networks::{
    IngressPort, OverlayKeyWire, RemoteEndpoint, ServiceVip, TaskNetwork, VipPort,
};
use crate::tasks::fetch::{self, ByteStream, FetchError, Pinned, Receiver, Sources};
use crate::tasks::machine::Found;
use crate::tasks::overlays::{NETWORK_ID, OverlayLink};
use crate::tasks::translate::TASK_ID;
use cluster_state::RegistryAuth;

/// Why an agent call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The agent does not answer (not running, restarting): try again later.
    #[error("{0}")]
    Unreachable(String),
    /// The container or image does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The agent refused or failed the call.
    #[error("{0}")]
    Refused(String),
}

impl From<ClientError> for EngineError {
    fn from(err: ClientError) -> Self {
        match &err {
            ClientError::Status(status) => EngineError::from(status.as_ref().clone()),
            _ => EngineError::Unreachable(err.to_string()),
        }
    }
}

impl From<tonic::Status> for EngineError {
    fn from(status: tonic::Status) -> Self {
        let message = status.message().to_owned();
        // Only a failure of the connection means the agent is away; an `unavailable` the agent
        // answers with is its own refusal (a registry it could not reach).
        if api::client::is_transport_failure(&status) {
            EngineError::Unreachable(format!("the agent is not reachable: {message}"))
        } else if status.code() == tonic::Code::NotFound {
            EngineError::NotFound(message)
        } else {
            EngineError::Refused(message)
        }
    }
}

/// What a container's healthcheck says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It has no healthcheck.
    None,
    /// No probe passed yet.
    Starting,
    /// Its probes pass.
    Healthy,
    /// Its probes fail.
    Unhealthy,
}

/// A container of some task, as the agent lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContainer {
    /// The task it belongs to (its task label).
    pub task_id: String,
    /// Its state.
    pub found: Found,
}

/// What the task actors need of an agent.
#[tonic::async_trait]
pub trait TaskEngine: Send + Sync + 'static {
    /// Pulls `image` unless the agent has it, with `auth` for its registry when given.
    async fn ensure_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
    ) -> Result<(), EngineError>;
    /// Creates a container; returns its id.
    async fn create(&self, request: proto::CreateRequest) -> Result<String, EngineError>;
    /// The id of the container named `name`, if one exists.
    async fn find(&self, name: &str) -> Result<Option<String>, EngineError>;
    /// Starts a container.
    async fn start(&self, id: &str) -> Result<(), EngineError>;
    /// Waits for a container to exit; its exit code.
    async fn wait(&self, id: &str) -> Result<i32, EngineError>;
    /// Stops a container with its own stop signal and grace period.
    async fn stop(&self, id: &str) -> Result<(), EngineError>;
    /// Removes a stopped container.
    async fn remove(&self, id: &str) -> Result<(), EngineError>;
    /// Every container that carries a task label.
    async fn task_containers(&self) -> Result<Vec<TaskContainer>, EngineError>;
    /// What the container's healthcheck says.
    async fn health(&self, id: &str) -> Result<Health, EngineError>;
    /// The overlays made for cluster networks (those carrying [`NETWORK_ID`]).
    async fn overlays(&self) -> Result<Vec<OverlayLink>, EngineError>;
    /// Creates the overlay of a cluster network, labelled with its id.
    async fn create_overlay(&self, network: &TaskNetwork) -> Result<(), EngineError>;
    /// Sets an overlay's remote endpoints to exactly `peers`.
    async fn set_peers(&self, network: &str, peers: &[RemoteEndpoint]) -> Result<(), EngineError>;
    /// Sets an overlay's services' virtual addresses (with their backends) to exactly
    /// `services`.
    async fn set_services(&self, network: &str, services: &[ServiceVip])
    -> Result<(), EngineError>;
    /// Sets the ports the routing mesh publishes through an overlay (the ingress network)
    /// to exactly `ports`.
    async fn set_mesh(&self, network: &str, ports: &[IngressPort]) -> Result<(), EngineError>;
    /// Removes an overlay (refused while a container is attached).
    async fn remove_overlay(&self, network: &str) -> Result<(), EngineError>;
    /// Sets the keys of an encrypted overlay to exactly `keys` (the agent programs IPsec
    /// from them). An engine that cannot encrypt refuses.
    async fn set_keys(&self, network: &str, keys: &[OverlayKeyWire]) -> Result<(), EngineError> {
        let _ = keys;
        Err(EngineError::Refused(format!(
            "network {network}: this engine cannot encrypt overlays"
        )))
    }
}

/// The local agent, reached over its socket; connects on first use and again after a
/// failure (the agent may start after the node daemon, or restart).
pub struct AgentEngine {
    socket: PathBuf,
    /// The connected client. A std mutex: held only to clone or replace it, never across an
    /// await.
    client: std::sync::Mutex<Option<AgentClient>>,
    /// The other nodes to fetch pinned images from when no registry gives them.
    sources: Option<Arc<dyn Sources>>,
}

impl std::fmt::Debug for AgentEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentEngine")
            .field("socket", &self.socket)
            .field("fetches_from_nodes", &self.sources.is_some())
            .finish()
    }
}

impl AgentEngine {
    /// The agent listening on `socket`.
    pub fn new(socket: PathBuf) -> Self {
        AgentEngine {
            socket,
            client: std::sync::Mutex::new(None),
            sources: None,
        }
    }

    /// The same agent, fetching pinned images no registry gives from `sources`.
    pub fn with_sources(mut self, sources: Arc<dyn Sources>) -> Self {
        self.sources = Some(sources);
        self
    }

    async fn networks(
        &self,
    ) -> Result<proto::networks_client::NetworksClient<tonic::transport::Channel>, EngineError>
    {
        Ok(proto::networks_client::NetworksClient::new(
            api::client::channel(&self.socket).await?,
        ))
    }

    async fn images(
        &self,
    ) -> Result<proto::images_client::ImagesClient<tonic::transport::Channel>, EngineError> {
        Ok(api::images_client::images(&self.socket).await?)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<AgentClient>> {
        self.client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn client(&self) -> Result<AgentClient, EngineError> {
        if let Some(client) = self.slot().clone() {
            return Ok(client);
        }
        let client = AgentClient::connect(&self.socket).await?;
        *self.slot() = Some(client.clone());
        Ok(client)
    }

    /// Runs `call` with a client, forgetting the client when the agent was unreachable.
    async fn with<T, F, Fut>(&self, call: F) -> Result<T, EngineError>
    where
        F: FnOnce(AgentClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let client = self.client().await?;
        let result = call(client).await.map_err(EngineError::from);
        if matches!(result, Err(EngineError::Unreachable(_))) {
            *self.slot() = None;
        }
        result
    }
}

/// Pulls `image` from its registry, with `auth` when given.
async fn pull(
    images: &mut proto::images_client::ImagesClient<tonic::transport::Channel>,
    image: &str,
    auth: Option<&RegistryAuth>,
) -> Result<(), EngineError> {
    let request = proto::PullRequest {
        reference: image.to_owned(),
        auth: auth.map(|a| proto::RegistryAuth {
            username: a.username.clone(),
            password: a.password.clone(),
            identity_token: a.identity_token.clone(),
        }),
        ..proto::PullRequest::default()
    };
    let mut progress = images.pull(request).await?.into_inner();
    while let Some(message) = progress.message().await? {
        if message.done {
            return Ok(());
        }
    }
    Err(EngineError::Refused(format!(
        "pull of {image} ended without a result"
    )))
}

/// The messages of a `PutBlob`: the digest, then the bytes until `data` ends or breaks off
/// (the agent then refuses the incomplete blob). A task pumps them into a channel, so the
/// call gets a stream of a concrete type.
fn upload(digest: &str, mut data: ByteStream) -> ReceiverStream<proto::BlobChunk> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let first = proto::BlobChunk {
        digest: digest.to_owned(),
        data: Vec::new(),
    };
    tokio::spawn(async move {
        if tx.send(first).await.is_err() {
            return;
        }
        while let Some(Ok(data)) = data.next().await {
            let chunk = proto::BlobChunk {
                digest: String::new(),
                data,
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

#[tonic::async_trait]
impl Receiver for AgentEngine {
    async fn missing_blobs(
        &self,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<Vec<String>, EngineError> {
        let request = proto::ManifestData {
            data: manifest.to_vec(),
            media_type: media_type.to_owned(),
        };
        Ok(self
            .images()
            .await?
            .missing_blobs(request)
            .await?
            .into_inner()
            .digests)
    }

    async fn put_blob(&self, digest: &str, data: ByteStream) -> Result<(), EngineError> {
        // The first message names the blob; a stream that breaks off ends the upload, and
        // the agent refuses the incomplete blob.
        let chunks = upload(digest, data);
        self.images().await?.put_blob(chunks).await?;
        Ok(())
    }

    async fn add_manifest(
        &self,
        reference: &str,
        manifest: Vec<u8>,
        media_type: String,
    ) -> Result<(), EngineError> {
        let request = proto::AddManifestRequest {
            reference: reference.to_owned(),
            manifest: Some(proto::ManifestData {
                data: manifest,
                media_type,
            }),
        };
        self.images().await?.add_manifest(request).await?;
        Ok(())
    }
}

/// An agent network carrying [`NETWORK_ID`] as an overlay link.
fn overlay_link(network: &proto::Network) -> Option<OverlayLink> {
    let overlay = network.overlay.as_ref()?;
    let mut peers: Vec<RemoteEndpoint> = overlay
        .peers
        .iter()
        .filter_map(|p| {
            Some(RemoteEndpoint {
                ip: p.ip.parse().ok()?,
                mac: p.mac.clone(),
                node: p.node.parse().ok()?,
                names: p.names.clone(),
            })
        })
        .collect();
    peers.sort();
    let mut services: Vec<ServiceVip> = overlay
        .services
        .iter()
        .filter_map(|s| {
            let mut backends = s
                .backends
                .iter()
                .map(|b| b.parse().ok())
                .collect::<Option<Vec<_>>>()?;
            backends.sort();
            let mut ports: Vec<VipPort> = s
                .ports
                .iter()
                .map(|p| {
                    Some(VipPort {
                        name: p.name.clone(),
                        protocol: p.protocol.clone(),
                        port: u16::try_from(p.port).ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            ports.sort();
            Some(ServiceVip {
                vip: s.vip.parse().ok()?,
                names: s.names.clone(),
                backends,
                ports,
            })
        })
        .collect();
    services.sort();
    let mut mesh: Vec<IngressPort> = overlay
        .mesh
        .iter()
        .filter_map(|p| {
            let mut backends = p
                .backends
                .iter()
                .map(|b| b.parse().ok())
                .collect::<Option<Vec<_>>>()?;
            backends.sort();
            Some(IngressPort {
                protocol: p.protocol.clone(),
                published: u16::try_from(p.published).ok()?,
                target: u16::try_from(p.target).ok()?,
                backends,
            })
        })
        .collect();
    mesh.sort();
    Some(OverlayLink {
        name: network.name.clone(),
        cluster_id: network.labels.get(NETWORK_ID)?.clone(),
        vni: overlay.vni,
        peers,
        services,
        mesh,
    })
}

/// The agent's create request for the overlay of `network`.
fn overlay_request(network: &TaskNetwork) -> proto::NetworkCreateRequest {
    proto::NetworkCreateRequest {
        name: network.name.clone(),
        driver: "overlay".into(),
        internal: network.internal,
        labels: [(NETWORK_ID.to_owned(), network.id.clone())].into(),
        subnet: network.subnet.clone(),
        gateway: network.gateway.to_string(),
        options: [
            ("vni".to_owned(), network.vni.to_string()),
            ("underlay".to_owned(), network.underlay.to_string()),
        ]
        .into_iter()
        .chain(network.bridge_mac.clone().map(|m| ("mac".to_owned(), m)))
        .chain(
            network
                .keys
                .is_some()
                .then(|| ("encrypted".to_owned(), String::new())),
        )
        .collect(),
        attachable: network.attachable,
        ..proto::NetworkCreateRequest::default()
    }
}

fn found(summary: &proto::ContainerSummary) -> Found {
    match proto::ContainerState::from_i32(summary.state) {
        Some(proto::ContainerState::Running | proto::ContainerState::Paused) => {
            Found::Running(summary.id.clone())
        }
        Some(proto::ContainerState::Exited) => Found::Exited(summary.id.clone(), summary.exit_code),
        _ => Found::Created(summary.id.clone()),
    }
}

#[tonic::async_trait]
impl TaskEngine for AgentEngine {
    async fn ensure_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
    ) -> Result<(), EngineError> {
        let mut images = self.images().await?;
        let reference = proto::ImageRef {
            image: image.to_owned(),
        };
        match images.inspect(reference).await.map_err(EngineError::from) {
            Ok(_) => return Ok(()),
            Err(EngineError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        let pulled = pull(&mut images, image, auth).await;
        let registry = match pulled {
            Ok(()) | Err(EngineError::Unreachable(_)) => return pulled,
            Err(err) => err,
        };
        let (Some(pinned), Some(sources)) = (Pinned::parse(image), &self.sources) else {
            return Err(registry);
        };
        tracing::info!(%image, cause = %registry, "no registry gives the image; asking the other nodes");
        let asked = sources.sources().await;
        match fetch::fetch(self, &asked, &pinned).await {
            Ok(node) => {
                tracing::info!(%image, %node, "image fetched from another node");
                Ok(())
            }
            Err(FetchError::Local(err)) => Err(err),
            Err(err) => Err(EngineError::Refused(format!("{err}; registry: {registry}"))),
        }
    }

    async fn create(&self, request: proto::CreateRequest) -> Result<String, EngineError> {
        self.with(|mut c| async move { c.create(request).await.map(|r| r.id) })
            .await
    }

    async fn find(&self, name: &str) -> Result<Option<String>, EngineError> {
        let filter = format!("name={name}");
        let listed = self
            .with(|mut c| async move { c.list(true, vec![filter]).await })
            .await?;
        Ok(listed
            .into_iter()
            .find(|s| s.name.trim_start_matches('/') == name)
            .map(|s| s.id))
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.with(|mut c| async move { c.start(id).await }).await
    }

    async fn wait(&self, id: &str) -> Result<i32, EngineError> {
        self.with(|mut c| async move { c.wait(id).await.map(|w| w.exit_code) })
            .await
    }

    async fn stop(&self, id: &str) -> Result<(), EngineError> {
        self.with(|mut c| async move { c.stop(id, None).await.map(drop) })
            .await
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.with(|mut c| async move { c.remove(id, true).await })
            .await
    }

    async fn health(&self, id: &str) -> Result<Health, EngineError> {
        let inspected = self
            .with(|mut c| async move { c.inspect(id).await })
            .await?;
        let health = inspected.summary.map_or(0, |s| s.health);
        Ok(match proto::Health::from_i32(health) {
            Some(proto::Health::Starting) => Health::Starting,
            Some(proto::Health::Healthy) => Health::Healthy,
            Some(proto::Health::Unhealthy) => Health::Unhealthy,
            _ => Health::None,
        })
    }

    async fn task_containers(&self) -> Result<Vec<TaskContainer>, EngineError> {
        let listed = self
            .with(|mut c| async move { c.list(true, vec![format!("label={TASK_ID}")]).await })
            .await?;
        Ok(listed
            .iter()
            .filter_map(|s| {
                Some(TaskContainer {
                    task_id: s.labels.get(TASK_ID)?.clone(),
                    found: found(s),
                })
            })
            .collect())
    }

    async fn overlays(&self) -> Result<Vec<OverlayLink>, EngineError> {
        let request = proto::NetworkListRequest {
            filters: vec![format!("label={NETWORK_ID}"), "driver=overlay".into()],
        };
        let listed = self.networks().await?.list(request).await?.into_inner();
        Ok(listed.networks.iter().filter_map(overlay_link).collect())
    }

    async fn create_overlay(&self, network: &TaskNetwork) -> Result<(), EngineError> {
        self.networks()
            .await?
            .create(overlay_request(network))
            .await?;
        Ok(())
    }

    async fn set_peers(&self, network: &str, peers: &[RemoteEndpoint]) -> Result<(), EngineError> {
        let request = proto::NetworkPeersRequest {
            network: network.to_owned(),
            peers: peers
                .iter()
                .map(|p| proto::OverlayPeer {
                    ip: p.ip.to_string(),
                    mac: p.mac.clone(),
                    node: p.node.to_string(),
                    names: p.names.clone(),
                })
                .collect(),
        };
        self.networks().await?.set_peers(request).await?;
        Ok(())
    }

    async fn set_keys(&self, network: &str, keys: &[OverlayKeyWire]) -> Result<(), EngineError> {
        let keys = keys
            .iter()
            .map(|k| {
                let secret = hex::decode(&k.secret).map_err(|_| {
                    EngineError::Refused(format!("network {network}: key {} is not hex", k.id))
                })?;
                Ok(proto::OverlayKey {
                    id: k.id,
                    secret,
                    primary: k.primary,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let request = proto::NetworkKeysRequest {
            network: network.to_owned(),
            keys,
        };
        self.networks().await?.set_keys(request).await?;
        Ok(())
    }

    async fn set_services(
        &self,
        network: &str,
        services: &[ServiceVip],
    ) -> Result<(), EngineError> {
        let request = proto::NetworkServicesRequest {
            network: network.to_owned(),
            services: services
                .iter()
                .map(|s| proto::OverlayService {
                    vip: s.vip.to_string(),
                    names: s.names.clone(),
                    backends: s.backends.iter().map(ToString::to_string).collect(),
                    ports: s
                        .ports
                        .iter()
                        .map(|p| proto::OverlayServicePort {
                            name: p.name.clone(),
                            protocol: p.protocol.clone(),
                            port: u32::from(p.port),
                        })
                        .collect(),
                })
                .collect(),
        };
        self.networks().await?.set_services(request).await?;
        Ok(())
    }

    async fn set_mesh(&self, network: &str, ports: &[IngressPort]) -> Result<(), EngineError> {
        let request = proto::NetworkMeshRequest {
            network: network.to_owned(),
            ports: ports
                .iter()
                .map(|p| proto::MeshPort {
                    protocol: p.protocol.clone(),
                    published: u32::from(p.published),
                    target: u32::from(p.target),
                    backends: p.backends.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        };
        self.networks().await?.set_mesh(request).await?;
        Ok(())
    }

    async fn remove_overlay(&self, network: &str) -> Result<(), EngineError> {
        let request = proto::NetworkRef {
            network: network.to_owned(),
        };
        self.networks().await?.remove(request).await?;
        Ok(())
    }
}
