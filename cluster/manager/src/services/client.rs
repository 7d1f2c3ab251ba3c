//! A client of the services API, for the CLI and the tests: typed answers, one-line errors.

use tonic::transport::Channel;

use super::proto::{self, services_client::ServicesClient as RawClient};
use crate::pki::NodeIdentity;
use crate::{ManagerError, tls};

/// A service with its task counts, as the managers answer.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    /// The store record.
    pub record: cluster_state::Service,
    /// Tasks running.
    pub running: u64,
    /// Tasks wanted running.
    pub desired: u64,
    /// Tasks completed (jobs).
    pub completed: u64,
}

/// Tasks with the names of their services and nodes.
#[derive(Debug, Clone, Default)]
pub struct TaskList {
    /// The task records.
    pub tasks: Vec<cluster_state::Task>,
    /// Host names by node id.
    pub node_names: std::collections::HashMap<String, String>,
    /// Service names by service id.
    pub service_names: std::collections::HashMap<String, String>,
}

/// A cluster network with the services on it, as the managers answer.
#[derive(Debug, Clone)]
pub struct NetworkInfo {
    /// The store record.
    pub record: cluster_state::Network,
    /// Names of the services whose spec joins it.
    pub services: Vec<String>,
}

fn network_info(answer: proto::NetworkInfo) -> Result<NetworkInfo, ManagerError> {
    Ok(NetworkInfo {
        record: decode("network", &answer.record)?,
        services: answer.services,
    })
}

/// A secret or config with the services that use it, as the managers answer (a secret
/// without its payload).
#[derive(Debug, Clone)]
pub struct BlobInfo {
    /// The store record.
    pub record: cluster_state::Blob,
    /// Names of the services that use it.
    pub services: Vec<String>,
}

fn blob_info(answer: proto::BlobInfo) -> Result<BlobInfo, ManagerError> {
    Ok(BlobInfo {
        record: decode("secret or config", &answer.record)?,
        services: answer.services,
    })
}

