//! Clients of the image, volume and container changes APIs for the CLI, on a channel to the agent's socket.

use std::path::Path;

use tonic::transport::Channel;

use crate::agent::container_changes_client::ContainerChangesClient;
use crate::agent::images_client::ImagesClient;
use crate::agent::volumes_client::VolumesClient;
use crate::client::{ClientError, channel};

/// The image API client for the agent at `socket`.
pub async fn images(socket: &Path) -> Result<ImagesClient<Channel>, ClientError> {
    Ok(ImagesClient::new(channel(socket).await?))
}

/// The volume API client for the agent at `socket`.
pub async fn volumes(socket: &Path) -> Result<VolumesClient<Channel>, ClientError> {
    Ok(VolumesClient::new(channel(socket).await?))
}

/// The container changes API client (copy, export, diff, commit, update) for the agent at
/// `socket`.
pub async fn changes(socket: &Path) -> Result<ContainerChangesClient<Channel>, ClientError> {
    Ok(ContainerChangesClient::new(channel(socket).await?))
}
