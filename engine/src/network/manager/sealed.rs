//! The sealed side of encrypted overlays on a node whose kernel has no ESP: one running
//! [`Tunnel`] per such overlay (its TAP device in the overlay's bridge, its threads), started
//! at create and at agent start, fed the peers and keys the managers send, and removed with
//! the network.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Networks, invalid};
use crate::network::link::Links;
use crate::network::overlay::{OverlayConfig, Peer};
use crate::network::record::NetworkRecord;
use crate::network::sealed::{self, Tunnel, TunnelSpec};
use crate::network::xfrm::{OverlayKey, Transport};
use crate::network::{NetworkError, Result};

/// The running tunnels by network id (shared by every clone of [`Networks`]; a std mutex: held
/// while a tunnel is started, updated or stopped, which blocks on no async work).
pub(super) type Tunnels = Arc<Mutex<BTreeMap<String, Tunnel>>>;

/// Whether `rec` is an overlay encrypted by the sealed transport on this node.
pub(super) fn is_sealed(rec: &NetworkRecord) -> bool {
    rec.overlay
        .as_ref()
        .and_then(|c| c.encryption.as_ref())
        .is_some_and(|e| e.transport == Transport::Sealed)
}

/// The tunnel of `rec`, from its record.
fn spec_of(rec: &NetworkRecord) -> Option<TunnelSpec> {
    let config = rec.overlay.as_ref()?;
    Some(TunnelSpec {
        network: rec.name.clone(),
        tap: sealed::tap_name(&rec.bridge),
        vni: config.vni,
        local: config.underlay,
        port: sealed::sealed_port(config.vni),
        // The nonces' start: see the module docs of `sealed`.
        counter_start: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or_default(),
    })
}

/// Whether this node's kernel takes ESP with AES-GCM: the transport of a new encrypted overlay.
pub(super) fn choose_transport(network: &str) -> Transport {
    match crate::network::xfrm::Xfrm::open().and_then(|mut x| x.probe()) {
        Ok(()) => Transport::Esp,
        Err(e) => {
            tracing::info!(
                network,
                cause = %e,
                "no IPsec ESP with AES-GCM in this kernel: the encrypted overlay is sealed in user space"
            );
            Transport::Sealed
        }
    }
}

/// The network among `existing` whose sealed port is the one `config` (a new overlay) would
/// use, when both are sealed on this node.
pub(super) fn port_taken(existing: &[NetworkRecord], config: &OverlayConfig) -> Option<String> {
    let sealed_here = |c: &OverlayConfig| {
        c.encryption
            .as_ref()
            .is_some_and(|e| e.transport == Transport::Sealed)
    };
    if !sealed_here(config) {
        return None;
    }
    let port = sealed::sealed_port(config.vni);
    existing
        .iter()
        .find(|r| {
            r.overlay
                .as_ref()
                .is_some_and(|c| sealed_here(c) && sealed::sealed_port(c.vni) == port)
        })
        .map(|r| r.name.clone())
}

impl Networks {
    fn tunnels(&self) -> Result<MutexGuard<'_, BTreeMap<String, Tunnel>>> {
        self.tunnels
            .lock()
            .map_err(|_| invalid("*", "the sealed overlays' table is poisoned"))
    }

    /// Starts the tunnel of `rec` (a sealed overlay whose bridge exists; anything else is left
    /// alone) unless it runs: its TAP device made or reopened, in the bridge, with the
    /// overlay's MTU, up; its threads with the recorded peers and the keys held.
    pub(super) fn start_sealed(&self, rec: &NetworkRecord) -> Result<()> {
        if !is_sealed(rec) {
            return Ok(());
        }
        let mut tunnels = self.tunnels()?;
        if tunnels.contains_key(&rec.id) {
            return Ok(());
        }
        let (Some(spec), Some(config)) = (spec_of(rec), rec.overlay.as_ref()) else {
            return Ok(());
        };
        let tunnel = Tunnel::start(spec, &config.peers, &self.keys_of(&rec.id))?;
        let plug = (|| {
            let mut links = Links::open()?;
            let bridge = links
                .find(&rec.bridge)?
                .ok_or_else(|| no_link(&rec.bridge))?;
            let tap = links
                .find(tunnel.tap())?
                .ok_or_else(|| no_link(tunnel.tap()))?;
            links.set_mtu(tap.index, rec.mtu)?;
            links.set_master(tap.index, bridge.index)?;
            links.up(tap.index)
        })();
        if let Err(e) = plug {
            if let Err(undo) = tunnel.remove() {
                tracing::warn!(network = %rec.name, cause = %undo, "cannot remove a tap device");
            }
            return Err(e);
        }
        tunnels.insert(rec.id.clone(), tunnel);
        Ok(())
    }

    /// Gives the running tunnel of `rec` its peers `peers`.
    pub(super) fn sealed_peers(&self, rec: &NetworkRecord, peers: &[Peer]) -> Result<()> {
        if let Some(t) = self.tunnels()?.get(&rec.id) {
            t.set_peers(peers);
        }
        Ok(())
    }

    /// Gives the running tunnel of `rec` its keys `keys`.
    pub(super) fn sealed_keys(&self, rec: &NetworkRecord, keys: &[OverlayKey]) -> Result<()> {
        if let Some(t) = self.tunnels()?.get(&rec.id) {
            t.set_keys(keys);
        }
        Ok(())
    }

    /// Stops the tunnel of `rec`, removes its TAP device and forgets its keys.
    pub(super) fn stop_sealed(&self, rec: &NetworkRecord) -> Result<()> {
        if !is_sealed(rec) {
            return Ok(());
        }
        if let Ok(mut k) = self.keys.lock() {
            k.remove(&rec.id);
        }
        let tunnel = self.tunnels()?.remove(&rec.id);
        match tunnel {
            Some(t) => t.remove(),
            None => Ok(()),
        }
    }
}

fn no_link(name: &str) -> NetworkError {
    NetworkError::Netlink {
        op: format!("find link {name}"),
        source: std::io::Error::from_raw_os_error(libc::ENODEV),
    }
}
