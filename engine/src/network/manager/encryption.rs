//! The IPsec side of encrypted overlays on this node: the keys the managers sent (held in
//! memory only, never written: the record keeps their ids), and the ESP SAs and policies
//! programmed from them and the overlay's remote nodes, by difference, undone on failure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use super::{Networks, invalid};
use crate::network::record::NetworkRecord;
use crate::network::xfrm::{self, Encryption, Flow, OverlayKey, SaId, Transport, Xfrm};
use crate::network::{NetworkError, Result};

/// The keys of the encrypted overlays by network id, in memory only (shared by every clone
/// of [`Networks`]; a std mutex: held for a lookup or an insert, never across I/O).
pub(super) type KeyRing = Arc<Mutex<BTreeMap<String, Vec<OverlayKey>>>>;

fn flow_of(rec: &NetworkRecord) -> Option<(Flow, BTreeSet<Ipv4Addr>)> {
    let config = rec.overlay.as_ref()?;
    if config.encryption.as_ref()?.transport == Transport::Sealed {
        return None;
    }
    Some((
        Flow {
            local: config.underlay,
            vni: config.vni,
            port: config.port,
        },
        config.peers.iter().map(|p| p.node).collect(),
    ))
}

/// Brings the SAs and policies of the encrypted overlay `enc` (`flow`) to what the remote
/// `nodes` and its keys need, and records what is programmed in `enc`. An SA whose key is not
/// in `keys` (the agent restarted and the managers have not sent them again) is left out
/// until they come; its node's policy is still programmed, so that node's traffic is dropped
/// rather than sent in clear. On failure, the SAs and policies this call added are removed
/// again and `enc` is left as it was.
fn converge(
    flow: Flow,
    enc: &mut Encryption,
    nodes: &BTreeSet<Ipv4Addr>,
    keys: &[OverlayKey],
) -> Result<()> {
    let wanted = xfrm::wanted_sas(flow, nodes, &enc.keys);
    let changes = xfrm::diff(enc, &wanted, nodes);
    if changes.is_empty() {
        return Ok(());
    }
    let mut x = Xfrm::open()?;
    let mut added_sas: Vec<SaId> = Vec::new();
    let mut added_policies: Vec<Ipv4Addr> = Vec::new();
    let result = (|| {
        for id in &changes.add_sas {
            if let Some(spec) = xfrm::sa_spec(flow, *id, keys) {
                x.add_sa(flow, &spec)?;
                added_sas.push(*id);
            }
        }
        for node in &changes.add_policies {
            x.add_policy(flow, *node)?;
            added_policies.push(*node);
        }
        for node in &changes.delete_policies {
            x.delete_policy(flow, *node)?;
        }
        for id in &changes.delete_sas {
            x.delete_sa(flow, id)?;
        }
        Ok::<(), NetworkError>(())
    })();
    if let Err(e) = result {
        for node in &added_policies {
            if let Err(undo) = x.delete_policy(flow, *node) {
                tracing::warn!(vni = flow.vni, %node, cause = %undo, "cannot undo an esp policy");
            }
        }
        for id in &added_sas {
            if let Err(undo) = x.delete_sa(flow, id) {
                tracing::warn!(vni = flow.vni, spi = id.spi, cause = %undo, "cannot undo an esp sa");
            }
        }
        return Err(e);
    }
    let deleted: BTreeSet<SaId> = changes.delete_sas.iter().copied().collect();
    let mut sas: BTreeSet<SaId> = enc
        .sas
        .iter()
        .copied()
        .filter(|s| !deleted.contains(s))
        .collect();
    sas.extend(added_sas);
    enc.sas = sas.into_iter().collect();
    enc.policies = nodes.iter().copied().collect();
    Ok(())
}

