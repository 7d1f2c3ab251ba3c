//! The simulated node's task runtime: containers in memory, no processes. A container
//! "starts" after the configured delay, runs until it is stopped or crashed by the
//! simulator, and its exit wakes whoever waits on it — the node's task actors make the
//! same calls on it as on a real agent.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use api::agent as proto;
use cluster_manager::dispatcher::networks::{IngressPort, RemoteEndpoint, ServiceVip, TaskNetwork};
use cluster_manager::tasks::engine::{EngineError, Health, TaskContainer, TaskEngine};
use cluster_manager::tasks::machine::Found;
use cluster_manager::tasks::overlays::OverlayLink;
use cluster_manager::tasks::translate::TASK_ID;
use cluster_state::RegistryAuth;
use tokio::sync::watch;

/// The exit code of a container crashed by the simulator.
pub const CRASH_EXIT_CODE: i32 = 137;

/// One simulated container.
#[derive(Debug)]
struct Container {
    name: String,
    task: String,
    /// Started and not exited.
    running: bool,
    /// Its exit code once it exited; waiters watch it.
    exit: watch::Sender<Option<i32>>,
}

impl Container {
    fn exited(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    fn found(&self, id: &str) -> Found {
        match self.exited() {
            Some(code) => Found::Exited(id.to_owned(), code),
            None if self.running => Found::Running(id.to_owned()),
            None => Found::Created(id.to_owned()),
        }
    }

    fn end(&mut self, code: i32) {
        self.running = false;
        self.exit.send_if_modified(|exit| {
            if exit.is_some() {
                return false;
            }
            *exit = Some(code);
            true
        });
    }
}

#[derive(Debug, Default)]
struct State {
    containers: BTreeMap<String, Container>,
    overlays: BTreeMap<String, OverlayLink>,
    next: u64,
}

/// The in-memory runtime of one simulated node. A std mutex guards it: held only to read or
/// change the maps, never across an await.
#[derive(Debug)]
pub struct SimEngine {
    start_delay: Duration,
    state: Mutex<State>,
}

fn missing(id: &str) -> EngineError {
    EngineError::NotFound(format!("no such container: {id}"))
}

impl SimEngine {
    /// An empty runtime whose containers take `start_delay` to start.
    pub fn new(start_delay: Duration) -> Self {
        SimEngine {
            start_delay,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ids of the tasks whose container is running.
    pub fn running_tasks(&self) -> Vec<String> {
        self.lock()
            .containers
            .values()
            .filter(|c| c.running)
            .map(|c| c.task.clone())
            .collect()
    }

    /// How many containers run.
    pub fn running(&self) -> usize {
        self.lock()
            .containers
            .values()
            .filter(|c| c.running)
            .count()
    }

    /// Makes up to `count` running containers exit with [`CRASH_EXIT_CODE`]; how many did.
    pub fn crash(&self, count: usize) -> usize {
        let mut state = self.lock();
        let mut crashed = 0;
        for c in state.containers.values_mut().filter(|c| c.running) {
            if crashed == count {
                break;
            }
            c.end(CRASH_EXIT_CODE);
            crashed += 1;
        }
        crashed
    }

    /// Forgets every container and overlay, as a machine that died loses them; whoever
    /// waits on a container sees it gone.
    pub fn wipe(&self) {
        let mut state = self.lock();
        state.containers.clear();
        state.overlays.clear();
    }

    fn exit_watch(&self, id: &str) -> Result<watch::Receiver<Option<i32>>, EngineError> {
        let state = self.lock();
        let c = state.containers.get(id).ok_or_else(|| missing(id))?;
        Ok(c.exit.subscribe())
    }
}

#[tonic::async_trait]
impl TaskEngine for SimEngine {
    async fn ensure_image(
        &self,
        _image: &str,
        _auth: Option<&RegistryAuth>,
    ) -> Result<(), EngineError> {
        Ok(())
    }

    async fn create(&self, request: proto::CreateRequest) -> Result<String, EngineError> {
        let task = request
            .config
            .as_ref()
            .and_then(|c| c.labels.get(TASK_ID).cloned())
            .unwrap_or_default();
        let mut state = self.lock();
        if state.containers.values().any(|c| c.name == request.name) {
            return Err(EngineError::Refused(format!(
                "name {} in use",
                request.name
            )));
        }
        state.next += 1;
        let id = format!("sim{}", state.next);
        let (exit, _) = watch::channel(None);
        state.containers.insert(
            id.clone(),
            Container {
                name: request.name,
                task,
                running: false,
                exit,
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
        if !self.lock().containers.contains_key(id) {
            return Err(missing(id));
        }
        tokio::time::sleep(self.start_delay).await;
        let mut state = self.lock();
        let c = state.containers.get_mut(id).ok_or_else(|| missing(id))?;
        if c.exited().is_none() {
            c.running = true;
        }
        Ok(())
    }

    async fn wait(&self, id: &str) -> Result<i32, EngineError> {
        let mut exit = self.exit_watch(id)?;
        match exit.wait_for(Option::is_some).await {
            Ok(code) => Ok(code.unwrap_or_default()),
            // The container was forgotten (the machine died).
            Err(_) => Err(missing(id)),
        }
    }

    async fn stop(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        let c = state.containers.get_mut(id).ok_or_else(|| missing(id))?;
        c.end(0);
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        match state.containers.get(id) {
            None => Err(missing(id)),
            Some(c) if c.running => Err(EngineError::Refused(format!("container {id} is running"))),
            Some(_) => {
                state.containers.remove(id);
                Ok(())
            }
        }
    }

    async fn task_containers(&self) -> Result<Vec<TaskContainer>, EngineError> {
        Ok(self
            .lock()
            .containers
            .iter()
            .map(|(id, c)| TaskContainer {
                task_id: c.task.clone(),
                found: c.found(id),
            })
            .collect())
    }

    async fn health(&self, id: &str) -> Result<Health, EngineError> {
        if self.lock().containers.contains_key(id) {
            Ok(Health::None)
        } else {
            Err(missing(id))
        }
    }

    async fn overlays(&self) -> Result<Vec<OverlayLink>, EngineError> {
        Ok(self.lock().overlays.values().cloned().collect())
    }

    async fn create_overlay(&self, network: &TaskNetwork) -> Result<(), EngineError> {
        let link = OverlayLink {
            name: network.name.clone(),
            cluster_id: network.id.clone(),
            vni: network.vni,
            peers: Vec::new(),
            services: Vec::new(),
            mesh: Vec::new(),
        };
        self.lock().overlays.insert(network.name.clone(), link);
        Ok(())
    }

    async fn set_peers(&self, network: &str, peers: &[RemoteEndpoint]) -> Result<(), EngineError> {
        let mut state = self.lock();
        let link = state
            .overlays
            .get_mut(network)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))?;
        let mut peers = peers.to_vec();
        peers.sort();
        link.peers = peers;
        Ok(())
    }

    async fn set_services(
        &self,
        network: &str,
        services: &[ServiceVip],
    ) -> Result<(), EngineError> {
        let mut state = self.lock();
        let link = state
            .overlays
            .get_mut(network)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))?;
        link.services = services.to_vec();
        Ok(())
    }

