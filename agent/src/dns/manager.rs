//! The DNS servers of a node: one per user-defined network on `<gateway>:53`, kept in line with
//! the network records (started for every network at agent start and on create, stopped on
//! remove, and reconciled periodically so networks made by any path get theirs).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use engine::network::{NetworkRecord, Networks};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use super::server::{Zone, serve};
use super::upstream::Upstreams;
use crate::node::DEFAULT_NETWORK;

/// The standard DNS port.
pub(crate) const DNS_PORT: u16 = 53;

/// How often the servers are reconciled with the records.
pub(crate) const RECONCILE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Running {
    address: Ipv4Addr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// What reconciling decides: servers to stop (network ids), networks to serve.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Running servers whose network is gone or moved.
    pub stop: Vec<String>,
    /// Networks without a server: id and gateway.
    pub start: Vec<(String, Ipv4Addr)>,
}

/// Whether a network gets a DNS server: every network but the default one (as Docker does,
/// containers there use the host's resolvers).
pub(crate) fn serves(record: &NetworkRecord) -> bool {
    record.name != DEFAULT_NETWORK
}

/// Compares the running servers (id → address) with the records.
pub(crate) fn plan(running: &BTreeMap<String, Ipv4Addr>, records: &[NetworkRecord]) -> Plan {
    let wanted: BTreeMap<&str, Ipv4Addr> = records
        .iter()
        .filter(|r| serves(r))
        .map(|r| (r.id.as_str(), r.gateway))
        .collect();
    Plan {
        stop: running
            .iter()
            .filter(|(id, addr)| wanted.get(id.as_str()) != Some(addr))
            .map(|(id, _)| id.clone())
            .collect(),
        start: wanted
            .iter()
            .filter(|(id, addr)| running.get(**id) != Some(addr))
            .map(|(id, addr)| (id.to_string(), *addr))
            .collect(),
    }
}

/// The node's DNS servers. They run on a runtime of their own (one worker thread), so that
/// answers never wait behind engine work on the agent's threads.
#[derive(Debug)]
pub struct DnsServers {
    networks: Networks,
    upstreams: Arc<Upstreams>,
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
    // An async mutex: starting and stopping servers awaits while the map is held, so that two
    // reconciliations never bind the same address twice.
    running: Mutex<BTreeMap<String, Running>>,
}

/// Binds the server's sockets (std sockets: they are registered with the DNS runtime by the
/// server task). std's TCP listener sets `SO_REUSEADDR`, so a restarted agent rebinds at once.
fn bind(
    address: Ipv4Addr,
    port: u16,
) -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let udp = std::net::UdpSocket::bind((address, port))?;
    udp.set_nonblocking(true)?;
    let tcp = std::net::TcpListener::bind((address, port))?;
    tcp.set_nonblocking(true)?;
    Ok((udp, tcp))
}

