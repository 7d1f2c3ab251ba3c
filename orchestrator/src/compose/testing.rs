//! A recording fake [`Backend`] (feature `testing`): applies each call to an in-memory world
//! the way the agent would, records every call with its start and end time, and can be told
//! to fail a call, to slow every call down, or to script the statuses a container goes
//! through once started.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use compose_spec::model::VolumeType;

use crate::compose::action::{BuildSpec, ContainerSpec, NetworkSpec, PreStartSpec, VolumeSpec};
use crate::compose::backend::Backend;
use crate::compose::error::{BackendError, BackendErrorKind};
use crate::compose::observed::{
    ContainerState, ContainerStatus, Mount, MountSource, Observed, ObservedContainer,
    ObservedNetwork, ObservedVolume,
};

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_VOLUME: &str = "com.docker.volume.anonymous";

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The call and its target (`start demo-web-1`, `create network demo_default`).
    pub op: String,
    /// When it began.
    pub started: Instant,
    /// When it returned.
    pub ended: Instant,
}

#[derive(Debug, Default)]
struct World {
    observed: Observed,
    registry: BTreeMap<String, String>,
    calls: Vec<Call>,
    failures: BTreeMap<String, String>,
    scripts: BTreeMap<String, Vec<ContainerStatus>>,
    pending: BTreeMap<String, VecDeque<ContainerStatus>>,
    next_id: u64,
    in_flight: usize,
    max_in_flight: usize,
}

/// An in-memory container engine.
#[derive(Debug, Default)]
pub struct FakeBackend {
    world: Mutex<World>,
    delay: Duration,
}

impl FakeBackend {
    /// A fake whose world starts as `observed`.
    pub fn new(observed: Observed) -> Self {
        Self {
            world: Mutex::new(World {
                observed,
                ..World::default()
            }),
            delay: Duration::ZERO,
        }
    }

    /// Makes every call (except status queries) take `delay`.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// What pulling `image` yields.
    pub fn publish(&self, image: &str, digest: &str) {
        self.lock()
            .registry
            .insert(image.to_string(), digest.to_string());
    }

    /// Makes the call `op` (as recorded, e.g. `start demo-db-1`) fail with `message`.
    pub fn fail(&self, op: &str, message: &str) {
        self.lock()
            .failures
            .insert(op.to_string(), message.to_string());
    }

    /// The statuses a container of `service` goes through once started, one per status query;
    /// the last one stays. Without a script a started container is running.
    pub fn script(&self, service: &str, statuses: Vec<ContainerStatus>) {
        self.lock().scripts.insert(service.to_string(), statuses);
    }

    /// The whole world, every project included.
    pub fn world(&self) -> Observed {
        self.lock().observed.clone()
    }

    /// Replaces the world.
    pub fn set_world(&self, observed: Observed) {
        self.lock().observed = observed;
    }

    /// The calls made so far, in the order they began.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.lock().calls.clone();
        calls.sort_by_key(|c| c.started);
        calls
    }

    /// The recorded operations, in the order they began.
    pub fn ops(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.op).collect()
    }

    /// The most calls that ran at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves a world a test may still inspect.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `op`, waits the delay, then applies `apply` unless the op is set to fail.
    fn call<T>(
        &self,
        op: String,
        apply: impl FnOnce(&mut World) -> Result<T, String>,
    ) -> Result<T, BackendError> {
        self.call_with(op, |w| apply(w).map_err(BackendError::other))
    }

    /// [`FakeBackend::call`] for an `apply` that chooses the kind of its failure.
    fn call_with<T>(
        &self,
        op: String,
        apply: impl FnOnce(&mut World) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let started = Instant::now();
        {
            let mut world = self.lock();
            world.in_flight += 1;
            world.max_in_flight = world.max_in_flight.max(world.in_flight);
        }
        if !self.delay.is_zero() {
            thread::sleep(self.delay);
        }
        let mut world = self.lock();
        world.in_flight -= 1;
        let result = match world.failures.get(&op).cloned() {
            Some(message) => Err(BackendError::other(message)),
            None => apply(&mut world),
        };
        world.calls.push(Call {
            op,
            started,
            ended: Instant::now(),
        });
        result
    }
}

