//! [`AgentBackend`]: the orchestrator's synchronous [`Backend`] over the agent's gRPC API.
//!
//! The executor calls it from plain threads, several at once; each call blocks that thread on
//! the tokio runtime's handle (never a runtime worker: `Handle::block_on` must not run there).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use orchestrator::compose::{
    Backend, BackendError, BackendErrorKind, BuildSpec, ContainerSpec, ContainerStatus,
    NetworkSpec, Observed, PreStartSpec, VolumeSpec, labels,
};
use tokio::runtime::Handle;

use super::client::ComposeClient;
use super::hooks::{self, HookPoint, KnownHooks};
use super::{build, observe, pre_start, translate};
use crate::ClientError;
use crate::proto;

/// Where a build's progress goes: called with the service and each progress message.
pub type BuildOutput = Arc<dyn Fn(&str, &proto::BuildProgress) + Send + Sync>;

/// The local agent as the compose executor's backend.
#[derive(Clone)]
pub struct AgentBackend {
    handle: Handle,
    client: ComposeClient,
    build_output: Option<BuildOutput>,
    hooks: KnownHooks,
}

impl std::fmt::Debug for AgentBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBackend")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

fn failed(err: ClientError) -> BackendError {
    let kind = match err.code() {
        Some(code) => kind_of(code),
        None => BackendErrorKind::Unavailable,
    };
    BackendError::new(kind, err.to_string())
}

fn status_failed(status: tonic::Status) -> BackendError {
    BackendError::new(kind_of(status.code()), status.message())
}

/// The kind of failure a gRPC code stands for.
fn kind_of(code: tonic::Code) -> BackendErrorKind {
    use tonic::Code;
    match code {
        Code::NotFound => BackendErrorKind::NotFound,
        Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => {
            BackendErrorKind::Conflict
        }
        Code::InvalidArgument | Code::OutOfRange => BackendErrorKind::Invalid,
        Code::Unavailable | Code::DeadlineExceeded => BackendErrorKind::Unavailable,
        _ => BackendErrorKind::Other,
    }
}

impl AgentBackend {
    /// A backend calling `client` on the runtime behind `handle`.
    pub fn new(handle: Handle, client: ComposeClient) -> Self {
        Self {
            handle,
            client,
            build_output: None,
            hooks: KnownHooks::default(),
        }
    }

    /// Sends the progress of the builds this backend runs to `output`.
    pub fn with_build_output(mut self, output: BuildOutput) -> Self {
        self.build_output = Some(output);
        self
    }

    /// The client, for calls outside the `Backend` trait.
    pub fn client(&self) -> &ComposeClient {
        &self.client
    }

    /// Runs a future to completion on the runtime, from a thread that is not a runtime worker.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Every container of `project` (stopped ones and one-offs included).
    pub fn project_containers(
        &self,
        project: &str,
    ) -> Result<Vec<proto::ContainerSummary>, BackendError> {
        let mut client = self.client.containers.clone();
        let request = proto::ListRequest {
            size: false,
            all: true,
            filters: vec![format!("label={}={project}", labels::PROJECT)],
        };
        self.block_on(async move { client.list(request).await })
            .map(|r| r.into_inner().containers)
            .map_err(status_failed)
    }

    /// The names of the anonymous volumes.
    fn anonymous_volumes(&self) -> Result<(Vec<proto::Volume>, BTreeSet<String>), BackendError> {
        let mut client = self.client.volumes.clone();
        let volumes = self
            .block_on(async move { client.list(proto::VolumeListRequest::default()).await })
            .map_err(status_failed)?
            .into_inner()
            .volumes;
        let anonymous = volumes
            .iter()
            .filter(|v| v.anonymous)
            .map(|v| v.name.clone())
            .collect();
        Ok((volumes, anonymous))
    }
}

impl Backend for AgentBackend {
    fn observe(&self, project: &str) -> Result<Observed, BackendError> {
        let containers = self.project_containers(project)?;
        for container in &containers {
            self.hooks.observed(&container.name, &container.labels);
        }
        let (volumes, anonymous) = self.anonymous_volumes()?;
        let mut networks_client = self.client.networks.clone();
        let networks = self
            .block_on(async move {
                networks_client
                    .list(proto::NetworkListRequest::default())
                    .await
            })
            .map_err(status_failed)?
            .into_inner()
            .networks;
        let mut images_client = self.client.images.clone();
        let images = self
            .block_on(async move { images_client.list(proto::ImageListRequest::default()).await })
            .map_err(status_failed)?
            .into_inner()
            .images;
        Ok(Observed {
            containers: containers
                .iter()
                .map(|c| observe::container(c, &anonymous))
                .collect(),
            networks: networks.iter().map(observe::network).collect(),
            volumes: volumes
                .iter()
                .filter(|v| !v.anonymous)
                .map(observe::volume)
                .collect(),
            images: observe::images(&images),
        })
    }

