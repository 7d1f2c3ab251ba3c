//! The client side of the agent API over a unix socket, as the CLI uses it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::agent::{self as proto, agent_client};

/// Errors of talking to the agent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket does not answer.
    #[error("{}", connect_message(path, source))]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The channel could not be set up over the connected socket.
    #[error("cannot talk to the bosun agent at {}: {source}", path.display())]
    Transport {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The agent refused or failed the request.
    #[error("{}", .0.message())]
    Status(Box<tonic::Status>),
    /// The address is not a unix socket address.
    #[error("unsupported agent address {0:?}: use unix:///path/to/bosun.sock")]
    Address(String),
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Status(Box::new(status))
    }
}

impl ClientError {
    /// Whether the error means that no agent listens (so one may be started).
    pub fn no_agent(&self) -> bool {
        use std::io::ErrorKind;
        matches!(self, ClientError::Connect { source, .. }
            if matches!(source.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused))
    }

    /// The gRPC status code, for errors the agent returned.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Status(s) => Some(s.code()),
            _ => None,
        }
    }
}

/// The log of an agent the CLI started in the background on the run root holding `socket`
/// (its output goes to `agent.log` beside the socket).
pub fn background_log(socket: &Path) -> PathBuf {
    socket
        .parent()
        .unwrap_or_else(|| Path::new("/"))
        .join("agent.log")
}

/// Why the socket did not answer: refused permission is said as such; anything else means no
/// agent serves the socket, and names where a background agent logs.
fn connect_message(path: &Path, source: &std::io::Error) -> String {
    if source.kind() == std::io::ErrorKind::PermissionDenied {
        return format!(
            "cannot connect to the bosun agent at {}: {source} (root or group bosun is needed)",
            path.display()
        );
    }
    format!(
        "the bosun agent at {} is not running or not reachable ({source}); an agent started in \
         the background logs to {}",
        path.display(),
        background_log(path).display()
    )
}

/// Whether `status` was made on this side because the connection failed or broke (the agent
/// is gone), rather than returned by the agent: only the former carries a transport cause.
pub fn is_transport_failure(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
}

/// Parses a `-H` value: `unix:///path` or an absolute path.
pub fn parse_host(host: &str) -> Result<PathBuf, ClientError> {
    let path = host.strip_prefix("unix://").unwrap_or(host);
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else {
        Err(ClientError::Address(host.to_string()))
    }
}

/// A gRPC channel to the agent listening on `socket`, shared by the clients of all its services.
///
/// The socket is dialled at once, so that a missing agent is reported as
/// [`ClientError::Connect`] (see [`ClientError::no_agent`]); the channel dials it again whenever
/// it reconnects.
pub async fn channel(socket: &Path) -> Result<Channel, ClientError> {
    let first = UnixStream::connect(socket)
        .await
        .map_err(|source| ClientError::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
    // The first connection is the one just made; later reconnections dial the socket again.
    let first = Arc::new(Mutex::new(Some(first)));
    let path = socket.to_path_buf();
    let connector = tower::service_fn(move |_: Uri| {
        let first = first.lock().ok().and_then(|mut f| f.take());
        let path = path.clone();
        async move {
            match first {
                Some(stream) => Ok(stream),
                None => UnixStream::connect(path).await,
            }
        }
    });
    // The URI is required by the HTTP layer and otherwise unused.
    Endpoint::from_static("http://bosun.agent")
        .connect_with_connector(connector)
        .await
        .map_err(|source| ClientError::Transport {
            path: socket.to_path_buf(),
            source,
        })
}

/// A connection to one agent.
#[derive(Debug, Clone)]
pub struct AgentClient {
    inner: agent_client::AgentClient<Channel>,
}

/// A stream of log entries.
#[derive(Debug)]
pub struct LogStream(tonic::Streaming<proto::LogEntry>);

impl LogStream {
    /// The next entry, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<proto::LogEntry>, ClientError> {
        Ok(self.0.message().await?)
    }
}

/// The output of an exec, then its exit code.
#[derive(Debug)]
pub struct ExecStream(tonic::Streaming<proto::ExecOutput>);

impl ExecStream {
    /// The next piece, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<proto::exec_output::Item>, ClientError> {
        Ok(self.0.message().await?.and_then(|m| m.item))
    }
}

/// A stream of node events.
#[derive(Debug)]
pub struct EventStream(tonic::Streaming<proto::Event>);

impl EventStream {
    /// The next event, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<proto::Event>, ClientError> {
        Ok(self.0.message().await?)
    }
}

