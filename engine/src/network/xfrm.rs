//! Encrypted overlays, pure part: the IPsec ESP security associations (SAs) and policies that
//! carry one overlay's VXLAN traffic between this node and each remote node, derived from the
//! overlay's keys, and the difference between what is programmed and what should be.
//!
//! Transport-mode ESP with AES-GCM (`rfc4106(gcm(aes))`, 128-bit key, 32-bit salt, 128-bit
//! ICV) between the nodes' underlay addresses. Per remote node and overlay:
//!
//! - one **policy** (`dir out`) matching only that overlay's VXLAN packets to the node: UDP to
//!   the overlay's port, from the block of 16 source ports the overlay's VXLAN device is
//!   confined to ([`source_ports`], derived from the VNI), so other overlays' (and unencrypted
//!   overlays') packets are left alone; its template asks for ESP with the overlay's `reqid`
//!   (the VNI). Without an SA the kernel drops the packets: the path fails closed;
//! - per key the overlay has, one **inbound SA** (remote → this node), so that a key is
//!   accepted as soon as it is known;
//! - for the **primary** key only, one **outbound SA** (this node → remote): a key is used for
//!   sending only once the managers made it primary, after every node had it installed.
//!
//! Each SA's key and SPI are derived from the overlay key, the VNI and the two addresses in
//! their direction ([`sa_key`], [`spi`]): both ends compute the same values without talking,
//! the two directions never share an SPI or a key (so AES-GCM nonces never repeat across
//! them), and a node pair's SAs reveal nothing of another pair's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Bytes of an overlay key (the secret the managers generate).
pub const KEY_LEN: usize = 32;
/// Bytes of an SA's AEAD key: 16 of AES-128 and 4 of salt (RFC 4106).
pub(crate) const SA_KEY_LEN: usize = 20;
/// The kernel's name of the AEAD.
pub(crate) const AEAD: &str = "rfc4106(gcm(aes))";
/// Bits of the AEAD's integrity check value.
pub(crate) const ICV_BITS: u32 = 128;
/// Bytes ESP adds to a VXLAN packet in transport mode: the ESP header (8), the IV (8), the
/// trailer at most (pad to 4 bytes: 3, pad length and next header: 2) and the ICV (16).
pub(crate) const ESP_OVERHEAD: u32 = 8 + 8 + 5 + 16;
/// The first source port of the blocks encrypted overlays' VXLAN devices send from.
const SOURCE_PORT_BASE: u16 = 0xC000;
/// Ports per block (a power of two, so a block is one selector with a mask).
const SOURCE_PORT_BLOCK: u16 = 16;
/// Blocks between [`SOURCE_PORT_BASE`] and 65535.
const SOURCE_PORT_BLOCKS: u32 = (0x1_0000 - SOURCE_PORT_BASE as u32) / SOURCE_PORT_BLOCK as u32;

/// One key of an encrypted overlay, as the managers hand it to the node. Its `Debug` shows
/// the id alone: the secret is never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct OverlayKey {
    /// The key's number, unique in its network and growing with each rotation.
    pub id: u32,
    /// The secret.
    pub secret: [u8; KEY_LEN],
    /// Whether this node sends with it (one key is primary; others are only accepted).
    pub primary: bool,
}

impl fmt::Debug for OverlayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverlayKey")
            .field("id", &self.id)
            .field("primary", &self.primary)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What the record keeps of a key: its id and role, never its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyTag {
    /// The key's number.
    pub id: u32,
    /// Whether it is the key sent with.
    pub primary: bool,
}

/// The direction of an SA as seen from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Remote node → this node.
    In,
    /// This node → remote node.
    Out,
}

/// An SA as the kernel identifies it (destination, SPI; ESP), with its source and the key
/// it derives from: what the record keeps so the SA can be deleted without its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SaId {
    /// The remote node.
    pub node: Ipv4Addr,
    /// Which way.
    pub direction: Direction,
    /// The overlay key's id.
    pub key: u32,
    /// The SPI.
    pub spi: u32,
}