    fn observe_containers(&self, project: &str) -> Result<Observed, BackendError> {
        let containers = self.project_containers(project)?;
        for container in &containers {
            self.hooks.observed(&container.name, &container.labels);
        }
        let (_, anonymous) = self.anonymous_volumes()?;
        Ok(Observed {
            containers: containers
                .iter()
                .map(|c| observe::container(c, &anonymous))
                .collect(),
            ..Observed::default()
        })
    }

    fn create_network(&self, spec: &NetworkSpec) -> Result<(), BackendError> {
        let definition = &spec.definition;
        let ipam = definition.ipam.as_ref().and_then(|i| i.config.first());
        let request = proto::NetworkCreateRequest {
            name: spec.name.clone(),
            driver: definition.driver.clone().unwrap_or_default(),
            internal: definition.internal,
            labels: spec.labels.clone().into_iter().collect(),
            subnet: ipam.and_then(|c| c.subnet.clone()).unwrap_or_default(),
            gateway: ipam.and_then(|c| c.gateway.clone()).unwrap_or_default(),
            ip_range: ipam.and_then(|c| c.ip_range.clone()).unwrap_or_default(),
            enable_ipv6: definition.enable_ipv6.unwrap_or(false),
            if_not_exists: true,
            ..Default::default()
        };
        let mut client = self.client.networks.clone();
        self.block_on(async move { client.create(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn remove_network(&self, name: &str) -> Result<(), BackendError> {
        let request = proto::NetworkRef {
            network: name.to_string(),
        };
        let mut client = self.client.networks.clone();
        self.block_on(async move { client.remove(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn create_volume(&self, spec: &VolumeSpec) -> Result<(), BackendError> {
        let definition = &spec.definition;
        let request = proto::VolumeCreateRequest {
            name: spec.name.clone(),
            driver: definition.driver.clone().unwrap_or_default(),
            labels: spec.labels.clone().into_iter().collect(),
            options: definition.driver_opts.clone().into_iter().collect(),
        };
        let mut client = self.client.volumes.clone();
        self.block_on(async move { client.create(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn remove_volume(&self, name: &str) -> Result<(), BackendError> {
        let request = proto::VolumeRemoveRequest {
            name: name.to_string(),
            force: false,
        };
        let mut client = self.client.volumes.clone();
        self.block_on(async move { client.remove(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn pull_image(&self, image: &str) -> Result<String, BackendError> {
        // The credentials `bosun login` stored for the image's registry, as `bosun pull` sends.
        let auth = crate::registry::auth::for_image(image)
            .map_err(|e| BackendError::other(e.to_string()))?;
        let request = proto::PullRequest {
            reference: image.to_string(),
            auth,
            ..Default::default()
        };
        let mut client = self.client.images.clone();
        self.block_on(async move {
            let stream = client.pull(request).await?.into_inner();
            transferred(stream, "pull", image).await
        })
        .map_err(status_failed)
    }

    fn push_image(&self, image: &str) -> Result<String, BackendError> {
        let auth = crate::registry::auth::for_image(image)
            .map_err(|e| BackendError::other(e.to_string()))?;
        let request = proto::PushRequest {
            reference: image.to_string(),
            auth,
        };
        let mut client = self.client.images.clone();
        self.block_on(async move {
            let stream = client.push(request).await?.into_inner();
            transferred(stream, "push", image).await
        })
        .map_err(status_failed)
    }

    fn remove_image(&self, image: &str) -> Result<(), BackendError> {
        let request = proto::ImageRemoveRequest {
            image: image.to_string(),
            force: false,
        };
        let mut client = self.client.images.clone();
        self.block_on(async move { client.remove(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn build_image(&self, spec: &BuildSpec) -> Result<(), BackendError> {
        let mut request = build::build_request(spec)
            .map_err(|e| BackendError::new(BackendErrorKind::Invalid, e.to_string()))?;
        // The credentials `bosun login` stored, for the base images' pulls.
        request.registry_auths = crate::registry::auth::all_stored()
            .map_err(|e| BackendError::other(e.to_string()))?
            .into_iter()
            .collect();
        let mut client = self.client.images.clone();
        let output = self.build_output.clone();
        let service = spec.service.clone();
        self.block_on(async move {
            let mut stream = client.build(request).await?.into_inner();
            while let Some(progress) = stream.message().await? {
                if let Some(output) = &output {
                    output(&service, &progress);
                }
                match progress.event {
                    Some(proto::build_progress::Event::Written(_)) => return Ok(()),
                    Some(proto::build_progress::Event::Failed(failure)) => {
                        return Err(tonic::Status::failed_precondition(failure.message));
                    }
                    _ => {}
                }
            }
            Err(tonic::Status::unknown(format!(
                "the build of {service} ended before it completed"
            )))
        })
        .map_err(|status| BackendError::new(BackendErrorKind::Other, status.message()))
    }

    fn create_container(&self, spec: &ContainerSpec) -> Result<(), BackendError> {
        let config =
            translate::container_config(spec).map_err(|e| BackendError::other(e.to_string()))?;
        let request = proto::CreateRequest {
            name: spec.name.clone(),
            config: Some(config),
            auto_remove: false,
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.create(request).await })
            .map(drop)
            .map_err(status_failed)?;
        self.hooks.created(&spec.name, &spec.definition);
        Ok(())
    }

    fn start_container(&self, name: &str) -> Result<(), BackendError> {
        let request = proto::ContainerRef {
            container: name.to_string(),
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move {
            // An exited container (stopped by `stop`, or a one-shot that completed) runs again.
            client.start(request).await.map(drop)
        })
        .map_err(status_failed)?;
        self.run_hooks(name, HookPoint::PostStart)
    }

    fn run_pre_start(&self, spec: &PreStartSpec) -> Result<(), BackendError> {
        for index in 0..spec.hooks.len() {
            self.run_pre_start_hook(spec, index)?;
        }
        Ok(())
    }

    fn stop_container(&self, name: &str, timeout: Option<Duration>) -> Result<(), BackendError> {
        self.run_hooks(name, HookPoint::PreStop)?;
        let request = proto::StopRequest {
            container: name.to_string(),
            timeout: timeout.map(|t| t.as_secs()),
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.stop(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn restart_container(&self, name: &str, timeout: Option<Duration>) -> Result<(), BackendError> {
        self.run_hooks(name, HookPoint::PreStop)?;
        let request = proto::StopRequest {
            container: name.to_string(),
            timeout: timeout.map(|t| t.as_secs()),
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.restart(request).await })
            .map(drop)
            .map_err(status_failed)?;
        self.run_hooks(name, HookPoint::PostStart)
    }

    fn kill_container(&self, name: &str, signal: i32) -> Result<(), BackendError> {
        let request = proto::KillRequest {
            container: name.to_string(),
            signal,
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.kill(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn pause_container(&self, name: &str) -> Result<(), BackendError> {
        let request = proto::ContainerRef {
            container: name.to_string(),
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.pause(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn unpause_container(&self, name: &str) -> Result<(), BackendError> {
        let request = proto::ContainerRef {
            container: name.to_string(),
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.unpause(request).await })
            .map(drop)
            .map_err(status_failed)
    }

    fn remove_container(&self, name: &str, anonymous_volumes: bool) -> Result<(), BackendError> {
        let request = proto::RemoveRequest {
            container: name.to_string(),
            force: false,
            volumes: anonymous_volumes,
        };
        let mut client = self.client.containers.clone();
        self.block_on(async move { client.remove(request).await })
            .map(drop)
            .map_err(status_failed)?;
        self.hooks.removed(name);
        Ok(())
    }

    fn rename_container(&self, from: &str, to: &str) -> Result<(), BackendError> {
        let client = self.client.clone();
        self.block_on(async move { client.rename(from, to).await })
            .map_err(failed)?;
        self.hooks.renamed(from, to);
        Ok(())
    }

    fn container_status(&self, name: &str) -> Result<ContainerStatus, BackendError> {
        let request = proto::ContainerRef {
            container: name.to_string(),
        };
        let mut client = self.client.containers.clone();
        let summary = self
            .block_on(async move { client.inspect(request).await })
            .map_err(status_failed)?
            .into_inner()
            .summary
            .unwrap_or_default();
        Ok(observe::status(&summary))
    }
}

impl AgentBackend {
    /// Runs `pre_start` hook `index` of `spec` in a container of its own (a leftover of an
    /// interrupted run removed first), waits for its exit and removes it; a non-zero exit is
    /// the error, with the end of the hook's output.
    fn run_pre_start_hook(&self, spec: &PreStartSpec, index: usize) -> Result<(), BackendError> {
        let config = pre_start::hook_config(spec, index)
            .map_err(|e| BackendError::new(BackendErrorKind::Invalid, e.to_string()))?;
        let name = pre_start::container_name(&spec.container.name, index);
        let remove = |name: String| proto::RemoveRequest {
            container: name,
            force: true,
            volumes: true,
        };
        let client = self.client.containers.clone();
        let outcome = self
            .block_on({
                let mut client = client.clone();
                let name = name.clone();
                async move {
                    match client.remove(remove(name.clone())).await {
                        Ok(_) => {}
                        Err(status) if status.code() == tonic::Code::NotFound => {}
                        Err(status) => return Err(status),
                    }
                    let create = proto::CreateRequest {
                        name: name.clone(),
                        config: Some(config),
                        auto_remove: false,
                    };
                    client.create(create).await?;
                    let container = proto::ContainerRef {
                        container: name.clone(),
                    };
                    client.start(container.clone()).await?;
                    let code = client.wait(container).await?.into_inner().exit_code;
                    let logs = proto::LogsRequest {
                        container: name,
                        tail: pre_start::TAIL_LINES,
                        stdout: true,
                        stderr: true,
                        ..Default::default()
                    };
                    let mut tail = Vec::new();
                    let mut stream = client.logs(logs).await?.into_inner();
                    while let Some(entry) = stream.message().await? {
                        tail.extend_from_slice(&entry.line);
                    }
                    Ok((code, String::from_utf8_lossy(&tail).into_owned()))
                }
            })
            .map_err(status_failed);
        // Removed whatever happened; a failed removal is left to the next run's cleanup.
        let mut cleanup = client;
        match self.block_on(async move { cleanup.remove(remove(name)).await }) {
            Err(status) if status.code() != tonic::Code::NotFound => {
                tracing::warn!(cause = %status.message(), "cannot remove a pre_start hook container");
            }
            _ => {}
        }
        let (code, tail) = outcome?;
        match code {
            0 => Ok(()),
            code => Err(BackendError::other(pre_start::failure(
                &spec.container.service,
                index,
                code,
                &tail,
            ))),
        }
    }

    /// Runs the hooks of `point` recorded on container `name`, in order, while it runs; the
    /// first that exits non-zero is the error. A container known to have none costs no call.
    fn run_hooks(&self, name: &str, point: HookPoint) -> Result<(), BackendError> {
        if !self.hooks.may_have(name, point) {
            return Ok(());
        }
        let request = proto::ContainerRef {
            container: name.to_string(),
        };
        let mut client = self.client.containers.clone();
        let summary = self
            .block_on(async move { client.inspect(request).await })
            .map_err(status_failed)?
            .into_inner()
            .summary
            .unwrap_or_default();
        let recorded = hooks::recorded(&summary.labels, point)
            .map_err(|message| BackendError::other(format!("container {name}: {message}")))?;
        if recorded.is_empty()
            || (point == HookPoint::PreStop && summary.state() != proto::ContainerState::Running)
        {
            return Ok(());
        }
        let service = summary
            .labels
            .get(orchestrator::compose::labels::SERVICE)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        for hook in &recorded {
            let request = hooks::exec_request(name, hook);
            let mut client = self.client.containers.clone();
            let code = self
                .block_on(async move {
                    let mut stream = client.exec(request).await?.into_inner();
                    while let Some(output) = stream.message().await? {
                        if let Some(proto::exec_output::Item::ExitCode(code)) = output.item {
                            return Ok(Some(code));
                        }
                    }
                    Ok::<_, tonic::Status>(None)
                })
                .map_err(status_failed)?;
            match code {
                Some(0) => {}
                Some(code) => return Err(BackendError::other(hooks::failure(&service, code))),
                None => {
                    return Err(BackendError::other(format!(
                        "the {} hook of {name} ended without an exit code",
                        point.key()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Follows an image transfer (`what`: pull or push) to its end; returns the final message's
/// result (the image id of a pull, the manifest digest of a push).
async fn transferred(
    mut stream: tonic::Streaming<proto::ImageProgress>,
    what: &str,
    image: &str,
) -> Result<String, tonic::Status> {
    while let Some(progress) = stream.message().await? {
        if progress.done {
            return Ok(progress.result);
        }
    }
    Err(tonic::Status::unknown(format!(
        "the {what} of {image} ended before it completed"
    )))
}
