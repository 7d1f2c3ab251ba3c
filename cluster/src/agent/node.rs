//! The agent's view of this node: the engine runtime plus the agent's container metadata, with
//! every engine call moved onto tokio's blocking pool.
//!
//! The metadata index sits behind a `std::sync::Mutex`: every critical section is a few map
//! operations and none spans an `.await`, so an async mutex would only add cost.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use engine::{ContainerState, Runtime};
use nix::sys::signal::Signal;

use super::AgentError;
use super::convert;
use super::filter::Filters;
use super::meta::{Meta, MetaStore};
use super::names;
use super::proto;

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
pub async fn blocking<T, F>(f: F) -> Result<T, AgentError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AgentError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AgentError::Internal(format!("engine task failed: {e}")))?
}

impl Node {
    /// Opens the node over `runtime`, whose roots are `data_root` and `run_root`: loads the
    /// metadata, adopts engine containers that have none, and drops metadata whose container is
    /// gone. Blocking; call before serving.
    pub fn open(
        runtime: Runtime,
        data_root: &Path,
        run_root: &Path,
    ) -> Result<Arc<Node>, AgentError> {
        let store = MetaStore::new(data_root);
        let mut index: BTreeMap<String, Meta> = BTreeMap::new();
        let engine_ids = runtime.list()?;
        for meta in store.load_all()? {
            if engine_ids.contains(&meta.id) {
                index.insert(meta.id.clone(), meta);
            } else {
                store.delete(&meta.id)?;
            }
        }
        for id in engine_ids {
            if let std::collections::btree_map::Entry::Vacant(slot) = index.entry(id.clone()) {
                let meta = Meta {
                    name: names::short_id(&id).to_string(),
                    id,
                    auto_remove: false,
                };
                store.save(&meta)?;
                slot.insert(meta);
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
    pub async fn create(
        &self,
        name: &str,
        config: &proto::ContainerConfig,
        auto_remove: bool,
    ) -> Result<(String, String), AgentError> {
        let spec = convert::spec_from_config(config)?;
        spec.validate().map_err(engine::Error::from)?;
        if !name.is_empty() {
            names::check_name(name)?;
        }
        let id = names::new_id();
        let meta = {
            let mut index = self.index();
            let name = if name.is_empty() {
                names::generate_name(|n| index.values().any(|m| m.name == n))
            } else if let Some(other) = index.values().find(|m| m.name == name) {
                return Err(AgentError::NameInUse {
                    name: name.to_string(),
                    id: other.id.clone(),
                });
            } else {
                name.to_string()
            };
            let meta = Meta {
                id: id.clone(),
                name,
                auto_remove,
            };
            index.insert(id.clone(), meta.clone());
            meta
        };
        let (runtime, store, m) = (self.runtime.clone(), self.store.clone(), meta.clone());
        let created = blocking(move || {
            store.save(&m)?;
            if let Err(err) = runtime.create(&m.id, &spec) {
                let _ = store.delete(&m.id);
                return Err(err.into());
            }
            Ok(())
        })
        .await;
        if let Err(err) = created {
            self.index().remove(&id);
            return Err(err);
        }
        tracing::info!(container = %id, name = %meta.name, "created");
        Ok((id, meta.name))
    }

    /// Starts a created container and puts it under supervision (healthchecks, restart
    /// policy, auto-removal).
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        let i = id.clone();
        blocking(move || Ok(runtime.start(&i)?)).await?;
        self.supervise(id.clone());
        tracing::info!(container = %id, "started");
        Ok(())
    }

    /// Stops a container (`timeout` overrides its grace period); returns its summary.
    pub async fn stop(
        &self,
        reference: &str,
        timeout: Option<Duration>,
    ) -> Result<proto::ContainerSummary, AgentError> {
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

    /// Removes the container (a live one only with `force`).
    pub async fn remove(&self, reference: &str, force: bool) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        self.remove_id(&id, force).await
    }

    pub(super) async fn remove_id(&self, id: &str, force: bool) -> Result<(), AgentError> {
        let (runtime, store) = (self.runtime.clone(), self.store.clone());
        let i = id.to_string();
        blocking(move || {
            match runtime.remove(&i, force) {
                Ok(()) | Err(engine::Error::Runtime(engine::RuntimeError::NotFound(_))) => {}
                Err(err) => return Err(err.into()),
            }
            store.delete(&i)
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
    pub async fn summary(&self, id: &str) -> Result<proto::ContainerSummary, AgentError> {
        Ok(self.inspect_id(id).await?.0)
    }

    /// The container's summary and its engine spec.
    pub async fn inspect(
        &self,
        reference: &str,
    ) -> Result<(proto::ContainerSummary, engine::ContainerSpec), AgentError> {
        let id = self.resolve(reference)?;
        self.inspect_id(&id).await
    }

    async fn inspect_id(
        &self,
        id: &str,
    ) -> Result<(proto::ContainerSummary, engine::ContainerSpec), AgentError> {
        let meta = self.meta(id)?;
        let runtime = self.runtime.clone();
        blocking(move || {
            let record = runtime.state(&meta.id)?;
            let spec = runtime.spec(&meta.id)?;
            Ok((convert::summary(&meta, &record, Some(&spec)), spec))
        })
        .await
    }

    /// The containers passing `filters`; stopped ones only with `all` (or a state filter),
    /// newest first.
    pub async fn list(
        &self,
        all: bool,
        filters: &[String],
    ) -> Result<Vec<proto::ContainerSummary>, AgentError> {
        let filters = Filters::parse(filters)?;
        let metas: Vec<Meta> = self.index().values().cloned().collect();
        let runtime = self.runtime.clone();
        let mut out = blocking(move || {
            let mut out = Vec::with_capacity(metas.len());
            for meta in metas {
                // A container removed meanwhile is simply not listed.
                let Ok(record) = runtime.state(&meta.id) else {
                    continue;
                };
                let spec = runtime.spec(&meta.id).ok();
                out.push(convert::summary(&meta, &record, spec.as_ref()));
            }
            Ok(out)
        })
        .await?;
        let show_stopped = all || filters.selects_state();
        out.retain(|c| {
            (show_stopped || c.state == "running" || c.state == "paused") && filters.matches(c)
        });
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// A resource usage sample of a live container.
    pub async fn stats(&self, reference: &str) -> Result<proto::StatsResponse, AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime.clone();
        blocking(move || {
            let stats = runtime.stats(&id)?;
            Ok(convert::stats(&stats, engine::state::now_nanos()))
        })
        .await
    }
}
