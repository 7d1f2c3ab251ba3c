//! The client side of the network API over the agent's unix socket, as the CLI uses it.

use std::path::Path;

use tonic::transport::Channel;

use crate::client::{ClientError, channel};
use crate::proto::{self, networks_client};

/// A connection to one agent's network API.
#[derive(Debug, Clone)]
pub struct NetworksClient {
    inner: networks_client::NetworksClient<Channel>,
}

impl NetworksClient {
    /// Connects to the agent listening on `socket`.
    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        Ok(Self {
            inner: networks_client::NetworksClient::new(channel(socket).await?),
        })
    }

    /// Creates a network.
    pub async fn create(
        &mut self,
        request: proto::NetworkCreateRequest,
    ) -> Result<proto::Network, ClientError> {
        Ok(self.inner.create(request).await?.into_inner())
    }

    /// Lists the networks passing `filters`.
    pub async fn list(&mut self, filters: Vec<String>) -> Result<Vec<proto::Network>, ClientError> {
        let request = proto::NetworkListRequest { filters };
        Ok(self.inner.list(request).await?.into_inner().networks)
    }

    /// One network by name, id or id prefix.
    pub async fn inspect(&mut self, network: &str) -> Result<proto::Network, ClientError> {
        Ok(self.inner.inspect(reference(network)).await?.into_inner())
    }

    /// Removes a network.
    pub async fn remove(&mut self, network: &str) -> Result<(), ClientError> {
        self.inner.remove(reference(network)).await?;
        Ok(())
    }

    /// Removes the unused networks passing `filters`; returns their names.
    pub async fn prune(&mut self, filters: Vec<String>) -> Result<Vec<String>, ClientError> {
        let request = proto::NetworkPruneRequest { filters };
        Ok(self.inner.prune(request).await?.into_inner().deleted)
    }

    /// Connects a running container to a network.
    pub async fn connect_container(
        &mut self,
        container: &str,
        attachment: proto::NetworkAttachment,
    ) -> Result<(), ClientError> {
        let request = proto::NetworkConnectRequest {
            container: container.to_string(),
            attachment: Some(attachment),
        };
        self.inner.connect_container(request).await?;
        Ok(())
    }

    /// Sets the remote endpoints of an overlay network; returns the updated network.
    pub async fn set_peers(
        &mut self,
        network: &str,
        peers: Vec<proto::OverlayPeer>,
    ) -> Result<proto::Network, ClientError> {
        let request = proto::NetworkPeersRequest {
            network: network.to_string(),
            peers,
        };
        Ok(self.inner.set_peers(request).await?.into_inner())
    }

    /// Sets the keys of an encrypted overlay network; returns the updated network.
    pub async fn set_keys(
        &mut self,
        network: &str,
        keys: Vec<proto::OverlayKey>,
    ) -> Result<proto::Network, ClientError> {
        let request = proto::NetworkKeysRequest {
            network: network.to_string(),
            keys,
        };
        Ok(self.inner.set_keys(request).await?.into_inner())
    }

    /// Sets the services' virtual addresses of an overlay network; returns the updated
    /// network.
    pub async fn set_services(
        &mut self,
        network: &str,
        services: Vec<proto::OverlayService>,
    ) -> Result<proto::Network, ClientError> {
        let request = proto::NetworkServicesRequest {
            network: network.to_string(),
            services,
        };
        Ok(self.inner.set_services(request).await?.into_inner())
    }

    /// Sets the ports the routing mesh publishes through an overlay network; returns the
    /// updated network.
    pub async fn set_mesh(
        &mut self,
        network: &str,
        ports: Vec<proto::MeshPort>,
    ) -> Result<proto::Network, ClientError> {
        let request = proto::NetworkMeshRequest {
            network: network.to_string(),
            ports,
        };
        Ok(self.inner.set_mesh(request).await?.into_inner())
    }

    /// Disconnects a container from a network.
    pub async fn disconnect_container(
        &mut self,
        container: &str,
        network: &str,
        force: bool,
    ) -> Result<(), ClientError> {
        let request = proto::NetworkDisconnectRequest {
            container: container.to_string(),
            network: network.to_string(),
            force,
        };
        self.inner.disconnect_container(request).await?;
        Ok(())
    }
}

fn reference(network: &str) -> proto::NetworkRef {
    proto::NetworkRef {
        network: network.to_string(),
    }
}
