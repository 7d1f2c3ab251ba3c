//! What every handler shares: the clients of the agent's services over one channel, the exec
//! instances created through this API, and the clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use api::agent::agent_client::AgentClient;
use api::agent::images_client::ImagesClient;
use api::agent::networks_client::NetworksClient;
use api::agent::volumes_client::VolumesClient;
use tonic::transport::Channel;

use super::exec::ExecRecord;

/// The shared state of the server.
#[derive(Debug)]
pub(crate) struct Context {
    channel: Channel,
    /// Exec instances by id. A std mutex: it is held only to read or write an entry, never
    /// across an await.
    pub(crate) execs: Mutex<HashMap<String, ExecRecord>>,
    /// The tasks streaming responses and sessions, aborted at shutdown: each holds calls of
    /// the agent open, and the agent's server waits for its open calls before it stops. A std
    /// mutex, never held across an await.
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

impl Context {
    /// A context over the agent's channel.
    pub(crate) fn new(channel: Channel) -> Self {
        Self {
            channel,
            execs: Mutex::new(HashMap::new()),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// Runs `task` in the background until it ends or the server stops.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Aborts every background task (at shutdown).
    pub(crate) fn abort_all(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .abort_all();
    }

    /// The containers service.
    pub(crate) fn containers(&self) -> AgentClient<Channel> {
        AgentClient::new(self.channel.clone())
    }

    /// The images service.
    pub(crate) fn images(&self) -> ImagesClient<Channel> {
        ImagesClient::new(self.channel.clone())
    }

    /// The networks service.
    pub(crate) fn networks(&self) -> NetworksClient<Channel> {
        NetworksClient::new(self.channel.clone())
    }

    /// The volumes service.
    pub(crate) fn volumes(&self) -> VolumesClient<Channel> {
        VolumesClient::new(self.channel.clone())
    }

    /// Now, in nanoseconds since the Unix epoch (the handlers' one clock read; the formatting
    /// they do with it is pure).
    pub(crate) fn now_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}
