//! The agent's view of this node: the engine runtime plus the agent's container metadata, with
//! every engine call moved onto tokio's blocking pool.
//!
//! The metadata index sits behind a `std::sync::Mutex`: every critical section is a few map
//! operations and none spans an `.await`, so an async mutex would only add cost.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use engine::image::ImageStore;
use engine::network::Networks;
use engine::volume::VolumeStore;
use engine::{ContainerState, Runtime};
use nix::sys::signal::Signal;

use super::AgentError;
use super::filter::Filters;
use super::meta::{Meta, MetaStore};
use super::names;
use super::prepare::{self, Mode};
use super::request::{ContainerRequest, NetworkMode};
use super::summary::{ContainerSummary, StatsSample};

/// The default network's name.
pub(crate) const DEFAULT_NETWORK: &str = "bridge";

/// How long one blocking wait runs before the async side checks whether anyone still waits.
const WAIT_SLICE: Duration = Duration::from_millis(500);

/// The node's containers as the agent manages them.
#[derive(Debug)]
pub struct Node {
    runtime: Runtime,
    store: MetaStore,
    index: Mutex<BTreeMap<String, Meta>>,
    supervised: Mutex<HashSet<String>>,
    data_root: PathBuf,
    run_root: PathBuf,
}

/// Runs an engine call on the blocking pool; a panic in it becomes an error, not a crash.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, AgentError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AgentError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AgentError::Internal(format!("engine task failed: {e}")))?
}

impl Node {
    /// Opens the node over `runtime`, whose roots are `data_root` and `run_root`: finishes or
    /// removes what an agent that died half-way left (see [`Runtime::recover`]), loads the
    /// metadata, removes engine containers that have none (their create never returned) and
    /// drops metadata whose container is gone, with its anonymous volumes. Blocking; call
    /// before serving.
    pub fn open(
        runtime: Runtime,
        data_root: &Path,
        run_root: &Path,
    ) -> Result<Arc<Node>, AgentError> {
        let recovered = runtime.recover()?;
        if recovered != engine::runtime::Recovered::default() {
            tracing::warn!(removed = ?recovered.removed, started = ?recovered.started, "recovered from an unfinished run");
        }
        let store = MetaStore::new(data_root, run_root);
        let mut index: BTreeMap<String, Meta> = BTreeMap::new();
        let engine_ids = runtime.list()?;
        for meta in store.load_all()? {
            if engine_ids.contains(&meta.id) {
                index.insert(meta.id.clone(), meta);
            } else {
                prepare::discard_volumes(&runtime, &meta);
                store.delete(&meta.id)?;
            }
        }
        for id in engine_ids {
            if !index.contains_key(&id) {
                // The agent records a container before its create returns: one without a
                // record was never handed to anybody.
                tracing::warn!(container = %id, "removing a container whose create did not finish");
                runtime.remove(&id, true)?;
            }
        }
        tracing::info!(containers = index.len(), "adopted containers");
        Ok(Arc::new(Node {
            runtime,
            store,
            index: Mutex::new(index),
            supervised: Mutex::new(HashSet::new()),
            data_root: data_root.to_path_buf(),
            run_root: run_root.to_path_buf(),
        }))
    }

    /// Creates the default `bridge` network when it is missing and rebuilds the kernel side of
    /// every network (bridges, firewall rules) from the records. Blocking; call before serving.
    pub fn prepare_networks(&self) -> Result<(), AgentError> {
        match self.networks().inspect(DEFAULT_NETWORK) {
            Ok(_) => {}
            Err(engine::network::NetworkError::NotFound(_)) => {
                self.networks()
                    .create(&engine::network::CreateNetwork {
                        name: DEFAULT_NETWORK.into(),
                        ..Default::default()
                    })
                    .map_err(engine::Error::from)?;
                tracing::info!(network = DEFAULT_NETWORK, "created the default network");
            }
            Err(err) => return Err(engine::Error::from(err).into()),
        }
        self.networks().restore().map_err(engine::Error::from)?;
        Ok(())
    }

    /// The data root.
    pub fn data_root(&self) -> &Path {
        &self.data_root
    }

    /// The run root.
    pub fn run_root(&self) -> &Path {
        &self.run_root
    }

    /// The engine runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The node's image store.
    pub fn images(&self) -> &ImageStore {
        self.runtime.images()
    }

    /// The node's volumes.
    pub fn volumes(&self) -> &VolumeStore {
        self.runtime.volumes()
    }