impl SaId {
    /// The SA's source and destination addresses, with `local` this node's.
    pub(crate) fn endpoints(&self, local: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr) {
        match self.direction {
            Direction::In => (self.node, local),
            Direction::Out => (local, self.node),
        }
    }
}

/// An SA to program: its identity and its derived AEAD key (`Debug` leaves the key out).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SaSpec {
    pub id: SaId,
    pub key: [u8; SA_KEY_LEN],
}

impl fmt::Debug for SaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaSpec")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The ESP state of an encrypted overlay recorded on the node: the keys' ids and roles, and
/// the SAs and policies programmed (identities only: no secret is written to disk).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// The keys last set, sorted by id; empty until the managers sent some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyTag>,
    /// The SAs programmed, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sas: Vec<SaId>,
    /// The remote nodes with a policy programmed, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Ipv4Addr>,
    /// What carries the overlay's traffic on this node: kernel ESP, or the user-space sealed
    /// transport where the kernel has no ESP (see [`crate::network::sealed`]).
    #[serde(default, skip_serializing_if = "Transport::is_esp")]
    pub transport: Transport,
}

/// What encrypts an overlay's traffic on a node, chosen when the node makes the overlay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Kernel IPsec ESP through xfrm, around the VXLAN device's packets.
    #[default]
    Esp,
    /// A TAP device and the engine's own sealed UDP datagrams (AES-256-GCM in user space).
    Sealed,
}

impl Transport {
    /// Whether this is [`Transport::Esp`] (the default, left out of records).
    pub fn is_esp(&self) -> bool {
        *self == Self::Esp
    }
}

/// The overlay's identity on the wire: what selectors, SPIs and keys derive from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    /// This node's underlay address.
    pub local: Ipv4Addr,
    /// The VNI (also the SAs' and policies' `reqid`).
    pub vni: u32,
    /// The VXLAN UDP port.
    pub port: u16,
}

/// The block of source ports `[low, high)` the VXLAN device of an encrypted overlay with
/// identifier `vni` sends from: 16 ports from 49152 on, chosen by the VNI, so that a policy
/// can match that overlay's packets alone. (Two encrypted overlays whose VNIs are 1024 apart
/// share a block, which only means their packets share the policies' match: both are
/// encrypted.)
pub(crate) fn source_ports(vni: u32) -> (u16, u16) {
    let block = u16::try_from(vni % SOURCE_PORT_BLOCKS).expect("fewer than 2^16 blocks");
    let low = SOURCE_PORT_BASE + block * SOURCE_PORT_BLOCK;
    // The last block ends at 65535 (the range's end is exclusive).
    (low, low.saturating_add(SOURCE_PORT_BLOCK))
}

/// The mask of [`source_ports`]' block in a selector.
pub(crate) const SOURCE_PORT_MASK: u16 = !(SOURCE_PORT_BLOCK - 1);

fn digest(
    label: &str,
    secret: Option<&[u8; KEY_LEN]>,
    vni: u32,
    key: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    if let Some(s) = secret {
        h.update(s);
    }
    h.update(vni.to_be_bytes());
    h.update(key.to_be_bytes());
    h.update(src.octets());
    h.update(dst.octets());
    h.finalize().into()
}

/// The SPI of the SA from `src` to `dst` for key `key` of overlay `vni`: from public values
/// only (it is sent in clear), never below 256 (reserved by RFC 4303).
pub(crate) fn spi(vni: u32, key: u32, src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
    let d = digest("bosun esp spi", None, vni, key, src, dst);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]]) | 0x100
}

