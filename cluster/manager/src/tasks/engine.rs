//! The calls a node makes on its local agent to run tasks, behind a small trait so the
//! task actors can be driven by a fake in tests; [`AgentEngine`] is the real one, over the
//! agent's unix socket (`<run-root>/bosun.sock`).

use std::path::PathBuf;

use api::agent as proto;
use api::{AgentClient, ClientError};

use crate::tasks::machine::Found;
use crate::tasks::translate::TASK_ID;

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
    /// Pulls `image` unless the agent has it.
    async fn ensure_image(&self, image: &str) -> Result<(), EngineError>;
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
}

/// The local agent, reached over its socket; connects on first use and again after a
/// failure (the agent may start after the node daemon, or restart).
#[derive(Debug)]
pub struct AgentEngine {
    socket: PathBuf,
    /// The connected client. A std mutex: held only to clone or replace it, never across an
    /// await.
    client: std::sync::Mutex<Option<AgentClient>>,
}

impl AgentEngine {
    /// The agent listening on `socket`.
    pub fn new(socket: PathBuf) -> Self {
        AgentEngine {
            socket,
            client: std::sync::Mutex::new(None),
        }
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
    async fn ensure_image(&self, image: &str) -> Result<(), EngineError> {
        let mut images = api::images_client::images(&self.socket).await?;
        let reference = proto::ImageRef {
            image: image.to_owned(),
        };
        match images.inspect(reference).await.map_err(EngineError::from) {
            Ok(_) => return Ok(()),
            Err(EngineError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        let request = proto::PullRequest {
            reference: image.to_owned(),
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
}
