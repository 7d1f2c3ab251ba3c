//! The `ContainerChanges` service: a container's files copied in and out, exported, listed
//! as changes to its image or committed as a new image (through the builder's layer code),
//! and its limits and restart policy updated. Requests are decoded at the edge
//! ([`super::decode`]); the engine and the builder do the work on the blocking pool, and the
//! tar streams are bridged to it in chunks.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use builder::container::{self, ChangeKind};
use engine::ContainerState;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::AgentError;
use super::decode;
use super::images_stream::{ChunkReader, ChunkWriter};
use super::node::{Node, blocking};
use super::proto::{self, container_changes_server::ContainerChanges, copy_chunk::Item};

type Reply<T> = Result<Response<T>, Status>;

/// The container changes API over one node.
#[derive(Debug, Clone)]
pub(crate) struct ChangesService {
    node: Arc<Node>,
}

impl ChangesService {
    /// The service over `node`.
    pub(crate) fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

fn build_error(e: builder::BuildError) -> AgentError {
    AgentError::Invalid(e.to_string())
}

/// Sends a failure as the stream's last item.
fn fail<M>(tx: &mpsc::Sender<Result<M, Status>>, err: AgentError) {
    let _ = tx.blocking_send(Err(err.into()));
}

#[tonic::async_trait]
impl ContainerChanges for ChangesService {
    type CopyFromStream = ReceiverStream<Result<proto::CopyChunk, Status>>;

    async fn copy_from(
        &self,
        request: Request<proto::CopyFromRequest>,
    ) -> Reply<Self::CopyFromStream> {
        let req = request.into_inner();
        if req.path.is_empty() {
            return Err(Status::invalid_argument("copy: no path given"));
        }
        let id = self.node.resolve(&req.container)?;
        let path = PathBuf::from(&req.path);
        let runtime = self.node.runtime().clone();
        // Described first, so that a missing path is an error status, not a broken stream.
        let source = {
            let (runtime, id, path) = (runtime.clone(), id.clone(), path.clone());
            blocking(move || Ok(runtime.describe_path(&id, &path, req.follow_link)?)).await?
        };
        let (tx, rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            let first = proto::CopyChunk {
                item: Some(Item::Source(proto::CopySource {
                    name: source.name.clone(),
                    is_dir: source.is_dir,
                })),
            };
            if tx.blocking_send(Ok(first)).is_err() {
                return;
            }
            let mut out = ChunkWriter::wrapping(tx.clone(), |data| proto::CopyChunk {
                item: Some(Item::Data(data)),
            });
            match runtime.copy_from(&id, &path, req.follow_link, &mut out) {
                Ok(_) => {
                    if let Err(e) = out.flush() {
                        fail(&tx, AgentError::Internal(e.to_string()));
                    }
                }
                Err(e) => fail(&tx, e.into()),
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn copy_to(&self, request: Request<Streaming<proto::CopyChunk>>) -> Reply<proto::Empty> {
        let mut incoming = request.into_inner();
        let first = incoming.message().await?.and_then(|c| c.item);
        let target = match &first {
            Some(Item::Target(t)) => Some(t),
            _ => None,
        };
        let (container, dest, source, owner) = decode::copy_target(target)?;
        let id = self.node.resolve(&container)?;
        let runtime = self.node.runtime().clone();
        let (chunks, chunk_rx) = mpsc::channel(8);
        let extract = tokio::task::spawn_blocking(move || {
            let mut reader = ChunkReader::new(chunk_rx);
            let done = runtime.copy_to(&id, &dest, &source, &mut reader, owner);
            // Drain what the client still sends, so that it sees our answer, not a reset.
            let mut sink = [0u8; 8192];
            while matches!(std::io::Read::read(&mut reader, &mut sink), Ok(n) if n > 0) {}
            done
        });
        loop {
            match incoming.message().await {
                Ok(Some(proto::CopyChunk {
                    item: Some(Item::Data(data)),
                })) => {
                    if chunks.send(Ok(data)).await.is_err() {
                        break;
                    }
                }
                Ok(Some(_)) => {
                    let _ = chunks
                        .send(Err(Status::invalid_argument("copy: only data may follow")))
                        .await;
                    break;
                }
                Ok(None) => break,
                Err(status) => {
                    let _ = chunks.send(Err(status)).await;
                    break;
                }
            }
        }
        drop(chunks);
        extract
            .await
            .map_err(|e| Status::internal(format!("copy task failed: {e}")))?
            .map_err(AgentError::from)?;
        Ok(Response::new(proto::Empty {}))
    }

    type ExportStream = ReceiverStream<Result<proto::DataChunk, Status>>;

    async fn export(&self, request: Request<proto::ContainerRef>) -> Reply<Self::ExportStream> {
        let id = self.node.resolve(&request.into_inner().container)?;
        let runtime = self.node.runtime().clone();
        let (tx, rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            let mut out = ChunkWriter::new(tx.clone());
            match runtime.export(&id, &mut out) {
                Ok(()) => {
                    if let Err(e) = out.flush() {
                        fail(&tx, AgentError::Internal(e.to_string()));
                    }
                }
                Err(e) => fail(&tx, e.into()),
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn diff(&self, request: Request<proto::ContainerRef>) -> Reply<proto::DiffResponse> {
        let id = self.node.resolve(&request.into_inner().container)?;
        let node = self.node.clone();
        let changes = blocking(move || {
            let layers = node.runtime().container_layers(&id)?.ok_or_else(|| {
                AgentError::Invalid(format!("container {id} has no image: nothing to diff"))
            })?;
            container::changes(node.images(), &layers).map_err(build_error)
        })
        .await?;
        let changes = changes
            .into_iter()
            .map(|c| proto::PathChange {
                path: c.path.display().to_string(),
                kind: match c.kind {
                    ChangeKind::Changed => proto::ChangeKind::Changed,
                    ChangeKind::Added => proto::ChangeKind::Added,
                    ChangeKind::Deleted => proto::ChangeKind::Deleted,
                } as i32,
            })
            .collect();
        Ok(Response::new(proto::DiffResponse { changes }))
    }

    async fn commit(&self, request: Request<proto::CommitRequest>) -> Reply<proto::CommitResponse> {
        let req = request.into_inner();
        let (mut options, pause) = decode::commit(&req)?;
        let id = self.node.resolve(&req.container)?;
        let node = self.node.clone();
        let image = blocking(move || {
            let runtime = node.runtime();
            let layers = runtime.container_layers(&id)?.ok_or_else(|| {
                AgentError::Invalid(format!("container {id} has no image to commit over"))
            })?;
            let spec = runtime.spec(&id)?;
            options.created_by = spec.args.join(" ");
            options.created =
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let paused = pause && runtime.state(&id)?.state == ContainerState::Running;
            if paused {
                runtime.pause(&id)?;
            }
            let image = container::commit(node.images(), &layers, &options).map_err(build_error);
            if paused {
                runtime.unpause(&id)?;
            }
            image
        })
        .await?;
        Ok(Response::new(proto::CommitResponse {
            id: image.id.to_string(),
        }))
    }

    async fn update(&self, request: Request<proto::UpdateRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        let update = decode::update(&req)?;
        let id = self.node.resolve(&req.container)?;
        let runtime = self.node.runtime().clone();
        blocking(move || Ok(runtime.update(&id, &update)?)).await?;
        Ok(Response::new(proto::Empty {}))
    }
}