    /// The node's networks.
    pub fn networks(&self) -> &Networks {
        self.runtime.networks()
    }

    /// Ids of the containers (any state) mounting volume `name`.
    pub fn containers_using_volume(&self, name: &str) -> Vec<String> {
        self.index()
            .values()
            .filter(|m| m.uses_volume(name))
            .map(|m| m.id.clone())
            .collect()
    }

    /// Ids of the containers (any state) made from image `image_id` (`sha256:…`).
    pub fn containers_using_image(&self, image_id: &str) -> Vec<String> {
        self.index()
            .values()
            .filter(|m| !m.image_id.is_empty() && m.image_id == image_id)
            .map(|m| m.id.clone())
            .collect()
    }

    /// Ids of the containers (any state) configured to join network `network`: matched by
    /// the network's name or id as the container named it (`bridge` also for the default
    /// mode). Attached running containers are also in the network's endpoints.
    pub fn containers_using_network(&self, name: &str, id: &str) -> Vec<String> {
        self.index()
            .values()
            .filter(|m| {
                m.networks.iter().any(|n| {
                    n.network == name
                        || n.network == id
                        || (n.network.len() >= 12 && id.starts_with(&n.network))
                })
            })
            .map(|m| m.id.clone())
            .collect()
    }

    fn index(&self) -> MutexGuard<'_, BTreeMap<String, Meta>> {
        // A panic while holding this lock leaves the map itself consistent (every update is one
        // insert or remove), so a poisoned lock is still usable.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves a full id, unique id prefix or name to a container id.
    pub fn resolve(&self, reference: &str) -> Result<String, AgentError> {
        names::resolve(&self.index(), reference)
    }

    /// The containers under supervision.
    pub(super) fn supervised(&self) -> MutexGuard<'_, HashSet<String>> {
        // Every update is one insert or remove: a poisoned lock is still consistent.
        self.supervised.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every container id.
    pub(super) fn ids(&self) -> Vec<String> {
        self.index().keys().cloned().collect()
    }

    pub(super) fn meta(&self, id: &str) -> Result<Meta, AgentError> {
        self.index()
            .get(id)
            .cloned()
            .ok_or_else(|| AgentError::NotFound(id.to_string()))
    }

    /// Creates a container; returns its id and name.
    pub async fn create(&self, request: &ContainerRequest) -> Result<(String, String), AgentError> {
        let config = &request.config;
        let mode = match &config.network_mode {
            NetworkMode::Host => Mode::Host,
            NetworkMode::None => Mode::None,
            NetworkMode::Container(target) => Mode::Container(self.resolve(target)?),
            NetworkMode::Unspecified | NetworkMode::Default | NetworkMode::Network(_) => {
                Mode::Networks
            }
        };
        let shared = crate::shared::Shared::resolve(config, |r| self.resolve(r))?;
        let id = names::new_id();
        let mut meta = {
            let mut index = self.index();
            let name = match &request.name {
                None => names::generate_name(|n| index.values().any(|m| m.name == n)),
                Some(name) => {
                    if let Some(other) = index.values().find(|m| &m.name == name) {
                        return Err(AgentError::NameInUse {
                            name: name.clone(),
                            id: other.id.clone(),
                        });
                    }
                    name.clone()
                }
            };
            let mut meta = Meta::new(id.clone(), name);
            meta.auto_remove = request.auto_remove;
            meta.labels = config.labels.clone();
            index.insert(id.clone(), meta.clone());
            meta
        };
        let (runtime, store, config) = (self.runtime.clone(), self.store.clone(), config.clone());
        let created = blocking(move || {
            let prepared = crate::files::materialize(&store.files_dirs(&meta.id), &config)
                .and_then(|config| prepare::prepare(&runtime, &mut meta, &config, &mode))
                .and_then(|mut spec| {
                    shared.apply(&runtime, &mut spec)?;
                    Ok(spec)
                });
            let mut spec = match prepared {
                Ok(spec) => spec,
                Err(err) => {
                    prepare::discard_volumes(&runtime, &meta);
                    if let Err(cause) = crate::files::remove(&store.files_dirs(&meta.id)) {
                        tracing::warn!(container = %meta.id, cause = %cause, "cannot remove the files of a failed create");
                    }
                    return Err(err);
                }
            };
            // Its events name it (and its image, its labels) even once it is gone.
            spec.event_attributes = crate::events::container_attributes(&meta);
            let created = spec
                .validate()
                .map_err(|e| AgentError::from(engine::Error::from(e)))
                .and_then(|()| {
                    // The metadata record is flushed on a thread of its own while the engine
                    // creates the container: two device flushes overlap instead of queueing.
                    let (saved, created) = std::thread::scope(|scope| {
                        let saving = scope.spawn(|| store.save(&meta));
                        let created = runtime.create(&meta.id, &spec);
                        let saved = saving.join().unwrap_or_else(|_| {
                            Err(AgentError::Internal("saving metadata panicked".into()))
                        });
                        (saved, created)
                    });
                    match (saved, created) {
                        (Ok(()), Ok(_)) => {
                            engine::failpoint!("agent-created");
                            Ok(())
                        }
                        (Err(err), Ok(_)) => {
                            if let Err(cause) = runtime.remove(&meta.id, true) {
                                tracing::warn!(container = %meta.id, cause = %cause, "cannot remove a container whose metadata was not saved");
                            }
                            Err(err)
                        }
                        (_, Err(err)) => Err(err.into()),
                    }
                });
            if let Err(err) = created {
                let _ = store.delete(&meta.id);
                prepare::discard_volumes(&runtime, &meta);
                return Err(err);
            }
            Ok(meta)
        })
        .await;
        match created {
            Ok(meta) => {
                let name = meta.name.clone();
                self.index().insert(id.clone(), meta);
                tracing::info!(container = %id, name = %name, "created");
                Ok((id, name))
            }
            Err(err) => {
                self.index().remove(&id);
                Err(err)
            }
        }
    }

