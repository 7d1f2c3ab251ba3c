//! Relaying TCP: every accepted connection gets its own connection to the container, and bytes
//! are copied both ways until both sides have closed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Closed;

/// Everything one listener owns, dropped in this order when it stops.
struct State {
    listener: TcpListener,
    connections: JoinSet<()>,
    _closed: Closed,
}

/// Accepts on `listener` and relays each connection to `target`, until the task is aborted.
pub(super) async fn serve(listener: TcpListener, target: SocketAddr, closed: Closed) {
    let mut state = State {
        listener,
        connections: JoinSet::new(),
        _closed: closed,
    };
    loop {
        tokio::select! {
            accepted = state.listener.accept() => match accepted {
                Ok((client, peer)) => {
                    state.connections.spawn(relay(client, peer, target));
                }
                Err(err) => {
                    // Out of descriptors and the like: let connections end, then go on.
                    tracing::warn!(%target, cause = %err, "port proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = state.connections.join_next(), if !state.connections.is_empty() => {}
        }
    }
}

async fn relay(mut client: TcpStream, peer: SocketAddr, target: SocketAddr) {
    let mut upstream = match TcpStream::connect(target).await {
        Ok(upstream) => upstream,
        Err(err) => {
            tracing::debug!(%peer, %target, cause = %err, "port proxy: cannot reach the container");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%peer, %target, cause = %err, "port proxy: connection ended");
    }
}
