//! The userland proxy for published ports the kernel cannot serve by DNAT (ports on the IPv6
//! loopback `::1`, and IPv6 host addresses of containers without IPv6; see
//! [`engine::network::proxy`]), as Docker's docker-proxy: a TCP listener relaying every
//! connection, or a UDP socket relaying datagrams per client flow.
//!
//! The engine's network manager hands [`PortProxies::serve`] the full list after every change
//! of the endpoints, so the listeners come and go with the containers and networks, and come
//! back when the agent starts. Sockets are bound synchronously (a port answers as soon as the
//! container's start returns) and a listener no longer wanted is closed before `serve`
//! returns, so that its port can be published again at once.

mod tcp;
mod udp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use engine::network::ports::{bind_tcp, bind_udp};
use engine::network::{NetworkError, PortProxy, Protocol, ProxyPort};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// How long closing a listener may take before `serve` carries on without waiting.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Sends on drop: the last thing a relay task's state drops, after its sockets.
#[derive(Debug)]
struct Closed(mpsc::Sender<()>);

impl Drop for Closed {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[derive(Debug)]
struct Running {
    target: SocketAddr,
    task: JoinHandle<()>,
    closed: mpsc::Receiver<()>,
}

/// The node's proxied ports, each served by a task on the agent's runtime.
#[derive(Debug)]
pub struct PortProxies {
    handle: Handle,
    // A std mutex: `serve` runs on blocking threads and never awaits while holding it.
    running: Mutex<BTreeMap<(Protocol, SocketAddr), Running>>,
}

impl PortProxies {
    /// Proxies whose tasks run on `handle`'s runtime.
    pub fn new(handle: Handle) -> Self {
        Self {
            handle,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    fn running(&self) -> MutexGuard<'_, BTreeMap<(Protocol, SocketAddr), Running>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ports served now, with where they relay to.
    pub fn served(&self) -> Vec<ProxyPort> {
        self.running()
            .iter()
            .map(|((protocol, listen), r)| ProxyPort {
                protocol: *protocol,
                listen: *listen,
                target: r.target,
            })
            .collect()
    }

    fn start(&self, port: &ProxyPort) -> std::io::Result<Running> {
        let (tx, closed) = mpsc::channel();
        let done = Closed(tx);
        let target = port.target;
        let task = match port.protocol {
            Protocol::Tcp => {
                let listener = bind_tcp(port.listen)?;
                listener.set_nonblocking(true)?;
                let _guard = self.handle.enter();
                let listener = tokio::net::TcpListener::from_std(listener)?;
                self.handle.spawn(tcp::serve(listener, target, done))
            }
            Protocol::Udp => {
                let socket = bind_udp(port.listen)?;
                socket.set_nonblocking(true)?;
                let _guard = self.handle.enter();
                let socket = tokio::net::UdpSocket::from_std(socket)?;
                self.handle.spawn(udp::serve(socket, target, done))
            }
        };
        Ok(Running {
            target,
            task,
            closed,
        })
    }
}

impl PortProxy for PortProxies {
    fn serve(&self, ports: &[ProxyPort]) -> Result<(), NetworkError> {
        let mut running = self.running();
        let stale: Vec<(Protocol, SocketAddr)> = running
            .iter()
            .filter(|((protocol, listen), r)| {
                !ports
                    .iter()
                    .any(|p| p.protocol == *protocol && p.listen == *listen && p.target == r.target)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in stale {
            if let Some(r) = running.remove(&key) {
                r.task.abort();
                // The task's state, sockets first, is dropped on the runtime; wait for it.
                let _ = r.closed.recv_timeout(CLOSE_WAIT);
                tracing::debug!(port = %key.1, protocol = %key.0, "port proxy stopped");
            }
        }
        let mut failed = None;
        for port in ports {
            let key = (port.protocol, port.listen);
            if running.contains_key(&key) {
                continue;
            }
            match self.start(port) {
                Ok(r) => {
                    tracing::debug!(%port, "port proxy started");
                    running.insert(key, r);
                }
                // A host without the IPv6 loopback has nothing to serve there.
                Err(err)
                    if err.kind() == std::io::ErrorKind::AddrNotAvailable
                        && port.listen.ip().is_loopback() =>
                {
                    tracing::debug!(%port, "no IPv6 loopback: not proxied");
                }
                Err(source) => {
                    tracing::warn!(%port, cause = %source, "cannot proxy a published port");
                    failed.get_or_insert(NetworkError::Publish {
                        port: format!("{}/{}", port.listen, port.protocol),
                        source,
                    });
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

impl Drop for PortProxies {
    fn drop(&mut self) {
        for (_, r) in std::mem::take(&mut *self.running()) {
            r.task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
