//! Serving the API on a unix listener until a shutdown future resolves.

use std::future::Future;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

use super::node::Node;
use super::peer::PeerPolicy;
use super::proto::agent_server::AgentServer;
use super::service::AgentService;

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("agent server: {0}")]
pub struct ServeError(#[from] tonic::transport::Error);

/// Serves the agent API for `node` on `listener`, admitting peers by `policy`, until
/// `shutdown` resolves; in-flight requests are finished first. Also starts the supervisor
/// (healthchecks, restart policies, auto-removal).
// tonic's interceptor signature fixes the error type to `Status`.
#[allow(clippy::result_large_err)]
pub async fn serve(
    listener: UnixListener,
    node: Arc<Node>,
    policy: PeerPolicy,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    node.supervise_all();
    let service = AgentServer::with_interceptor(AgentService::new(node.clone()), move |request| {
        policy.check(request)
    });
    tonic::transport::Server::builder()
        .add_service(service)
        .add_service(
            super::proto::networks_server::NetworksServer::with_interceptor(
                super::networks::NetworksService::new(node.clone()),
                move |request| policy.check(request),
            ),
        )
        .add_service(super::proto::images_server::ImagesServer::with_interceptor(
            super::images::ImagesService::new(node.clone(), super::registry::Settings::from_env()),
            move |request| policy.check(request),
        ))
        .add_service(
            super::proto::container_changes_server::ContainerChangesServer::with_interceptor(
                super::changes::ChangesService::new(node.clone()),
                move |request| policy.check(request),
            ),
        )
        .add_service(
            super::proto::volumes_server::VolumesServer::with_interceptor(
                super::volumes::VolumesService::new(node.clone()),
                move |request| policy.check(request),
            ),
        )
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