    /// Renames a container (its DNS name on networks changes at its next start).
    pub async fn rename(&self, reference: &str, new_name: &str) -> Result<(), AgentError> {
        names::check_name(new_name)?;
        let id = self.resolve(reference)?;
        let meta = {
            let mut index = self.index();
            if let Some(other) = index.values().find(|m| m.name == new_name && m.id != id) {
                return Err(AgentError::NameInUse {
                    name: new_name.to_string(),
                    id: other.id.clone(),
                });
            }
            let meta = index
                .get_mut(&id)
                .ok_or_else(|| AgentError::NotFound(reference.to_string()))?;
            let old_name = std::mem::replace(&mut meta.name, new_name.to_string());
            (meta.clone(), old_name)
        };
        let (meta, old_name) = meta;
        let store = self.store.clone();
        let runtime = self.runtime.clone();
        blocking(move || {
            store.save(&meta)?;
            // Its events name it anew from now on, its exit and removal included.
            let attributes = crate::events::container_attributes(&meta);
            if let Err(err) = runtime.set_event_attributes(&meta.id, attributes.clone()) {
                tracing::warn!(container = %meta.id, cause = %err, "its events keep the former name");
            }
            let mut event = engine::events::Event::new(&meta.id, engine::events::Action::Rename);
            event.attributes = attributes;
            runtime
                .events()
                .emit_or_warn(&event.with("oldName", format!("/{old_name}")));
            Ok(())
        })
        .await?;
        tracing::info!(container = %id, name = new_name, "renamed");
        Ok(())
    }

    /// The container's published ports with the host ports actually bound.
    pub async fn ports(
        &self,
        reference: &str,
    ) -> Result<Vec<engine::network::PortMapping>, AgentError> {
        Ok(self.inspect(reference).await?.0.ports)
    }

