//! One channel to the agent and the generated clients of its services (containers, images,
//! volumes, networks), cheap to clone: every clone shares the channel.

use std::path::Path;

use tonic::transport::Channel;

use crate::client::{ClientError, channel};
use crate::proto::{
    self, agent_client::AgentClient, container_changes_client::ContainerChangesClient,
    images_client::ImagesClient, networks_client::NetworksClient, volumes_client::VolumesClient,
};

/// The agent's services over one unix-socket channel.
#[derive(Debug, Clone)]
pub struct ComposeClient {
    /// Containers.
    pub containers: AgentClient<Channel>,
    /// Images.
    pub images: ImagesClient<Channel>,
    /// Volumes.
    pub volumes: VolumesClient<Channel>,
    /// Networks.
    pub networks: NetworksClient<Channel>,
    channel: Channel,
}

impl ComposeClient {
    /// Connects to the agent listening on `socket`.
    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        let channel = channel(socket).await?;
        Ok(Self {
            containers: AgentClient::new(channel.clone()),
            images: ImagesClient::new(channel.clone()),
            volumes: VolumesClient::new(channel.clone()),
            networks: NetworksClient::new(channel.clone()),
            channel,
        })
    }

    /// The container changes service (copy, export, diff, commit, update) on this channel.
    pub fn changes(&self) -> ContainerChangesClient<Channel> {
        ContainerChangesClient::new(self.channel.clone())
    }

    /// Renames a container (`Agent/Rename`).
    pub async fn rename(&self, container: &str, new_name: &str) -> Result<(), ClientError> {
        let request = proto::RenameRequest {
            container: container.to_string(),
            new_name: new_name.to_string(),
        };
        let _: proto::Empty = self.unary("/bosun.agent.v1.Agent/Rename", request).await?;
        Ok(())
    }

    /// The published ports of a container with the host ports bound (`Agent/Port`).
    pub async fn ports(&self, container: &str) -> Result<Vec<proto::PortBinding>, ClientError> {
        let request = proto::ContainerRef {
            container: container.to_string(),
        };
        let response: proto::PortResponse =
            self.unary("/bosun.agent.v1.Agent/Port", request).await?;
        Ok(response.ports)
    }

    /// One unary call by method path, for the agent methods called by path rather than
    /// through a generated client.
    async fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp, ClientError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| {
            tonic::Status::unavailable(format!("the bosun agent is not ready: {e}"))
        })?;
        let codec = tonic::codec::ProstCodec::<Req, Resp>::default();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        Ok(grpc
            .unary(tonic::Request::new(request), path, codec)
            .await?
            .into_inner())
    }
}
