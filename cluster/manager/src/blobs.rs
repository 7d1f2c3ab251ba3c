//! The managers' side of images between nodes (`api/proto/blobs.proto`): which nodes serve
//! blobs, and the manifests and blobs of the images this manager's own agent holds, relayed
//! from the agent's socket. Every call needs a node certificate of the cluster that is not
//! revoked (the same check as the manager API's). See [`crate::tasks::fetch`] for the node
//! that asks.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use api::agent as agent_proto;
use api::blobs::blobs_server::Blobs;
use api::blobs::{
    BlobChunk, BlobRequest, ManifestReply, ManifestRequest, Source, SourcesRequest, SourcesResponse,
};
use cluster_state::{Kind, NodeState, Record};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::driver::Query;
use crate::service::{ManagerService, Need, status_of};

pub(crate) use api::blobs::blobs_server::BlobsServer;

/// The blobs API of one manager.
#[derive(Clone)]
pub(crate) struct BlobsService {
    manager: Arc<ManagerService>,
    agent_socket: PathBuf,
}

impl BlobsService {
    /// The API over `manager`'s store (who serves) and the agent at `agent_socket` (what is
    /// served).
    pub(crate) fn new(manager: Arc<ManagerService>, agent_socket: PathBuf) -> Self {
        Self {
            manager,
            agent_socket,
        }
    }

    async fn images(
        &self,
    ) -> Result<api::agent::images_client::ImagesClient<tonic::transport::Channel>, Status> {
        api::images_client::images(&self.agent_socket)
            .await
            .map_err(|e| Status::unavailable(format!("this node's agent: {e}")))
    }
}

/// The ready managers among `records`, in the store's order.
fn sources(records: Vec<Record>) -> Vec<Source> {
    records
        .into_iter()
        .filter_map(|record| match record {
            Record::Node(node) if node.raft_id.is_some() && node.state == NodeState::Ready => {
                Some(Source {
                    node_id: node.meta.id,
                    hostname: node.hostname,
                    addr: node.addr,
                })
            }
            _ => None,
        })
        .collect()
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<BlobChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Blobs for BlobsService {
    async fn sources(
        &self,
        request: Request<SourcesRequest>,
    ) -> Result<Response<SourcesResponse>, Status> {
        self.manager.authorize(&request, Need::Node).await?;
        let (data, _) = self
            .manager
            .raft
            .local_read(Query::Kind(Kind::Node))
            .await
            .map_err(status_of)?;
        let records: Vec<Record> = serde_json::from_slice(&data)
            .map_err(|e| Status::internal(format!("node records: {e}")))?;
        Ok(Response::new(SourcesResponse {
            sources: sources(records),
        }))
    }

    async fn manifest(
        &self,
        request: Request<ManifestRequest>,
    ) -> Result<Response<ManifestReply>, Status> {
        self.manager.authorize(&request, Need::Node).await?;
        let digest = request.into_inner().digest;
        let found = self
            .images()
            .await?
            .manifest(agent_proto::BlobRef { digest })
            .await?
            .into_inner();
        Ok(Response::new(ManifestReply {
            data: found.data,
            media_type: found.media_type,
        }))
    }

    type BlobStream = ChunkStream;

    // The stream's items are tonic's, `Status` errors included.
    #[allow(clippy::result_large_err)]
    async fn blob(&self, request: Request<BlobRequest>) -> Result<Response<ChunkStream>, Status> {
        self.manager.authorize(&request, Need::Node).await?;
        let digest = request.into_inner().digest;
        let stream = self
            .images()
            .await?
            .read_blob(agent_proto::BlobRef { digest })
            .await?
            .into_inner()
            .map(|chunk| chunk.map(|c| BlobChunk { data: c.data }));
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::{Availability, Meta, Node, NodeRole};

    fn node(id: &str, raft_id: Option<u64>, state: NodeState) -> Record {
        Record::Node(Node {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            hostname: format!("host-{id}"),
            addr: format!("{id}:4242"),
            role: if raft_id.is_some() {
                NodeRole::Manager
            } else {
                NodeRole::Worker
            },
            raft_id,
            availability: Availability::Active,
            state,
            desired_role: None,
            demoted_at_ms: None,
            platform: Default::default(),
            resources: Default::default(),
        })
    }

    #[test]
    fn sources_are_the_ready_managers() {
        let listed = sources(vec![
            node("m1", Some(1), NodeState::Ready),
            node("w1", None, NodeState::Ready),
            node("m2", Some(2), NodeState::Down),
            node("m3", Some(3), NodeState::Ready),
        ]);
        let ids: Vec<&str> = listed.iter().map(|s| s.node_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m3"]);
        assert_eq!(listed[1].addr, "m3:4242");
    }
}