impl World {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{:012x}{:052x}", self.next_id, self.next_id)
    }

    fn container(&mut self, name: &str) -> Result<&mut ObservedContainer, String> {
        self.observed
            .containers
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("no such container: {name}"))
    }

    fn uses_volume(&self, volume: &str) -> Option<&str> {
        self.observed
            .containers
            .iter()
            .find(|c| {
                c.mounts.iter().any(
                    |m| matches!(&m.source, MountSource::Volume { name, .. } if name == volume),
                )
            })
            .map(|c| c.name.as_str())
    }
}

impl Backend for FakeBackend {
    fn observe(&self, project: &str) -> Result<Observed, BackendError> {
        let world = self.lock();
        let mut observed = world.observed.clone();
        observed.containers.retain(|c| c.project() == Some(project));
        Ok(observed)
    }

    fn create_network(&self, spec: &NetworkSpec) -> Result<(), BackendError> {
        self.call(format!("create network {}", spec.name), |w| {
            if w.observed.network(&spec.name).is_some() {
                return Err(format!("network {} already exists", spec.name));
            }
            let id = w.id();
            w.observed.networks.push(ObservedNetwork {
                id,
                name: spec.name.clone(),
                labels: spec.labels.clone(),
            });
            Ok(())
        })
    }

    fn remove_network(&self, name: &str) -> Result<(), BackendError> {
        self.call(format!("remove network {name}"), |w| {
            if w.observed.network(name).is_none() {
                return Err(format!("no such network: {name}"));
            }
            if let Some(c) = w
                .observed
                .containers
                .iter()
                .find(|c| c.networks.iter().any(|n| n == name))
            {
                return Err(format!("network {name} has active endpoints ({})", c.name));
            }
            w.observed.networks.retain(|n| n.name != name);
            Ok(())
        })
    }

    fn create_volume(&self, spec: &VolumeSpec) -> Result<(), BackendError> {
        self.call(format!("create volume {}", spec.name), |w| {
            if w.observed.volume(&spec.name).is_none() {
                w.observed.volumes.push(ObservedVolume {
                    name: spec.name.clone(),
                    labels: spec.labels.clone(),
                });
            }
            Ok(())
        })
    }

    fn remove_volume(&self, name: &str) -> Result<(), BackendError> {
        self.call(format!("remove volume {name}"), |w| {
            if w.observed.volume(name).is_none() {
                return Err(format!("no such volume: {name}"));
            }
            if let Some(user) = w.uses_volume(name) {
                return Err(format!("volume {name} is in use by {user}"));
            }
            w.observed.volumes.retain(|v| v.name != name);
            Ok(())
        })
    }

    fn pull_image(&self, image: &str) -> Result<String, BackendError> {
        self.call(format!("pull {image}"), |w| {
            let digest = w
                .registry
                .get(image)
                .cloned()
                .ok_or_else(|| format!("pull access denied for {image}"))?;
            w.observed.images.insert(image.to_string(), digest.clone());
            Ok(digest)
        })
    }

    fn push_image(&self, image: &str) -> Result<String, BackendError> {
        self.call(format!("push {image}"), |w| {
            let digest = w
                .observed
                .images
                .get(image)
                .cloned()
                .ok_or_else(|| format!("no such image: {image}"))?;
            w.registry.insert(image.to_string(), digest.clone());
            Ok(digest)
        })
    }

    fn remove_image(&self, image: &str) -> Result<(), BackendError> {
        self.call_with(format!("remove image {image}"), |w| {
            if !w.observed.images.contains_key(image) {
                let message = format!("no such image: {image}");
                return Err(BackendError::new(BackendErrorKind::NotFound, message));
            }
            if let Some(user) = w.observed.containers.iter().find(|c| c.image == image) {
                let message = format!("image {image} is in use by {}", user.name);
                return Err(BackendError::new(BackendErrorKind::Conflict, message));
            }
            w.observed.images.remove(image);
            Ok(())
        })
    }

