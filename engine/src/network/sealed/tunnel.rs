//! The data path of one sealed overlay on this node: its TAP device, its UDP socket and the two
//! OS threads between them, with the peer table and keys they read (replaced whole by
//! [`Tunnel::set_peers`] and [`Tunnel::set_keys`]).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::peers::Destinations;
use super::{Header, PeerTable, Refusal, ReplayWindow, SealKey, open, seal, tap};
use crate::network::overlay::Peer;
use crate::network::xfrm::OverlayKey;
use crate::network::{NetworkError, Result};

/// How long a thread waits on its descriptor before it looks at the stop flag again.
const TICK: Duration = Duration::from_millis(250);
/// The largest frame or datagram read.
const BUFFER: usize = 65536;

/// What a tunnel is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TunnelSpec {
    /// The network's name (for logs).
    pub network: String,
    /// The TAP device.
    pub tap: String,
    /// The overlay's VNI.
    pub vni: u32,
    /// This node's underlay address (bound, and the sender id of its keys).
    pub local: Ipv4Addr,
    /// The UDP port, on every node.
    pub port: u16,
    /// The first counter sent with (the wall clock in nanoseconds when started: see the
    /// module docs of [`super`]).
    pub counter_start: u64,
}

/// The keys derived for this node: the one it seals with and, per remote node and key id, the
/// ones it opens with.
#[derive(Debug, Default)]
struct Keys {
    send: Option<SealKey>,
    receive: BTreeMap<(Ipv4Addr, u32), SealKey>,
}

/// What both threads read.
#[derive(Debug, Default)]
struct State {
    peers: PeerTable,
    secrets: Vec<OverlayKey>,
    keys: Keys,
}

impl State {
    fn derive(&mut self, vni: u32, local: Ipv4Addr) {
        let mut keys = Keys::default();
        for k in &self.secrets {
            if k.primary {
                keys.send = Some(SealKey::new(&k.secret, vni, k.id, local));
            }
            for &node in self.peers.nodes() {
                keys.receive
                    .insert((node, k.id), SealKey::new(&k.secret, vni, k.id, node));
            }
        }
        self.keys = keys;
    }
}

/// Datagrams dropped on receipt, by reason, and frames that could not be sent.
#[derive(Debug, Default)]
struct Counts {
    refused: [AtomicU64; 7],
    unsent: AtomicU64,
}

fn slot(r: Refusal) -> usize {
    match r {
        Refusal::Short => 0,
        Refusal::Version => 1,
        Refusal::Vni => 2,
        Refusal::UnknownSender => 3,
        Refusal::UnknownKey => 4,
        Refusal::Forged => 5,
        Refusal::Replay => 6,
    }
}

/// One running sealed overlay. Dropping it stops its threads and leaves its (persistent) TAP
/// device; [`Tunnel::remove`] removes the device too.
#[derive(Debug)]
pub(crate) struct Tunnel {
    spec: TunnelSpec,
    tap: Arc<File>,
    state: Arc<RwLock<State>>,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<JoinHandle<()>>,
}