impl Networks {
    pub(super) fn keys_of(&self, id: &str) -> Vec<OverlayKey> {
        self.keys
            .lock()
            .map(|k| k.get(id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Programs the ESP side of `rec` (an encrypted overlay; anything else is left alone) for
    /// its recorded peers, updating its record (not saved).
    pub(super) fn sync_esp(&self, rec: &mut NetworkRecord) -> Result<()> {
        let Some((flow, nodes)) = flow_of(rec) else {
            return Ok(());
        };
        let keys = self.keys_of(&rec.id);
        let enc = rec
            .overlay
            .as_mut()
            .and_then(|c| c.encryption.as_mut())
            .expect("flow_of found the encryption");
        converge(flow, enc, &nodes, &keys)
    }

    /// Removes every SA and policy of `rec` (before its VXLAN device goes) and forgets its
    /// keys (a sealed overlay's are forgotten by `stop_sealed`).
    pub(super) fn clear_esp(&self, rec: &mut NetworkRecord) -> Result<()> {
        let Some((flow, _)) = flow_of(rec) else {
            return Ok(());
        };
        let enc = rec
            .overlay
            .as_mut()
            .and_then(|c| c.encryption.as_mut())
            .expect("flow_of found the encryption");
        enc.keys.clear();
        converge(flow, enc, &BTreeSet::new(), &[])?;
        if let Ok(mut k) = self.keys.lock() {
            k.remove(&rec.id);
        }
        Ok(())
    }

    /// Programs again the recorded policies of `rec` (at agent start: idempotent), so that a
    /// remote node's traffic is never sent in clear while its SAs wait for the keys.
    pub(super) fn restore_esp_policies(rec: &NetworkRecord) -> Result<()> {
        let Some((flow, _)) = flow_of(rec) else {
            return Ok(());
        };
        let enc = rec
            .overlay
            .as_ref()
            .and_then(|c| c.encryption.as_ref())
            .expect("flow_of found the encryption");
        if enc.policies.is_empty() {
            return Ok(());
        }
        let mut x = Xfrm::open()?;
        for node in &enc.policies {
            x.add_policy(flow, *node)?;
        }
        Ok(())
    }

    /// Sets the keys of encrypted overlay `network` to exactly `keys` (from the managers: one
    /// primary, sent with; the others only accepted) and programs, for each remote node of
    /// its peers, an inbound ESP SA per key, an outbound SA for the primary key and the
    /// policy that sends the overlay's VXLAN packets through them. Only the difference from
    /// what is programmed reaches the kernel; on failure it is undone and the record is left
    /// as it was. The keys are kept in memory; the record gets their ids only. Returns the
    /// updated record.
    pub fn set_keys(&self, network: &str, keys: &[OverlayKey]) -> Result<NetworkRecord> {
        let _lock = self.store.lock()?;
        let mut rec = self.store.find(network)?;
        let before = rec.clone();
        let tags = xfrm::check_keys(keys).map_err(|m| invalid(&rec.name, m))?;
        let Some(enc) = rec.overlay.as_mut().and_then(|c| c.encryption.as_mut()) else {
            return Err(invalid(
                &rec.name,
                "only encrypted overlays (-o encrypted) have keys",
            ));
        };
        enc.keys = tags;
        let previous = {
            let mut ring = self
                .keys
                .lock()
                .map_err(|_| invalid(&rec.name, "the key ring is poisoned"))?;
            ring.insert(rec.id.clone(), keys.to_vec())
        };
        // The same keys again (the node daemon sends them at every sync) change nothing.
        let result = self
            .sync_esp(&mut rec)
            .and_then(|()| self.sealed_keys(&rec, keys))
            .and_then(|()| {
                if rec == before {
                    Ok(())
                } else {
                    self.store.save(&rec)
                }
            });
        if let Err(e) = result {
            if let Ok(mut ring) = self.keys.lock() {
                match previous {
                    Some(p) => ring.insert(rec.id.clone(), p),
                    None => ring.remove(&rec.id),
                };
            }
            return Err(e);
        }
        Ok(rec)
    }

    /// Whether this agent holds the keys of network `id` in memory (after a restart it does
    /// not until the managers send them again).
    pub fn has_keys(&self, id: &str) -> bool {
        self.keys.lock().is_ok_and(|k| k.contains_key(id))
    }
}