    /// Starts a created container and puts it under supervision (healthchecks, restart
    /// policy, auto-removal).
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        let i = id.clone();
        // As docker's: an exited container runs again (a new init with the same spec).
        blocking(move || match runtime.state(&i)?.state {
            ContainerState::Exited { .. } => Ok(runtime.restart(&i, None)?),
            _ => Ok(runtime.start(&i)?),
        })
        .await?;
        self.supervise(id.clone());
        tracing::info!(container = %id, "started");
        Ok(())
    }

    /// Stops a container (`timeout` overrides its grace period); returns its summary.
    pub async fn stop(
        &self,
        reference: &str,
        timeout: Option<Duration>,
    ) -> Result<ContainerSummary, AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        let i = id.clone();
        blocking(move || Ok(runtime.stop(&i, timeout)?)).await?;
        tracing::info!(container = %id, "stopped");
        self.summary(&id).await
    }

    /// Sends `signal` to the container's init.
    pub async fn kill(&self, reference: &str, signal: Signal) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        blocking(move || Ok(runtime.kill(&id, signal)?)).await
    }

    /// Freezes the container.
    pub async fn pause(&self, reference: &str) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        blocking(move || Ok(runtime.pause(&id)?)).await
    }

    /// Thaws the container.
    pub async fn unpause(&self, reference: &str) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        blocking(move || Ok(runtime.unpause(&id)?)).await
    }

    /// Removes the container (a live one only with `force`); with `volumes` also its
    /// anonymous volumes (named volumes are never removed with a container).
    pub async fn remove(
        &self,
        reference: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        self.remove_id(&id, force, volumes).await
    }

    pub(super) async fn remove_id(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), AgentError> {
        let (runtime, store) = (self.runtime.clone(), self.store.clone());
        let meta = self.meta(id).ok();
        let i = id.to_string();
        blocking(move || {
            match runtime.remove(&i, force) {
                Ok(()) | Err(engine::Error::Runtime(engine::RuntimeError::NotFound(_))) => {}
                Err(err) => return Err(err.into()),
            }
            if volumes && let Some(meta) = &meta {
                prepare::discard_volumes(&runtime, meta);
            }
            store.discard(&runtime, &i)
        })
        .await?;
        self.index().remove(id);
        tracing::info!(container = %id, "removed");
        Ok(())
    }

    /// Waits until the container has exited; returns its final state.
    pub async fn wait(&self, reference: &str) -> Result<ContainerState, AgentError> {
        let id = self.resolve(reference)?;
        self.wait_id(&id).await
    }

    pub(super) async fn wait_id(&self, id: &str) -> Result<ContainerState, AgentError> {
        loop {
            let runtime = self.runtime.clone();
            let i = id.to_string();
            let waited = blocking(move || Ok(runtime.wait(&i, Some(WAIT_SLICE)))).await?;
            match waited {
                Ok(state) => return Ok(state),
                Err(engine::Error::Runtime(engine::RuntimeError::Timeout { .. })) => continue,
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// The container's summary.
    pub async fn summary(&self, id: &str) -> Result<ContainerSummary, AgentError> {
        Ok(self.inspect_id(id).await?.0)
    }

    /// The container's summary and its engine spec.
    pub async fn inspect(
        &self,
        reference: &str,
    ) -> Result<(ContainerSummary, engine::ContainerSpec), AgentError> {
        let id = self.resolve(reference)?;
        self.inspect_id(&id).await
    }

    async fn inspect_id(
        &self,
        id: &str,
    ) -> Result<(ContainerSummary, engine::ContainerSpec), AgentError> {
        let meta = self.meta(id)?;
        let runtime = self.runtime.clone();
        blocking(move || {
            let record = runtime.state(&meta.id)?;
            let spec = runtime.spec(&meta.id)?;
            let networks = runtime.networks().list().unwrap_or_default();
            Ok((
                ContainerSummary::new(&meta, &record, Some(&spec), &networks),
                spec,
            ))
        })
        .await
    }

    /// The containers passing `filters`; stopped ones only with `all` (or a state filter),
    /// newest first.
    pub async fn list(
        &self,
        all: bool,
        filters: &Filters,
    ) -> Result<Vec<ContainerSummary>, AgentError> {
        let metas: Vec<Meta> = self.index().values().cloned().collect();
        let runtime = self.runtime.clone();
        let mut out = blocking(move || {
            let networks = runtime.networks().list().unwrap_or_default();
            let mut out = Vec::with_capacity(metas.len());
            for meta in metas {
                // A container removed meanwhile is simply not listed.
                let Ok(record) = runtime.state(&meta.id) else {
                    continue;
                };
                let spec = runtime.spec(&meta.id).ok();
                out.push(ContainerSummary::new(
                    &meta,
                    &record,
                    spec.as_ref(),
                    &networks,
                ));
            }
            Ok(out)
        })
        .await?;
        let mut filters = filters.clone();
        filters.anchor(&out)?;
        let show_stopped = all || filters.selects_state();
        out.retain(|c| (show_stopped || c.runs()) && filters.matches(c));
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// A resource usage sample of a live container.
    pub async fn stats(&self, reference: &str) -> Result<StatsSample, AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        blocking(move || {
            let stats = runtime.stats(&id)?;
            Ok(StatsSample {
                stats,
                read_at: engine::state::now_nanos(),
            })
        })
        .await
    }
}
