//! Relaying UDP: each client address is a flow with a socket of its own connected to the
//! container, so replies find their way back; a flow idle for [`FLOW_IDLE`] is dropped, and at
//! most [`MAX_FLOWS`] run at once (datagrams of further clients are dropped, as UDP allows).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Closed;

/// How long a flow lives without traffic (Docker's docker-proxy uses the same).
pub(super) const FLOW_IDLE: Duration = Duration::from_secs(90);
/// Flows at once per published port.
pub(super) const MAX_FLOWS: usize = 4096;
/// Largest datagram relayed.
const DATAGRAM: usize = 65_535;
/// Answers queued for the listening socket before a flow waits.
const QUEUED: usize = 256;

/// A datagram from the container for a client.
type Reply = (SocketAddr, Vec<u8>);

struct Flow {
    upstream: Arc<UdpSocket>,
    /// When the client last sent something.
    last: Arc<std::sync::Mutex<Instant>>,
}

/// Everything one listener owns, dropped in this order when it stops. Only this task holds
/// the listening socket: flows hand their answers over a channel.
struct State {
    socket: UdpSocket,
    flows: HashMap<SocketAddr, Flow>,
    replies: JoinSet<SocketAddr>,
    answers: mpsc::Sender<Reply>,
    _closed: Closed,
}

/// Relays datagrams arriving on `socket` to `target`, and the container's answers back to
/// each client, until the task is aborted.
pub(super) async fn serve(socket: UdpSocket, target: SocketAddr, closed: Closed) {
    let (answers, mut answered) = mpsc::channel::<Reply>(QUEUED);
    let mut state = State {
        socket,
        flows: HashMap::new(),
        replies: JoinSet::new(),
        answers,
        _closed: closed,
    };
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        tokio::select! {
            Some((client, datagram)) = answered.recv() => {
                if let Err(err) = state.socket.send_to(&datagram, client).await {
                    tracing::debug!(%client, cause = %err, "port proxy: udp reply failed");
                }
            },
            received = state.socket.recv_from(&mut buf) => match received {
                Ok((len, client)) => forward(&mut state, &buf[..len], client, target).await,
                Err(err) => {
                    tracing::debug!(%target, cause = %err, "port proxy: udp receive failed");
                }
            },
            Some(ended) = state.replies.join_next(), if !state.replies.is_empty() => {
                if let Ok(client) = ended {
                    state.flows.remove(&client);
                }
            }
        }
    }
}

async fn forward(state: &mut State, datagram: &[u8], client: SocketAddr, target: SocketAddr) {
    if !state.flows.contains_key(&client) {
        if state.flows.len() >= MAX_FLOWS {
            tracing::debug!(%client, %target, "port proxy: too many udp flows; datagram dropped");
            return;
        }
        let local: IpAddr = match target {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let upstream = match UdpSocket::bind((local, 0)).await {
            Ok(upstream) => upstream,
            Err(err) => {
                tracing::warn!(%target, cause = %err, "port proxy: cannot open a udp flow");
                return;
            }
        };
        if let Err(err) = upstream.connect(target).await {
            tracing::debug!(%target, cause = %err, "port proxy: cannot reach the container");
            return;
        }
        let flow = Flow {
            upstream: Arc::new(upstream),
            last: Arc::new(std::sync::Mutex::new(Instant::now())),
        };
        state.replies.spawn(replies(
            Arc::clone(&flow.upstream),
            state.answers.clone(),
            client,
            Arc::clone(&flow.last),
        ));
        state.flows.insert(client, flow);
    }
    if let Some(flow) = state.flows.get(&client) {
        *flow.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        if let Err(err) = flow.upstream.send(datagram).await {
            tracing::debug!(%client, %target, cause = %err, "port proxy: udp send failed");
        }
    }
}

/// Sends the container's datagrams of one flow back to its client until the flow has been
/// idle (in both directions) for [`FLOW_IDLE`]; returns the client.
async fn replies(
    upstream: Arc<UdpSocket>,
    answers: mpsc::Sender<Reply>,
    client: SocketAddr,
    last: Arc<std::sync::Mutex<Instant>>,
) -> SocketAddr {
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        match tokio::time::timeout(FLOW_IDLE, upstream.recv(&mut buf)).await {
            Ok(Ok(len)) => {
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                if answers.send((client, buf[..len].to_vec())).await.is_err() {
                    return client;
                }
            }
            // An ICMP error from the container's side (nothing listening yet): keep the flow.
            Ok(Err(_)) => {}
            Err(_) => {
                let idle = last.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
                if idle >= FLOW_IDLE {
                    return client;
                }
            }
        }
    }
}
