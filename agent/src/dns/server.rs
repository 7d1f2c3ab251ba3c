//! One network's DNS server: a UDP socket and a TCP listener, each query decided by
//! [`super::answer`] against the network's record as it is at that moment (read from the store
//! on the blocking pool), so a container that starts or stops is answered at once.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::network::Networks;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::answer::{self, Outcome, Transport};
use super::upstream;

/// A TCP client idle this long is disconnected.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// What a server answers for: one network of a node, and where other names go.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// The node's networks.
    pub networks: Networks,
    /// The network's id.
    pub network_id: String,
    /// The resolvers other names are forwarded to.
    pub upstreams: Arc<upstream::Upstreams>,
}

impl Zone {
    /// The answer to one query from `source` (`None` for no answer at all).
    pub(crate) async fn resolve(
        &self,
        query: Vec<u8>,
        source: IpAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let (networks, id) = (self.networks.clone(), self.network_id.clone());
        let decided = tokio::task::spawn_blocking(move || {
            networks
                .inspect(&id)
                .map(|record| answer::answer(&query, source, &record, transport))
                .map(|outcome| (outcome, query))
        })
        .await;
        let (outcome, query) = match decided {
            Ok(Ok(decided)) => decided,
            Ok(Err(err)) => {
                tracing::warn!(network = %self.network_id, cause = %err, "dns: cannot read the network");
                return None;
            }
            Err(err) => {
                tracing::error!(network = %self.network_id, cause = %err, "dns: lookup task failed");
                return None;
            }
        };
        match outcome {
            Outcome::Reply(bytes) => Some(bytes),
            Outcome::Ignore => None,
            Outcome::Forward => {
                let tcp = transport == Transport::Tcp;
                let servers = self.upstreams.current();
                match upstream::forward(&servers, &query, tcp).await {
                    Some(answer) => Some(answer),
                    None => Some(servfail(&query)?),
                }
            }
        }
    }
}

/// SERVFAIL for a query no upstream answered.
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    use hickory_proto::op::{Message, ResponseCode};
    let q = Message::from_vec(query).ok()?;
    let mut m = Message::error_msg(q.metadata.id, q.metadata.op_code, ResponseCode::ServFail);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_queries(q.queries);
    m.to_vec().ok()
}

/// Serves `zone` on `udp` and `tcp` until `shutdown` resolves. Queries in flight when it does
/// are dropped (clients retry).
pub(crate) async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    zone: Zone,
    shutdown: impl Future<Output = ()>,
) {
    let udp = Arc::new(udp);
    let mut tasks = tokio::task::JoinSet::new();
    let mut buf = vec![0u8; 65535];
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            received = udp.recv_from(&mut buf) => match received {
                Ok((n, peer)) => {
                    let (udp, zone, query) = (Arc::clone(&udp), zone.clone(), buf[..n].to_vec());
                    tasks.spawn(async move {
                        if let Some(reply) = zone.resolve(query, peer.ip(), Transport::Udp).await
                            && let Err(err) = udp.send_to(&reply, peer).await
                        {
                            tracing::debug!(client = %peer, cause = %err, "dns: cannot answer");
                        }
                    });
                }
                // ICMP errors of earlier answers surface here; the socket stays usable.
                Err(err) => tracing::debug!(cause = %err, "dns: udp receive failed"),
            },
            accepted = tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    let zone = zone.clone();
                    tasks.spawn(async move {
                        if let Err(err) = serve_tcp(stream, peer, zone).await {
                            tracing::debug!(client = %peer, cause = %err, "dns: tcp client");
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(cause = %err, "dns: tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.shutdown().await;
}

/// Answers length-prefixed queries on one TCP connection until the client goes or idles.
async fn serve_tcp(mut stream: TcpStream, peer: SocketAddr, zone: Zone) -> std::io::Result<()> {
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(Ok(len)) => len,
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(err)) => return Err(err),
            Err(_) => return Ok(()),
        };
        let mut query = vec![0u8; usize::from(len)];
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut query))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let Some(reply) = zone.resolve(query, peer.ip(), Transport::Tcp).await else {
            return Ok(());
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        let mut framed = n.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}
