//! A recording fake of the agent for the runner's and the fetch's tests: containers in memory,
//! every call logged, images that can be made to fail their pull, exits caused by the test,
//! and a blob store that verifies digests as the agent's does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use api::agent as proto;

use tokio_stream::StreamExt;

use crate::dispatcher::networks::{
    IngressPort, OverlayKeyWire, RemoteEndpoint, ServiceVip, TaskNetwork,
};
use crate::tasks::engine::{EngineError, Health, TaskContainer, TaskEngine};
use crate::tasks::fetch::{ByteStream, Receiver, sha256};
use crate::tasks::machine::Found;
use crate::tasks::overlays::OverlayLink;
use crate::tasks::translate::TASK_ID;

#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) task: String,
    pub(crate) running: bool,
    pub(crate) exit: Option<i32>,
    pub(crate) health: Health,
    /// The networks it joins (attached while it runs, as on the agent).
    pub(crate) networks: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) containers: BTreeMap<String, Container>,
    pub(crate) calls: Vec<String>,
    pub(crate) bad_images: BTreeSet<String>,
    /// Blobs stored by a fetch, by digest.
    pub(crate) blobs: BTreeMap<String, Vec<u8>>,
    /// Images a fetch registered, by reference.
    pub(crate) images: Vec<String>,
    /// Overlays of cluster networks, by name.
    pub(crate) overlays: BTreeMap<String, OverlayLink>,
    next: u32,
}

/// The fake agent. A std mutex: never held across an await.
#[derive(Debug, Default)]
pub(crate) struct FakeEngine {
    pub(crate) state: Mutex<State>,
}

impl FakeEngine {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// Makes container `id` exit with `code`.
    pub(crate) fn exit(&self, id: &str, code: i32) {
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.running = false;
            c.exit = Some(code);
        }
    }

    /// Sets what container `id`'s healthcheck says.
    pub(crate) fn set_health(&self, id: &str, health: Health) {
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.health = health;
        }
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn call(&self, text: String) {
        self.lock().calls.push(text);
    }
}

fn missing(id: &str) -> EngineError {
    EngineError::NotFound(format!("no such container: {id}"))
}

#[tonic::async_trait]
impl TaskEngine for FakeEngine {
    async fn ensure_image(
        &self,
        image: &str,
        auth: Option<&cluster_state::RegistryAuth>,
    ) -> Result<(), EngineError> {
        match auth {
            Some(auth) => self.call(format!("pull {image} as {}", auth.username)),
            None => self.call(format!("pull {image}")),
        }
        if self.lock().bad_images.contains(image) {
            return Err(EngineError::Refused(format!("pull {image}: not found")));
        }
        Ok(())
    }

    async fn create(&self, request: proto::CreateRequest) -> Result<String, EngineError> {
        self.call(format!("create {}", request.name));
        // A container with a healthcheck starts unchecked, as the engine's does.
        let checked = request
            .config
            .as_ref()
            .is_some_and(|c| c.healthcheck.is_some());
        let task = request
            .config
            .as_ref()
            .and_then(|c| c.labels.get(TASK_ID).cloned())
            .unwrap_or_default();
        let networks: Vec<String> = request
            .config
            .iter()
            .flat_map(|c| c.networks.iter().map(|n| n.network.clone()))
            .collect();
        let mut state = self.lock();
        if let Some(absent) = networks.iter().find(|n| !state.overlays.contains_key(*n)) {
            return Err(EngineError::NotFound(format!("network {absent} not found")));
        }
        if state.containers.values().any(|c| c.name == request.name) {
            return Err(EngineError::Refused(format!(
                "name {} in use",
                request.name
            )));
        }
        state.next += 1;
        let id = format!("c{}", state.next);
        state.containers.insert(
            id.clone(),
            Container {
                name: request.name,
                task,
                running: false,
                exit: None,
                health: if checked {
                    Health::Starting
                } else {
                    Health::None
                },
                networks,
            },
        );
        Ok(id)
    }