/// A connection to one manager's services API.
#[derive(Debug, Clone)]
pub struct ServicesClient {
    inner: RawClient<Channel>,
    addr: String,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, data: &[u8]) -> Result<T, ManagerError> {
    serde_json::from_slice(data).map_err(|e| ManagerError::Decode {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

fn info(answer: proto::ServiceInfo) -> Result<ServiceInfo, ManagerError> {
    Ok(ServiceInfo {
        record: decode("service", &answer.record)?,
        running: answer.running,
        desired: answer.desired,
        completed: answer.completed,
    })
}

impl ServicesClient {
    /// A client of the manager at `addr`, authenticated with `identity` (a manager's).
    pub fn new(addr: &str, identity: &NodeIdentity) -> Result<Self, ManagerError> {
        let channel = tls::channel(addr, tls::client_config(identity)?, true)?;
        Ok(ServicesClient {
            inner: RawClient::new(channel).max_decoding_message_size(crate::tls::MAX_MESSAGE),
            addr: addr.to_owned(),
        })
    }

    fn remote(&self, status: tonic::Status) -> ManagerError {
        crate::client::remote(&self.addr, status)
    }

    /// Creates a service; its record.
    pub async fn create(
        &self,
        request: proto::CreateServiceRequest,
    ) -> Result<cluster_state::Service, ManagerError> {
        let reply = self
            .inner
            .clone()
            .create_service(request)
            .await
            .map_err(|s| self.remote(s))?;
        decode("service", &reply.into_inner().record)
    }

    /// Updates a service; its new record.
    pub async fn update(
        &self,
        request: proto::UpdateServiceRequest,
    ) -> Result<cluster_state::Service, ManagerError> {
        let reply = self
            .inner
            .clone()
            .update_service(request)
            .await
            .map_err(|s| self.remote(s))?;
        decode("service", &reply.into_inner().record)
    }

    /// Removes a service.
    pub async fn remove(&self, service: &str) -> Result<(), ManagerError> {
        self.inner
            .clone()
            .remove_service(proto::ServiceRef {
                service: service.to_owned(),
            })
            .await
            .map_err(|s| self.remote(s))?;
        Ok(())
    }

    /// Every service.
    pub async fn list(&self) -> Result<Vec<ServiceInfo>, ManagerError> {
        let reply = self
            .inner
            .clone()
            .list_services(proto::Empty {})
            .await
            .map_err(|s| self.remote(s))?;
        reply.into_inner().services.into_iter().map(info).collect()
    }

    /// One service.
    pub async fn inspect(&self, service: &str) -> Result<ServiceInfo, ManagerError> {
        let reply = self
            .inner
            .clone()
            .inspect_service(proto::ServiceRef {
                service: service.to_owned(),
            })
            .await
            .map_err(|s| self.remote(s))?;
        info(reply.into_inner())
    }

    /// Creates a cluster network; its record.
    pub async fn create_network(
        &self,
        request: proto::CreateNetworkRequest,
    ) -> Result<NetworkInfo, ManagerError> {
        let reply = self
            .inner
            .clone()
            .create_network(request)
            .await
            .map_err(|s| self.remote(s))?;
        network_info(reply.into_inner())
    }

    /// Every cluster network, by name.
    pub async fn networks(&self) -> Result<Vec<NetworkInfo>, ManagerError> {
        let reply = self
            .inner
            .clone()
            .list_networks(proto::Empty {})
            .await
            .map_err(|s| self.remote(s))?;
        reply
            .into_inner()
            .networks
            .into_iter()
            .map(network_info)
            .collect()
    }

    /// One cluster network (name, id or unique id prefix).
    pub async fn network(&self, network: &str) -> Result<NetworkInfo, ManagerError> {
        let reply = self
            .inner
            .clone()
            .inspect_network(proto::NetworkRef {
                network: network.to_owned(),
            })
            .await
            .map_err(|s| self.remote(s))?;
        network_info(reply.into_inner())
    }

    /// Removes a cluster network.
    pub async fn remove_network(&self, network: &str) -> Result<(), ManagerError> {
        self.inner
            .clone()
            .remove_network(proto::NetworkRef {
                network: network.to_owned(),
            })
            .await
            .map_err(|s| self.remote(s))?;
        Ok(())
    }

    /// Tasks matching `request`.
    pub async fn tasks(&self, request: proto::ListTasksRequest) -> Result<TaskList, ManagerError> {
        let reply = self
            .inner
            .clone()
            .list_tasks(request)
            .await
            .map_err(|s| self.remote(s))?
            .into_inner();
        Ok(TaskList {
            tasks: decode("tasks", &reply.tasks)?,
            node_names: reply.node_names,
            service_names: reply.service_names,
        })
    }

    /// Changes a node's availability or labels.
    pub async fn update_node(&self, request: proto::UpdateNodeRequest) -> Result<(), ManagerError> {
        self.inner
            .clone()
            .update_node(request)
            .await
            .map_err(|s| self.remote(s))?;
        Ok(())
    }

    /// Creates a secret or config; its record (a secret's without the payload).
    pub async fn create_blob(
        &self,
        request: proto::CreateBlobRequest,
    ) -> Result<BlobInfo, ManagerError> {
        let reply = self
            .inner
            .clone()
            .create_blob(request)
            .await
            .map_err(|s| self.remote(s))?;
        blob_info(reply.into_inner())
    }

    /// Every secret or every config, by name.
    pub async fn blobs(&self, kind: proto::BlobKind) -> Result<Vec<BlobInfo>, ManagerError> {
        let reply = self
            .inner
            .clone()
            .list_blobs(proto::BlobKindRef { kind: kind as i32 })
            .await
            .map_err(|s| self.remote(s))?;
        reply
            .into_inner()
            .blobs
            .into_iter()
            .map(blob_info)
            .collect()
    }

    /// One secret or config (name, id or unique id prefix).
    pub async fn blob(&self, kind: proto::BlobKind, name: &str) -> Result<BlobInfo, ManagerError> {
        let reply = self
            .inner
            .clone()
            .inspect_blob(proto::BlobRef {
                kind: kind as i32,
                name: name.to_owned(),
            })
            .await
            .map_err(|s| self.remote(s))?;
        blob_info(reply.into_inner())
    }

    /// Removes a secret or config.
    pub async fn remove_blob(&self, kind: proto::BlobKind, name: &str) -> Result<(), ManagerError> {
        self.inner
            .clone()
            .remove_blob(proto::BlobRef {
                kind: kind as i32,
                name: name.to_owned(),
            })
            .await
            .map_err(|s| self.remote(s))?;
        Ok(())
    }
}
