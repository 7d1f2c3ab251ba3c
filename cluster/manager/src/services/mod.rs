//! The services API (`proto/services.proto`): services, their tasks, the scheduling
//! settings of nodes, cluster networks ([`crate::networks`]), and secrets and configs
//! ([`crate::secrets`]). Served beside the Manager service on the same mutual-TLS server, for
//! manager certificates only. Requests are decoded and validated here, into the swarm's
//! types; writes run on the leader (a follower forwards them), reads anywhere, linearizably.
//! The leader's control loop ([`crate::control`]) turns what is written here into tasks.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod decode;
pub(crate) mod guard;
pub(crate) mod lookup;
mod nodes;
mod read;
testing_mod!(update);
mod write;

use std::sync::Arc;

use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::networks::api as networks;
use crate::secrets::api as secrets;
use crate::service::{ManagerService, Need, forwarded, status_of};
pub use api::services as proto;
use proto::services_client::ServicesClient as RawClient;
use proto::services_server::Services;

pub use client::ServicesClient;
pub use proto::services_server::ServicesServer;

/// The services API of one manager.
pub struct ServicesApi {
    manager: Arc<ManagerService>,
}

impl ServicesApi {
    /// The API over `manager`'s raft thread, authentication and forwarding.
    pub fn new(manager: Arc<ManagerService>) -> Self {
        ServicesApi { manager }
    }

    fn client(&self, addr: &str) -> Result<RawClient<Channel>, Status> {
        Ok(RawClient::new(self.manager.channel(addr)?))
    }

    /// Checks the caller, then `None` when this manager leads (handle here) or the client
    /// of the leader to forward to.
    async fn leader<T>(&self, request: &Request<T>) -> Result<Option<RawClient<Channel>>, Status> {
        self.manager.authorize(request, Need::Manager).await?;
        let view = self.manager.raft.status().await.map_err(status_of)?;
        if view.status.leader == Some(view.status.id) {
            return Ok(None);
        }
        match view.leader_addr {
            Some(addr) if !forwarded(request) => Ok(Some(self.client(&addr)?)),
            _ => match view.quorum_error {
                Some(no) => Err(api::Reason::NoQuorum.mark(Status::unavailable(no.to_string()))),
                None => Err(Status::unavailable("no leader elected yet; retry shortly")),
            },
        }
    }

    async fn reader<T>(&self, request: &Request<T>) -> Result<(), Status> {
        self.manager.authorize(request, Need::Manager).await?;
        Ok(())
    }
}

fn forward<T>(inner: T) -> Request<T> {
    ManagerService::forward_request(inner)
}

#[tonic::async_trait]
impl Services for ServicesApi {
    async fn create_service(
        &self,
        request: Request<proto::CreateServiceRequest>,
    ) -> Result<Response<proto::ServiceReply>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.create_service(forward(request.into_inner())).await;
        }
        write::create(&self.manager, request.into_inner()).await
    }

    async fn update_service(
        &self,
        request: Request<proto::UpdateServiceRequest>,
    ) -> Result<Response<proto::ServiceReply>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.update_service(forward(request.into_inner())).await;
        }
        write::update(&self.manager, request.into_inner()).await
    }

    async fn remove_service(
        &self,
        request: Request<proto::ServiceRef>,
    ) -> Result<Response<proto::Empty>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.remove_service(forward(request.into_inner())).await;
        }
        write::remove(&self.manager, request.into_inner()).await
    }

    async fn list_services(
        &self,
        request: Request<proto::Empty>,
    ) -> Result<Response<proto::ServiceList>, Status> {
        self.reader(&request).await?;
        read::list_services(&self.manager).await
    }

    async fn inspect_service(
        &self,
        request: Request<proto::ServiceRef>,
    ) -> Result<Response<proto::ServiceInfo>, Status> {
        self.reader(&request).await?;
        read::inspect_service(&self.manager, &request.get_ref().service).await
    }

    async fn list_tasks(
        &self,
        request: Request<proto::ListTasksRequest>,
    ) -> Result<Response<proto::TaskList>, Status> {
        self.reader(&request).await?;
        read::list_tasks(&self.manager, request.get_ref()).await
    }

    async fn update_node(
        &self,
        request: Request<proto::UpdateNodeRequest>,
    ) -> Result<Response<proto::Empty>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.update_node(forward(request.into_inner())).await;
        }
        nodes::update(&self.manager, request.into_inner()).await
    }

    async fn create_network(
        &self,
        request: Request<proto::CreateNetworkRequest>,
    ) -> Result<Response<proto::NetworkInfo>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.create_network(forward(request.into_inner())).await;
        }
        networks::create(&self.manager, request.into_inner()).await
    }

    async fn list_networks(
        &self,
        request: Request<proto::Empty>,
    ) -> Result<Response<proto::NetworkList>, Status> {
        self.reader(&request).await?;
        networks::list(&self.manager).await
    }

    async fn inspect_network(
        &self,
        request: Request<proto::NetworkRef>,
    ) -> Result<Response<proto::NetworkInfo>, Status> {
        self.reader(&request).await?;
        networks::inspect(&self.manager, &request.get_ref().network).await
    }

    async fn remove_network(
        &self,
        request: Request<proto::NetworkRef>,
    ) -> Result<Response<proto::Empty>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.remove_network(forward(request.into_inner())).await;
        }
        networks::remove(&self.manager, &request.get_ref().network).await
    }

    async fn create_blob(
        &self,
        request: Request<proto::CreateBlobRequest>,
    ) -> Result<Response<proto::BlobInfo>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.create_blob(forward(request.into_inner())).await;
        }
        secrets::create(&self.manager, request.into_inner()).await
    }

    async fn list_blobs(
        &self,
        request: Request<proto::BlobKindRef>,
    ) -> Result<Response<proto::BlobList>, Status> {
        self.reader(&request).await?;
        let kind = secrets::kind_of(request.get_ref().kind)?;
        secrets::list(&self.manager, kind).await
    }

    async fn inspect_blob(
        &self,
        request: Request<proto::BlobRef>,
    ) -> Result<Response<proto::BlobInfo>, Status> {
        self.reader(&request).await?;
        let kind = secrets::kind_of(request.get_ref().kind)?;
        secrets::inspect(&self.manager, kind, &request.get_ref().name).await
    }

    async fn remove_blob(
        &self,
        request: Request<proto::BlobRef>,
    ) -> Result<Response<proto::Empty>, Status> {
        if let Some(mut leader) = self.leader(&request).await? {
            return leader.remove_blob(forward(request.into_inner())).await;
        }
        let kind = secrets::kind_of(request.get_ref().kind)?;
        secrets::remove(&self.manager, kind, &request.get_ref().name).await
    }
}