    async fn find(&self, name: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .lock()
            .containers
            .iter()
            .find(|(_, c)| c.name == name)
            .map(|(id, _)| id.clone()))
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.call(format!("start {id}"));
        let mut state = self.lock();
        let c = state.containers.get_mut(id).ok_or_else(|| missing(id))?;
        c.running = true;
        Ok(())
    }

    async fn wait(&self, id: &str) -> Result<i32, EngineError> {
        loop {
            {
                let state = self.lock();
                let c = state.containers.get(id).ok_or_else(|| missing(id))?;
                if let Some(code) = c.exit {
                    return Ok(code);
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(&self, id: &str) -> Result<(), EngineError> {
        self.call(format!("stop {id}"));
        let mut state = self.lock();
        let c = state.containers.get_mut(id).ok_or_else(|| missing(id))?;
        if c.running {
            c.running = false;
            c.exit = Some(143);
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.call(format!("remove {id}"));
        self.lock()
            .containers
            .remove(id)
            .map(drop)
            .ok_or_else(|| missing(id))
    }

    async fn health(&self, id: &str) -> Result<Health, EngineError> {
        let state = self.lock();
        Ok(state.containers.get(id).ok_or_else(|| missing(id))?.health)
    }

    async fn task_containers(&self) -> Result<Vec<TaskContainer>, EngineError> {
        Ok(self
            .lock()
            .containers
            .iter()
            .map(|(id, c)| TaskContainer {
                task_id: c.task.clone(),
                found: match (c.running, c.exit) {
                    (true, _) => Found::Running(id.clone()),
                    (false, Some(code)) => Found::Exited(id.clone(), code),
                    (false, None) => Found::Created(id.clone()),
                },
            })
            .collect())
    }

    async fn overlays(&self) -> Result<Vec<OverlayLink>, EngineError> {
        Ok(self.lock().overlays.values().cloned().collect())
    }

    async fn create_overlay(&self, network: &TaskNetwork) -> Result<(), EngineError> {
        self.call(format!(
            "create overlay {} vni {}",
            network.name, network.vni
        ));
        let mut state = self.lock();
        if state.overlays.contains_key(&network.name) {
            return Err(EngineError::Refused(format!(
                "network {} already exists",
                network.name
            )));
        }
        state.overlays.insert(
            network.name.clone(),
            OverlayLink {
                name: network.name.clone(),
                cluster_id: network.id.clone(),
                vni: network.vni,
                peers: Vec::new(),
                services: Vec::new(),
                mesh: Vec::new(),
            },
        );
        Ok(())
    }

    async fn set_keys(&self, network: &str, keys: &[OverlayKeyWire]) -> Result<(), EngineError> {
        let ids: Vec<String> = keys
            .iter()
            .map(|k| format!("{}{}", k.id, if k.primary { "*" } else { "" }))
            .collect();
        self.call(format!("keys {network} {}", ids.join(",")));
        if !self.lock().overlays.contains_key(network) {
            return Err(EngineError::NotFound(format!("network {network} not found")));
        }
        Ok(())
    }

    async fn set_peers(&self, network: &str, peers: &[RemoteEndpoint]) -> Result<(), EngineError> {
        let ips: Vec<String> = peers.iter().map(|p| p.ip.to_string()).collect();
        self.call(format!("peers {network} {}", ips.join(",")));
        let mut state = self.lock();
        let link = state
            .overlays
            .get_mut(network)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))?;
        link.peers = peers.to_vec();
        Ok(())
    }

    async fn set_services(
        &self,
        network: &str,
        services: &[ServiceVip],
    ) -> Result<(), EngineError> {
        let vips: Vec<String> = services.iter().map(|s| s.vip.to_string()).collect();
        self.call(format!("services {network} {}", vips.join(",")));
        let mut state = self.lock();
        let link = state
            .overlays
            .get_mut(network)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))?;
        link.services = services.to_vec();
        Ok(())
    }

    async fn set_mesh(&self, network: &str, ports: &[IngressPort]) -> Result<(), EngineError> {
        let published: Vec<String> = ports.iter().map(|p| p.published.to_string()).collect();
        self.call(format!("mesh {network} {}", published.join(",")));
        let mut state = self.lock();
        let link = state
            .overlays
            .get_mut(network)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))?;
        link.mesh = ports.to_vec();
        Ok(())
    }

    async fn remove_overlay(&self, network: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        if state
            .containers
            .values()
            .any(|c| c.running && c.networks.iter().any(|n| n == network))
        {
            return Err(EngineError::Refused(format!(
                "network {network} has attached containers"
            )));
        }
        state.calls.push(format!("remove overlay {network}"));
        state
            .overlays
            .remove(network)
            .map(drop)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))
    }
}

/// The digests a manifest names (config, then layers).
fn named_blobs(manifest: &[u8]) -> Result<Vec<String>, EngineError> {
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .map_err(|e| EngineError::Refused(format!("image manifest: {e}")))?;
    let digest =
        |v: &serde_json::Value| v.get("digest").and_then(|d| d.as_str()).map(str::to_owned);
    let config = value.get("config").and_then(digest);
    let layers = value
        .get("layers")
        .and_then(|l| l.as_array())
        .map(|l| l.iter().filter_map(digest).collect::<Vec<_>>())
        .unwrap_or_default();
    Ok(config.into_iter().chain(layers).collect())
}

#[tonic::async_trait]
impl Receiver for FakeEngine {
    async fn missing_blobs(
        &self,
        manifest: &[u8],
        _media_type: &str,
    ) -> Result<Vec<String>, EngineError> {
        let named = named_blobs(manifest)?;
        let state = self.lock();
        Ok(named
            .into_iter()
            .filter(|d| !state.blobs.contains_key(d))
            .collect())
    }

    async fn put_blob(&self, digest: &str, mut data: ByteStream) -> Result<(), EngineError> {
        let mut content = Vec::new();
        while let Some(chunk) = data.next().await {
            content.extend(chunk.map_err(EngineError::Refused)?);
        }
        let actual = sha256(&content);
        if actual != digest {
            return Err(EngineError::Refused(format!(
                "blob digest mismatch: expected {digest}, got {actual}"
            )));
        }
        self.lock().blobs.insert(actual, content);
        Ok(())
    }

    async fn add_manifest(
        &self,
        reference: &str,
        manifest: Vec<u8>,
        _media_type: String,
    ) -> Result<(), EngineError> {
        let named = named_blobs(&manifest)?;
        let mut state = self.lock();
        if let Some(absent) = named.iter().find(|d| !state.blobs.contains_key(*d)) {
            return Err(EngineError::Refused(format!("missing layer blob {absent}")));
        }
        state.images.push(reference.to_owned());
        Ok(())
    }
}