impl DnsServers {
    /// Servers over `networks` forwarding other names to `upstreams`, listening on `port`
    /// (53 but in tests).
    pub fn new(networks: Networks, upstreams: Upstreams, port: u16) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dns")
            .enable_all()
            .build()
            .map_err(|err| {
                tracing::error!(cause = %err, "dns: cannot start its runtime; serving on the agent's");
            })
            .ok();
        Self {
            networks,
            upstreams: Arc::new(upstreams),
            port,
            runtime,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// The networks with a running server, and where it listens.
    pub async fn running(&self) -> BTreeMap<String, SocketAddr> {
        let port = self.port;
        self.running
            .lock()
            .await
            .iter()
            .map(|(id, r)| (id.clone(), SocketAddr::from((r.address, port))))
            .collect()
    }

    /// Starts the servers that are missing and stops those whose network is gone. A server that
    /// cannot bind is logged and tried again at the next reconciliation.
    pub async fn reconcile(&self) {
        let networks = self.networks.clone();
        let records = match tokio::task::spawn_blocking(move || networks.list()).await {
            Ok(Ok(records)) => records,
            Ok(Err(err)) => {
                tracing::warn!(cause = %err, "dns: cannot list the networks");
                return;
            }
            Err(err) => {
                tracing::error!(cause = %err, "dns: listing task failed");
                return;
            }
        };
        let mut running = self.running.lock().await;
        let current = running
            .iter()
            .map(|(id, r)| (id.clone(), r.address))
            .collect();
        let plan = plan(&current, &records);
        for id in plan.stop {
            if let Some(server) = running.remove(&id) {
                stop(server).await;
                tracing::info!(network = %id, "dns server stopped");
            }
        }
        for (id, address) in plan.start {
            match bind(address, self.port) {
                Ok((udp, tcp)) => {
                    let zone = Zone {
                        networks: self.networks.clone(),
                        network_id: id.clone(),
                        upstreams: Arc::clone(&self.upstreams),
                    };
                    let (tx, rx) = oneshot::channel::<()>();
                    let server = async move {
                        let sockets = UdpSocket::from_std(udp)
                            .and_then(|udp| Ok((udp, TcpListener::from_std(tcp)?)));
                        match sockets {
                            // A dropped sender (the manager is gone) also stops the server.
                            Ok((udp, tcp)) => {
                                serve(udp, tcp, zone, async move {
                                    let _ = rx.await;
                                })
                                .await
                            }
                            Err(err) => {
                                tracing::error!(cause = %err, "dns: cannot register the sockets")
                            }
                        }
                    };
                    let task = match &self.runtime {
                        Some(runtime) => runtime.spawn(server),
                        None => tokio::spawn(server),
                    };
                    tracing::info!(network = %id, %address, port = self.port, "dns server started");
                    running.insert(
                        id,
                        Running {
                            address,
                            stop: tx,
                            task,
                        },
                    );
                }
                Err(err) => {
                    tracing::error!(network = %id, %address, port = self.port, cause = %err, "dns: cannot listen");
                }
            }
        }
    }

    /// Reconciles every [`RECONCILE_EVERY`] for as long as the manager lives.
    pub fn spawn_reconciler(self: &Arc<Self>) -> JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(servers) = weak.upgrade() else {
                    return;
                };
                servers.reconcile().await;
                drop(servers);
                tokio::time::sleep(RECONCILE_EVERY).await;
            }
        })
    }

    /// Stops every server and waits for them.
    pub async fn shutdown(&self) {
        let servers = std::mem::take(&mut *self.running.lock().await);
        for (_, server) in servers {
            stop(server).await;
        }
    }
}

impl Drop for DnsServers {
    fn drop(&mut self) {
        // Dropping a runtime inside another one would block it; let its threads wind down.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn stop(server: Running) {
    let _ = server.stop.send(());
    if let Err(err) = server.task.await {
        tracing::error!(cause = %err, "dns server task failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str, gateway: [u8; 4]) -> NetworkRecord {
        NetworkRecord {
            id: id.into(),
            name: name.into(),
            driver: "bridge".into(),
            internal: false,
            labels: Default::default(),
            subnet: "10.0.0.0/8".parse().unwrap(),
            gateway: gateway.into(),
            ip_range: None,
            subnet_v6: None,
            gateway_v6: None,
            mtu: 1500,
            bridge: "bsn-x".into(),
            created: 0,
            endpoints: Default::default(),
            overlay: None,
        }
    }

    #[test]
    fn plans_starts_and_stops() {
        let records = [
            record("d", DEFAULT_NETWORK, [10, 0, 0, 1]),
            record("a", "front", [10, 1, 0, 1]),
            record("b", "back", [10, 2, 0, 1]),
        ];
        let running = BTreeMap::from([
            ("a".to_string(), Ipv4Addr::new(10, 1, 0, 1)),
            ("b".to_string(), Ipv4Addr::new(10, 9, 0, 1)),
            ("gone".to_string(), Ipv4Addr::new(10, 3, 0, 1)),
        ]);
        let got = plan(&running, &records);
        assert_eq!(got.stop, ["b", "gone"]);
        assert_eq!(got.start, [("b".to_string(), Ipv4Addr::new(10, 2, 0, 1))]);
        let settled = BTreeMap::from([
            ("a".to_string(), Ipv4Addr::new(10, 1, 0, 1)),
            ("b".to_string(), Ipv4Addr::new(10, 2, 0, 1)),
        ]);
        assert_eq!(plan(&settled, &records), Plan::default());
    }
}