impl AgentClient {
    /// Connects to the agent listening on `socket`.
    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        Ok(Self {
            inner: agent_client::AgentClient::new(channel(socket).await?),
        })
    }

    /// The agent's version and roots.
    pub async fn version(&mut self) -> Result<proto::VersionResponse, ClientError> {
        Ok(self
            .inner
            .version(proto::VersionRequest {})
            .await?
            .into_inner())
    }

    /// Creates a container.
    pub async fn create(
        &mut self,
        request: proto::CreateRequest,
    ) -> Result<proto::CreateResponse, ClientError> {
        Ok(self.inner.create(request).await?.into_inner())
    }

    /// Starts a container.
    pub async fn start(&mut self, container: &str) -> Result<(), ClientError> {
        self.inner.start(reference(container)).await?;
        Ok(())
    }

    /// Stops a container (`timeout` in seconds overrides its own).
    pub async fn stop(
        &mut self,
        container: &str,
        timeout: Option<u64>,
    ) -> Result<proto::ContainerSummary, ClientError> {
        let request = proto::StopRequest {
            container: container.to_string(),
            timeout,
        };
        Ok(self.inner.stop(request).await?.into_inner())
    }

    /// Sends a signal (by number) to a container.
    pub async fn kill(&mut self, container: &str, signal: i32) -> Result<(), ClientError> {
        let request = proto::KillRequest {
            container: container.to_string(),
            signal,
        };
        self.inner.kill(request).await?;
        Ok(())
    }

    /// Removes a container (its anonymous volumes stay).
    pub async fn remove(&mut self, container: &str, force: bool) -> Result<(), ClientError> {
        self.remove_with_volumes(container, force, false).await
    }

    /// Removes a container; with `volumes` also its anonymous volumes.
    pub async fn remove_with_volumes(
        &mut self,
        container: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ClientError> {
        let request = proto::RemoveRequest {
            container: container.to_string(),
            force,
            volumes,
        };
        self.inner.remove(request).await?;
        Ok(())
    }

    /// Renames a container.
    pub async fn rename(&mut self, container: &str, new_name: &str) -> Result<(), ClientError> {
        let request = proto::RenameRequest {
            container: container.to_string(),
            new_name: new_name.to_string(),
        };
        self.inner.rename(request).await?;
        Ok(())
    }

    /// A container's published ports with the host ports bound.
    pub async fn port(&mut self, container: &str) -> Result<Vec<proto::PortBinding>, ClientError> {
        Ok(self
            .inner
            .port(reference(container))
            .await?
            .into_inner()
            .ports)
    }

    /// Freezes a container.
    pub async fn pause(&mut self, container: &str) -> Result<(), ClientError> {
        self.inner.pause(reference(container)).await?;
        Ok(())
    }

    /// Thaws a container.
    pub async fn unpause(&mut self, container: &str) -> Result<(), ClientError> {
        self.inner.unpause(reference(container)).await?;
        Ok(())
    }

    /// Waits for a container to exit.
    pub async fn wait(&mut self, container: &str) -> Result<proto::WaitResponse, ClientError> {
        Ok(self.inner.wait(reference(container)).await?.into_inner())
    }

    /// Lists containers.
    pub async fn list(
        &mut self,
        all: bool,
        filters: Vec<String>,
    ) -> Result<Vec<proto::ContainerSummary>, ClientError> {
        let request = proto::ListRequest {
            all,
            filters,
            size: false,
        };
        Ok(self.inner.list(request).await?.into_inner().containers)
    }

    /// The containers as [`list`](Self::list) gives them, each with its disk use measured
    /// (`size_rw`, `size_root_fs`).
    pub async fn list_with_sizes(
        &mut self,
        all: bool,
        filters: Vec<String>,
    ) -> Result<Vec<proto::ContainerSummary>, ClientError> {
        let request = proto::ListRequest {
            all,
            filters,
            size: true,
        };
        Ok(self.inner.list(request).await?.into_inner().containers)
    }

    /// A container's record and spec.
    pub async fn inspect(
        &mut self,
        container: &str,
    ) -> Result<proto::InspectResponse, ClientError> {
        Ok(self.inner.inspect(reference(container)).await?.into_inner())
    }

    /// A container's logs.
    pub async fn logs(&mut self, request: proto::LogsRequest) -> Result<LogStream, ClientError> {
        Ok(LogStream(self.inner.logs(request).await?.into_inner()))
    }

    /// A resource usage sample.
    pub async fn stats(&mut self, container: &str) -> Result<proto::StatsResponse, ClientError> {
        Ok(self.inner.stats(reference(container)).await?.into_inner())
    }

    /// Runs a process in a running container.
    pub async fn exec(&mut self, request: proto::ExecRequest) -> Result<ExecStream, ClientError> {
        Ok(ExecStream(self.inner.exec(request).await?.into_inner()))
    }

    /// The node's events in a window (nanoseconds); followed when `until` is `None`.
    pub async fn events(
        &mut self,
        since: Option<u64>,
        until: Option<u64>,
    ) -> Result<EventStream, ClientError> {
        let request = proto::EventsRequest { since, until };
        Ok(EventStream(self.inner.events(request).await?.into_inner()))
    }

    /// The container's processes.
    pub async fn top(&mut self, container: &str) -> Result<proto::TopResponse, ClientError> {
        Ok(self.inner.top(reference(container)).await?.into_inner())
    }

    /// Restarts a container (`timeout` in seconds overrides its own stop timeout).
    pub async fn restart(
        &mut self,
        container: &str,
        timeout: Option<u64>,
    ) -> Result<(), ClientError> {
        let request = proto::StopRequest {
            container: container.to_string(),
            timeout,
        };
        self.inner.restart(request).await?;
        Ok(())
    }
}

fn reference(container: &str) -> proto::ContainerRef {
    proto::ContainerRef {
        container: container.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///run/x.sock").unwrap(),
            PathBuf::from("/run/x.sock")
        );
        assert_eq!(
            parse_host("/tmp/a.sock").unwrap(),
            PathBuf::from("/tmp/a.sock")
        );
        assert_eq!(
            parse_host("tcp://1.2.3.4:2375").unwrap_err().to_string(),
            "unsupported agent address \"tcp://1.2.3.4:2375\": use unix:///path/to/bosun.sock"
        );
    }
}