    async fn set_mesh(&self, network: &str, ports: &[IngressPort]) -> Result<(), EngineError> {
        let mut state = self.lock();
        let link = state
            .overlays
            .get_mut(network)
            .ok_or_else(|| EngineError::NotFound(format!("network {network} not found")))?;
        link.mesh = ports.to_vec();
        Ok(())
    }

    async fn remove_overlay(&self, network: &str) -> Result<(), EngineError> {
        match self.lock().overlays.remove(network) {
            Some(_) => Ok(()),
            None => Err(EngineError::NotFound(format!(
                "network {network} not found"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, task: &str) -> proto::CreateRequest {
        proto::CreateRequest {
            name: name.into(),
            config: Some(proto::ContainerConfig {
                labels: [(TASK_ID.to_owned(), task.to_owned())].into(),
                ..proto::ContainerConfig::default()
            }),
            ..proto::CreateRequest::default()
        }
    }

    #[tokio::test]
    async fn containers_start_run_crash_and_are_listed_by_task() {
        let engine = SimEngine::new(Duration::ZERO);
        let id = engine
            .create(request("web.1.t1", "t1"))
            .await
            .expect("created");
        assert!(matches!(
            engine.create(request("web.1.t1", "t1")).await,
            Err(EngineError::Refused(_))
        ));
        assert_eq!(engine.running(), 0);
        engine.start(&id).await.expect("started");
        assert_eq!(engine.running_tasks(), vec!["t1".to_owned()]);
        assert!(matches!(
            engine.remove(&id).await,
            Err(EngineError::Refused(_))
        ));
        let waiter = {
            let exit = engine.exit_watch(&id).expect("watch");
            tokio::spawn(async move {
                let mut exit = exit;
                exit.wait_for(Option::is_some)
                    .await
                    .map(|c| *c)
                    .ok()
                    .flatten()
            })
        };
        assert_eq!(engine.crash(5), 1);
        assert_eq!(waiter.await.expect("joined"), Some(CRASH_EXIT_CODE));
        assert_eq!(engine.wait(&id).await.expect("exited"), CRASH_EXIT_CODE);
        let listed = engine.task_containers().await.expect("listed");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].task_id, "t1");
        assert_eq!(listed[0].found, Found::Exited(id.clone(), CRASH_EXIT_CODE));
        engine.remove(&id).await.expect("removed");
        assert!(matches!(
            engine.wait(&id).await,
            Err(EngineError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_wiped_engine_ends_its_waiters_with_not_found() {
        let engine = std::sync::Arc::new(SimEngine::new(Duration::ZERO));
        let id = engine
            .create(request("web.2.t2", "t2"))
            .await
            .expect("created");
        engine.start(&id).await.expect("started");
        let waiting = {
            let engine = engine.clone();
            let id = id.clone();
            tokio::spawn(async move { engine.wait(&id).await })
        };
        tokio::task::yield_now().await;
        engine.wipe();
        assert!(matches!(
            waiting.await.expect("joined"),
            Err(EngineError::NotFound(_))
        ));
        assert_eq!(engine.running(), 0);
    }
}
