//! The gRPC service: decodes each request into the agent's types ([`super::decode`]), calls
//! the [`Node`], encodes the answer ([`super::convert`]). The wire types stop here. A failed
//! request becomes a status for that request alone (bad input: `invalid argument`).

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::filter::Filters;
use super::logs::{self, LogOptions};
use super::node::Node;
use super::proto::{self, agent_server::Agent};
use super::{API_VERSION, AgentError, convert, decode, disk, spec};

/// The agent's API over one node.
#[derive(Debug, Clone)]
pub(crate) struct AgentService {
    node: Arc<Node>,
}

impl AgentService {
    /// The service over `node`.
    pub(crate) fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

fn signal(number: i32) -> Result<Signal, AgentError> {
    if number == 0 {
        return Ok(Signal::SIGKILL);
    }
    Signal::try_from(number).map_err(|_| AgentError::Invalid(format!("invalid signal {number}")))
}

fn layout_name(layout: &engine::cgroups::Layout) -> &'static str {
    match layout {
        engine::cgroups::Layout::V1 { .. } => "v1",
        engine::cgroups::Layout::V2 { .. } => "v2",
        engine::cgroups::Layout::Hybrid { .. } => "hybrid",
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Agent for AgentService {
    async fn version(&self, _: Request<proto::VersionRequest>) -> Reply<proto::VersionResponse> {
        Ok(Response::new(proto::VersionResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: API_VERSION.to_string(),
            pid: std::process::id(),
            data_root: self.node.data_root().display().to_string(),
            run_root: self.node.run_root().display().to_string(),
            cgroup_layout: layout_name(self.node.runtime().layout()).to_string(),
        }))
    }

    async fn create(&self, request: Request<proto::CreateRequest>) -> Reply<proto::CreateResponse> {
        let req = decode::create(request.into_inner())?;
        let (id, name) = self.node.create(&req).await?;
        let warnings = spec::capability_warnings(&req.config.capabilities);
        for warning in &warnings {
            tracing::warn!(container = %id, "{warning}");
        }
        Ok(Response::new(proto::CreateResponse { id, name, warnings }))
    }

    async fn start(&self, request: Request<proto::ContainerRef>) -> Reply<proto::Empty> {
        self.node.start(&request.into_inner().container).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn stop(&self, request: Request<proto::StopRequest>) -> Reply<proto::ContainerSummary> {
        let req = request.into_inner();
        let timeout = req.timeout.map(Duration::from_secs);
        let summary = self.node.stop(&req.container, timeout).await?;
        Ok(Response::new(convert::summary(
            summary,
            self.node.volumes(),
        )))
    }

    async fn kill(&self, request: Request<proto::KillRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        self.node.kill(&req.container, signal(req.signal)?).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn remove(&self, request: Request<proto::RemoveRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        self.node
            .remove(&req.container, req.force, req.volumes)
            .await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn rename(&self, request: Request<proto::RenameRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        self.node.rename(&req.container, &req.new_name).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn port(&self, request: Request<proto::ContainerRef>) -> Reply<proto::PortResponse> {
        let ports = self.node.ports(&request.into_inner().container).await?;
        Ok(Response::new(proto::PortResponse {
            ports: ports.iter().map(convert::binding).collect(),
        }))
    }

    type AttachStream = super::attach::OutputStream;

    async fn attach(
        &self,
        request: Request<tonic::Streaming<proto::AttachInput>>,
    ) -> Reply<Self::AttachStream> {
        let mut inbound = request.into_inner();
        match super::attach::first(&mut inbound).await? {
            proto::attach_input::Item::Attach(req) => {
                let options = decode::attach(&req);
                Ok(Response::new(
                    self.node.attach(&req.container, options, inbound).await?,
                ))
            }
            _ => Err(Status::invalid_argument(
                "attach: the first message must be attach",
            )),
        }
    }

    type ExecAttachStream = super::attach::OutputStream;

    async fn exec_attach(
        &self,
        request: Request<tonic::Streaming<proto::AttachInput>>,
    ) -> Reply<Self::ExecAttachStream> {
        let mut inbound = request.into_inner();
        match super::attach::first(&mut inbound).await? {
            proto::attach_input::Item::Exec(req) => {
                let spec = decode::exec(&req, true)?;
                let stream = self.node.exec_attach(&req.container, spec, inbound).await?;
                Ok(Response::new(stream))
            }
            _ => Err(Status::invalid_argument(
                "exec: the first message must be exec",
            )),
        }
    }

    async fn pause(&self, request: Request<proto::ContainerRef>) -> Reply<proto::Empty> {
        self.node.pause(&request.into_inner().container).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn unpause(&self, request: Request<proto::ContainerRef>) -> Reply<proto::Empty> {
        self.node.unpause(&request.into_inner().container).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn wait(&self, request: Request<proto::ContainerRef>) -> Reply<proto::WaitResponse> {
        let state = self.node.wait(&request.into_inner().container).await?;
        let (exit_code, oom_killed) = match state {
            engine::ContainerState::Exited { code, oom_killed } => (code, oom_killed),
            _ => (0, false),
        };
        Ok(Response::new(proto::WaitResponse {
            exit_code,
            oom_killed,
        }))
    }

    async fn list(&self, request: Request<proto::ListRequest>) -> Reply<proto::ListResponse> {
        let req = request.into_inner();
        let filters = Filters::parse(&req.filters)?;
        let containers = self.node.list(req.all, &filters).await?;
        let mut containers: Vec<proto::ContainerSummary> = containers
            .into_iter()
            .map(|c| convert::summary(c, self.node.volumes()))
            .collect();
        if req.size {
            let runtime = self.node.runtime().clone();
            let ids: Vec<String> = containers.iter().map(|c| c.id.clone()).collect();
            let sizes = tokio::task::spawn_blocking(move || disk::container_sizes(&runtime, &ids))
                .await
                .map_err(|e| AgentError::Internal(format!("size containers: {e}")))?;
            for c in &mut containers {
                if let Some(size) = sizes.get(&c.id) {
                    c.size_rw = size.rw;
                    c.size_root_fs = size.root_fs;
                }
            }
        }
        Ok(Response::new(proto::ListResponse { containers }))
    }

    async fn inspect(
        &self,
        request: Request<proto::ContainerRef>,
    ) -> Reply<proto::InspectResponse> {
        let (summary, spec) = self.node.inspect(&request.into_inner().container).await?;
        let spec_json = serde_json::to_string(&spec)
            .map_err(|e| AgentError::Internal(format!("encode spec of {}: {e}", summary.id)))?;
        Ok(Response::new(proto::InspectResponse {
            summary: Some(convert::summary(summary, self.node.volumes())),
            spec_json,
        }))
    }

    type LogsStream = ReceiverStream<Result<proto::LogEntry, Status>>;

    async fn logs(&self, request: Request<proto::LogsRequest>) -> Reply<Self::LogsStream> {
        let req = request.into_inner();
        let id = self.node.resolve(&req.container)?;
        let both = !req.stdout && !req.stderr;
        let at = |nanos: u64| std::time::UNIX_EPOCH + Duration::from_nanos(nanos);
        let options = LogOptions {
            follow: req.follow,
            query: engine::logs::LogQuery {
                stdout: req.stdout || both,
                stderr: req.stderr || both,
                since: req.since.map(at),
                until: req.until.map(at),
                tail: usize::try_from(req.tail).ok(),
            },
        };
        Ok(Response::new(logs::stream(
            Arc::clone(&self.node),
            id,
            options,
        )))
    }

    async fn stats(&self, request: Request<proto::ContainerRef>) -> Reply<proto::StatsResponse> {
        let sample = self.node.stats(&request.into_inner().container).await?;
        Ok(Response::new(convert::stats(&sample)))
    }

    type ExecStream = ReceiverStream<Result<proto::ExecOutput, Status>>;

    async fn exec(&self, request: Request<proto::ExecRequest>) -> Reply<Self::ExecStream> {
        let req = request.into_inner();
        let spec = decode::exec(&req, false)?;
        Ok(Response::new(self.node.exec(&req.container, spec).await?))
    }

    async fn top(&self, request: Request<proto::ContainerRef>) -> Reply<proto::TopResponse> {
        let processes = self.node.top(&request.into_inner().container).await?;
        Ok(Response::new(convert::top(&processes)))
    }

    async fn restart(&self, request: Request<proto::StopRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        let timeout = req.timeout.map(Duration::from_secs);
        self.node.restart(&req.container, timeout).await?;
        Ok(Response::new(proto::Empty {}))
    }

    type EventsStream = ReceiverStream<Result<proto::Event, Status>>;

    async fn events(&self, request: Request<proto::EventsRequest>) -> Reply<Self::EventsStream> {
        let req = request.into_inner();
        Ok(Response::new(super::events::stream(
            self.node.runtime().clone(),
            req.since,
            req.until,
        )))
    }
}