    fn build_image(&self, spec: &BuildSpec) -> Result<(), BackendError> {
        self.call(format!("build {}", spec.image), |w| {
            // A build gives the digest published for the image, or a fixed one.
            let digest = w
                .registry
                .get(&spec.image)
                .cloned()
                .unwrap_or_else(|| format!("sha256:built-{}", spec.image));
            for tag in &spec.tags {
                w.observed.images.insert(tag.clone(), digest.clone());
            }
            Ok(())
        })
    }

    fn create_container(&self, spec: &ContainerSpec) -> Result<(), BackendError> {
        self.call(format!("create container {}", spec.name), |w| {
            if w.observed.containers.iter().any(|c| c.name == spec.name) {
                return Err(format!("container name {} is already in use", spec.name));
            }
            let digest = w
                .observed
                .images
                .get(&spec.image)
                .cloned()
                .ok_or_else(|| format!("no such image: {}", spec.image))?;
            for network in spec.networks.values() {
                if w.observed.network(network).is_none() {
                    return Err(format!("network {network} not found"));
                }
            }
            let mut mounts = Vec::new();
            for volume in &spec.definition.volumes {
                let source = match (volume.kind, &volume.source) {
                    (VolumeType::Volume, Some(key)) => {
                        let name = spec
                            .volumes
                            .get(key)
                            .cloned()
                            .unwrap_or_else(|| key.clone());
                        if w.observed.volume(&name).is_none() {
                            return Err(format!("volume {name} not found"));
                        }
                        MountSource::Volume {
                            name,
                            anonymous: false,
                        }
                    }
                    (VolumeType::Volume, None) => {
                        let name = match spec.carried_volumes.get(&volume.target) {
                            Some(name) => name.clone(),
                            None => {
                                let name = w.id();
                                let labels = [(ANONYMOUS_VOLUME.to_string(), String::new())];
                                w.observed.volumes.push(ObservedVolume {
                                    name: name.clone(),
                                    labels: labels.into_iter().collect(),
                                });
                                name
                            }
                        };
                        MountSource::Volume {
                            name,
                            anonymous: true,
                        }
                    }
                    (VolumeType::Bind, source) => MountSource::Bind {
                        path: source.clone().unwrap_or_default(),
                    },
                    _ => MountSource::Tmpfs,
                };
                mounts.push(Mount {
                    destination: volume.target.clone(),
                    source,
                });
            }
            let id = w.id();
            w.observed.containers.push(ObservedContainer {
                id,
                name: spec.name.clone(),
                labels: spec.labels.clone(),
                image: spec.image.clone(),
                image_digest: Some(digest),
                status: ContainerStatus::new(ContainerState::Created),
                networks: spec.networks.values().cloned().collect(),
                mounts,
            });
            Ok(())
        })
    }

    fn run_pre_start(&self, spec: &PreStartSpec) -> Result<(), BackendError> {
        self.call(
            format!(
                "pre_start {} x{} with {}",
                spec.container.service,
                spec.hooks.len(),
                spec.container.name
            ),
            |w| w.container(&spec.container.name).map(drop),
        )
    }

    fn start_container(&self, name: &str) -> Result<(), BackendError> {
        self.call(format!("start {name}"), |w| {
            let container = w.container(name)?;
            if container.status.state.is_up() {
                return Ok(());
            }
            let service = container.service().unwrap_or_default().to_string();
            let mut script: VecDeque<ContainerStatus> =
                w.scripts.get(&service).cloned().unwrap_or_default().into();
            let first = script
                .pop_front()
                .unwrap_or_else(|| ContainerStatus::new(ContainerState::Running));
            w.container(name)?.status = first;
            w.pending.insert(name.to_string(), script);
            Ok(())
        })
    }