/// The AEAD key of the SA from `src` to `dst` for overlay key `secret` (id `key`) of
/// overlay `vni`.
pub(crate) fn sa_key(
    secret: &[u8; KEY_LEN],
    vni: u32,
    key: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> [u8; SA_KEY_LEN] {
    let d = digest("bosun esp key", Some(secret), vni, key, src, dst);
    let mut out = [0; SA_KEY_LEN];
    out.copy_from_slice(&d[..SA_KEY_LEN]);
    out
}

/// The SAs overlay `flow` needs with the remote `nodes` for the keys `tags`: an inbound SA
/// per node and key, an outbound SA per node for the primary key.
pub(crate) fn wanted_sas(
    flow: Flow,
    nodes: &BTreeSet<Ipv4Addr>,
    tags: &[KeyTag],
) -> BTreeSet<SaId> {
    let mut out = BTreeSet::new();
    for &node in nodes {
        for tag in tags {
            out.insert(SaId {
                node,
                direction: Direction::In,
                key: tag.id,
                spi: spi(flow.vni, tag.id, node, flow.local),
            });
            if tag.primary {
                out.insert(SaId {
                    node,
                    direction: Direction::Out,
                    key: tag.id,
                    spi: spi(flow.vni, tag.id, flow.local, node),
                });
            }
        }
    }
    out
}

/// The SA `id` with its key derived from `keys`, or `None` when its key is not among them.
pub(crate) fn sa_spec(flow: Flow, id: SaId, keys: &[OverlayKey]) -> Option<SaSpec> {
    let k = keys.iter().find(|k| k.id == id.key)?;
    let (src, dst) = id.endpoints(flow.local);
    Some(SaSpec {
        id,
        key: sa_key(&k.secret, flow.vni, k.id, src, dst),
    })
}

/// Checks the keys the managers sent: at least one, each id once, exactly one primary.
pub(crate) fn check_keys(keys: &[OverlayKey]) -> Result<Vec<KeyTag>, String> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut tags = BTreeMap::new();
    for k in keys {
        if tags.insert(k.id, k.primary).is_some() {
            return Err(format!("key {} is given twice", k.id));
        }
    }
    match keys.iter().filter(|k| k.primary).count() {
        1 => {}
        n => return Err(format!("{n} primary keys: exactly one key is sent with")),
    }
    Ok(tags
        .into_iter()
        .map(|(id, primary)| KeyTag { id, primary })
        .collect())
}

/// What takes the kernel from the programmed state to the wanted one, in the order it is
/// applied: SAs added (inbound, then outbound, so a new primary is accepted everywhere it is
/// already accepted), policies added (a node's policy comes once its SAs are there), policies
/// deleted, SAs deleted (outbound first: a replaced outbound SA goes after its successor
/// came, so sending never stops).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EspChanges {
    pub add_sas: Vec<SaId>,
    pub add_policies: Vec<Ipv4Addr>,
    pub delete_policies: Vec<Ipv4Addr>,
    pub delete_sas: Vec<SaId>,
}

impl EspChanges {
    /// Whether nothing changes.
    pub(crate) fn is_empty(&self) -> bool {
        self.add_sas.is_empty()
            && self.add_policies.is_empty()
            && self.delete_policies.is_empty()
            && self.delete_sas.is_empty()
    }
}

fn ordered(mut sas: Vec<SaId>, first: Direction) -> Vec<SaId> {
    sas.sort_by_key(|s| (s.direction != first, *s));
    sas
}

/// The changes from `old` (programmed) to the SAs `sas` and policies `policies`.
pub(crate) fn diff(
    old: &Encryption,
    sas: &BTreeSet<SaId>,
    policies: &BTreeSet<Ipv4Addr>,
) -> EspChanges {
    let old_sas: BTreeSet<SaId> = old.sas.iter().copied().collect();
    let old_policies: BTreeSet<Ipv4Addr> = old.policies.iter().copied().collect();
    EspChanges {
        add_sas: ordered(sas.difference(&old_sas).copied().collect(), Direction::In),
        add_policies: policies.difference(&old_policies).copied().collect(),
        delete_policies: old_policies.difference(policies).copied().collect(),
        delete_sas: ordered(old_sas.difference(sas).copied().collect(), Direction::Out),
    }
}

mod netlink;
pub(crate) use netlink::Xfrm;

#[cfg(test)]
mod tests;
