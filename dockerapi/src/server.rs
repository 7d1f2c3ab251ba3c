//! The accept loop: each connection is admitted by its peer's credentials, then served as
//! HTTP/1.1 with upgrades (the hijacked attach and exec streams) until the shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tonic::transport::Channel;

use super::context::Context;
use super::reply::Body;

/// Whether a peer with this uid, gid and pid (when known) may use the API.
pub type Admit = Arc<dyn Fn(u32, u32, Option<i32>) -> bool + Send + Sync>;

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("docker API server: {0}")]
pub struct ServeError(#[from] std::io::Error);

/// Serves the Docker API on `listener`, translating to the agent reached through `agent`, for
/// the peers `admit` lets in, until `shutdown` resolves. Connections in progress are dropped
/// at shutdown (their clients see the socket close, as with a stopping Docker daemon).
pub async fn serve(
    listener: UnixListener,
    agent: Channel,
    admit: Admit,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let context = Arc::new(Context::new(agent));
    tokio::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    tracing::warn!(cause = %err, "docker API: accept failed");
                    continue;
                }
            },
        };
        let admitted = stream
            .peer_cred()
            .is_ok_and(|cred| admit(cred.uid(), cred.gid(), cred.pid()));
        if !admitted {
            tracing::warn!(
                "docker API: refused a client that is neither root nor in the agent's group"
            );
            drop(stream);
            continue;
        }
        let context = context.clone();
        connections.spawn(async move {
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let context = context.clone();
                async move { Ok::<_, Infallible>(handle(context, request).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(err) = served {
                tracing::debug!(cause = %err, "docker API: connection ended with an error");
            }
        });
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
    context.abort_all();
    Ok(())
}

/// One request: decoded into a route, answered by its handler, errors in Docker's shape.
async fn handle(context: Arc<Context>, request: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = super::route::parse(&method, &path);
    tracing::debug!(%method, %path, ?route, "docker API request");
    match super::route::dispatch(context, route, request).await {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(%method, %path, status = %err.status, message = %err.message, "docker API error");
            err.into_response()
        }
    }
}