    fn stop_container(&self, name: &str, _timeout: Option<Duration>) -> Result<(), BackendError> {
        self.call(format!("stop {name}"), |w| {
            let container = w.container(name)?;
            if container.status.state.is_up() {
                container.status = ContainerStatus::new(ContainerState::Exited { code: 0 });
            }
            w.pending.remove(name);
            Ok(())
        })
    }

    fn restart_container(
        &self,
        name: &str,
        _timeout: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.call(format!("restart {name}"), |w| {
            w.container(name)?.status = ContainerStatus::new(ContainerState::Running);
            w.pending.remove(name);
            Ok(())
        })
    }

    fn kill_container(&self, name: &str, signal: i32) -> Result<(), BackendError> {
        self.call(format!("kill {name} {signal}"), |w| {
            let container = w.container(name)?;
            if !container.status.state.is_up() {
                return Err(format!("container {name} is not running"));
            }
            // As a shell reports a death by signal.
            container.status = ContainerStatus::new(ContainerState::Exited { code: 128 + signal });
            w.pending.remove(name);
            Ok(())
        })
    }

    fn pause_container(&self, name: &str) -> Result<(), BackendError> {
        self.call(format!("pause {name}"), |w| {
            let container = w.container(name)?;
            if container.status.state != ContainerState::Running {
                return Err(format!("container {name} is not running"));
            }
            container.status.state = ContainerState::Paused;
            Ok(())
        })
    }

    fn unpause_container(&self, name: &str) -> Result<(), BackendError> {
        self.call(format!("unpause {name}"), |w| {
            let container = w.container(name)?;
            if container.status.state != ContainerState::Paused {
                return Err(format!("container {name} is not paused"));
            }
            container.status.state = ContainerState::Running;
            Ok(())
        })
    }

    fn remove_container(&self, name: &str, anonymous_volumes: bool) -> Result<(), BackendError> {
        self.call(format!("remove container {name}"), |w| {
            let container = w.container(name)?;
            if container.status.state.is_up() {
                return Err(format!("cannot remove container {name}: it is running"));
            }
            let anonymous: Vec<String> = container
                .anonymous_volumes()
                .map(|(_, v)| v.to_string())
                .collect();
            w.observed.containers.retain(|c| c.name != name);
            if anonymous_volumes {
                w.observed.volumes.retain(|v| !anonymous.contains(&v.name));
            }
            Ok(())
        })
    }

    fn rename_container(&self, from: &str, to: &str) -> Result<(), BackendError> {
        self.call(format!("rename {from} {to}"), |w| {
            if w.observed.containers.iter().any(|c| c.name == to) {
                return Err(format!("container name {to} is already in use"));
            }
            w.container(from)?.name = to.to_string();
            Ok(())
        })
    }

    fn container_status(&self, name: &str) -> Result<ContainerStatus, BackendError> {
        let mut world = self.lock();
        let next = world.pending.get_mut(name).and_then(VecDeque::pop_front);
        let container = world
            .container(name)
            .map_err(|m| BackendError::new(BackendErrorKind::NotFound, m))?;
        if let Some(next) = next {
            container.status = next;
        }
        let status = container.status.clone();
        Ok(status)
    }
}

/// A [`Clock`](crate::compose::Clock) that moves only when slept on: a wait of a minute takes
/// no time, and the test reads how far the clock went and how often it was slept on.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    slept: Mutex<(Duration, usize)>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock at an arbitrary instant that has not moved yet.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            slept: Mutex::new((Duration::ZERO, 0)),
        }
    }

    fn slept(&self) -> MutexGuard<'_, (Duration, usize)> {
        self.slept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How far the clock has moved.
    pub fn elapsed(&self) -> Duration {
        self.slept().0
    }

    /// How many times it was slept on.
    pub fn sleeps(&self) -> usize {
        self.slept().1
    }
}

impl crate::compose::Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        let mut slept = self.slept();
        slept.0 += duration;
        slept.1 += 1;
    }
}