fn read(state: &RwLock<State>) -> RwLockReadGuard<'_, State> {
    state
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Tunnel {
    /// Opens (or makes) the TAP device, binds the UDP socket and starts the threads, with
    /// `peers` and `keys` (none yet: every frame is dropped until keys come).
    pub(crate) fn start(spec: TunnelSpec, peers: &[Peer], keys: &[OverlayKey]) -> Result<Self> {
        let socket = UdpSocket::bind(SocketAddrV4::new(spec.local, spec.port)).map_err(|e| {
            NetworkError::Invalid {
                network: spec.network.clone(),
                message: format!(
                    "cannot bind the encrypted overlay's udp port {}:{}: {e}",
                    spec.local, spec.port
                ),
            }
        })?;
        socket
            .set_read_timeout(Some(TICK))
            .map_err(crate::network::io_err("set a timeout on", "udp socket"))?;
        let tap = Arc::new(tap::open(&spec.tap)?);
        let mut state = State {
            peers: PeerTable::new(peers),
            secrets: keys.to_vec(),
            keys: Keys::default(),
        };
        state.derive(spec.vni, spec.local);
        let mut tunnel = Self {
            tap,
            state: Arc::new(RwLock::new(state)),
            stop: Arc::new(AtomicBool::new(false)),
            counts: Arc::new(Counts::default()),
            threads: Vec::new(),
            spec,
        };
        let socket = Arc::new(socket);
        let out = {
            let (tap, socket, state, stop, counts) = tunnel.parts(&socket);
            let (vni, port, counter) =
                (tunnel.spec.vni, tunnel.spec.port, tunnel.spec.counter_start);
            std::thread::Builder::new()
                .name(format!("sealed-out-{vni}"))
                .spawn(move || outbound(&tap, &socket, &state, &stop, &counts, vni, port, counter))
        };
        match out {
            Ok(t) => tunnel.threads.push(t),
            Err(e) => return Err(tunnel.abandon(e)),
        }
        let inbound_thread = {
            let (tap, socket, state, stop, counts) = tunnel.parts(&socket);
            let vni = tunnel.spec.vni;
            std::thread::Builder::new()
                .name(format!("sealed-in-{vni}"))
                .spawn(move || inbound(&tap, &socket, &state, &stop, &counts, vni))
        };
        match inbound_thread {
            Ok(t) => tunnel.threads.push(t),
            Err(e) => return Err(tunnel.abandon(e)),
        }
        Ok(tunnel)
    }

    /// Gives up a tunnel whose thread `cause` could not be started: stops the other and
    /// removes the TAP device (made for it, or left by a previous agent: either way nothing
    /// carries it now). Returns the error to report.
    fn abandon(self, cause: std::io::Error) -> NetworkError {
        let network = self.spec.network.clone();
        if let Err(e) = self.remove() {
            tracing::warn!(%network, cause = %e, "cannot remove a tap device");
        }
        crate::network::io_err("spawn", "sealed overlay thread")(cause)
    }

    #[allow(clippy::type_complexity)]
    fn parts(
        &self,
        socket: &Arc<UdpSocket>,
    ) -> (
        Arc<File>,
        Arc<UdpSocket>,
        Arc<RwLock<State>>,
        Arc<AtomicBool>,
        Arc<Counts>,
    ) {
        (
            self.tap.clone(),
            socket.clone(),
            self.state.clone(),
            self.stop.clone(),
            self.counts.clone(),
        )
    }

    /// The TAP device.
    pub(crate) fn tap(&self) -> &str {
        &self.spec.tap
    }

    /// Replaces the remote endpoints.
    pub(crate) fn set_peers(&self, peers: &[Peer]) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.peers = PeerTable::new(peers);
        state.derive(self.spec.vni, self.spec.local);
    }

    /// Replaces the keys (one primary, sealed with; every one opened with).
    pub(crate) fn set_keys(&self, keys: &[OverlayKey]) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.secrets = keys.to_vec();
        state.derive(self.spec.vni, self.spec.local);
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::warn!(network = %self.spec.network, "a sealed overlay thread panicked");
            }
        }
        let refused: Vec<u64> = self
            .counts
            .refused
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        tracing::debug!(
            network = %self.spec.network,
            ?refused,
            unsent = self.counts.unsent.load(Ordering::Relaxed),
            "sealed overlay stopped"
        );
    }

    /// Stops the threads and removes the TAP device.
    pub(crate) fn remove(mut self) -> Result<()> {
        self.halt();
        tap::set_persist(&self.tap, &self.spec.tap, false)
        // The device goes with the last descriptor, dropped with `self`.
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Waits up to [`TICK`] for `file` to be readable.
fn readable(file: &File) -> bool {
    let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(TICK).unwrap_or(PollTimeout::NONE);
    matches!(poll(&mut fds, timeout), Ok(n) if n > 0)
}

/// TAP → seal → UDP, until `stop`.
#[allow(clippy::too_many_arguments)]
fn outbound(
    tap: &File,
    socket: &UdpSocket,
    state: &RwLock<State>,
    stop: &AtomicBool,
    counts: &Counts,
    vni: u32,
    port: u16,
    mut counter: u64,
) {
    let mut frame = vec![0u8; BUFFER];
    let mut datagram = Vec::with_capacity(BUFFER + 64);
    while !stop.load(Ordering::Relaxed) {
        if !readable(tap) {
            continue;
        }
        let n = match (&*tap).read(&mut frame) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                continue;
            }
            Err(e) => {
                tracing::warn!(vni, cause = %e, "cannot read the sealed overlay's tap device");
                std::thread::sleep(TICK);
                continue;
            }
        };
        let state = read(state);
        let Some(key) = &state.keys.send else {
            continue;
        };
        let mut send = |node: Ipv4Addr| {
            counter += 1;
            let header = Header {
                vni,
                key: key.id(),
                counter,
            };
            seal(key, header, &frame[..n], &mut datagram);
            if socket
                .send_to(&datagram, SocketAddrV4::new(node, port))
                .is_err()
            {
                counts.unsent.fetch_add(1, Ordering::Relaxed);
            }
        };
        match state.peers.destinations(&frame[..n]) {
            Destinations::None => {}
            Destinations::One(node) => send(node),
            Destinations::All(nodes) => nodes.iter().copied().for_each(&mut send),
        }
    }
}

/// UDP → open → TAP, until `stop`.
fn inbound(
    tap: &File,
    socket: &UdpSocket,
    state: &RwLock<State>,
    stop: &AtomicBool,
    counts: &Counts,
    vni: u32,
) {
    let mut buf = vec![0u8; BUFFER];
    let mut windows: HashMap<Ipv4Addr, ReplayWindow> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(_) => continue,
        };
        let SocketAddr::V4(from) = from else {
            continue;
        };
        let sender = *from.ip();
        let state = read(state);
        let result = admit(&state, &mut windows, sender, vni, &mut buf[..n]);
        match result {
            Ok(frame) => {
                if (&*tap).write(frame).is_err() {
                    counts.unsent.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(r) => {
                counts.refused[slot(r)].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The frame in `datagram` from `sender`, when it is from a known node, authentic and not a
/// replay (the sender's window then notes it).
fn admit<'a>(
    state: &State,
    windows: &mut HashMap<Ipv4Addr, ReplayWindow>,
    sender: Ipv4Addr,
    vni: u32,
    datagram: &'a mut [u8],
) -> Result<&'a [u8], Refusal> {
    if !state.peers.knows(sender) {
        return Err(Refusal::UnknownSender);
    }
    let header = Header::decode(datagram)?;
    let window = windows.entry(sender).or_default();
    if !window.fresh(header.counter) {
        return Err(Refusal::Replay);
    }
    let (header, frame) = open(vni, datagram, |id| state.keys.receive.get(&(sender, id)))?;
    window.accept(header.counter);
    Ok(frame)
}
