//! Encrypted overlays in user space, for kernels without IPsec ESP (no `CONFIG_INET_ESP` or
//! no AES-GCM): the same idea as wireguard-go for kernels without WireGuard.
//!
//! Where [`crate::network::xfrm`]'s probe fails, an encrypted overlay on this node has, instead
//! of its VXLAN device, a persistent TAP device `bsn-<8 hex>-tp` enslaved to its bridge, and
//! two OS threads (never async workers: the data path blocks on its descriptors):
//!
//! - **out**: a frame read from the TAP is looked up by destination MAC in the [`PeerTable`]
//!   (made from the same remote endpoints the VXLAN forwarding entries come from): a known
//!   unicast MAC goes to its node, broadcast, multicast and unknown unicast to every node with
//!   a peer. Each copy is sealed and sent as one UDP datagram to that node's underlay address
//!   on the overlay's sealed port ([`sealed_port`]);
//! - **in**: a datagram is dropped unless it comes from a node with a peer, names this
//!   overlay's VNI and a key this node holds, authenticates, and is not a replay
//!   ([`ReplayWindow`]); what is left is written to the TAP.
//!
//! **Why these choices.** AES-256-GCM from `ring` (already in the build through rustls;
//! constant time, with AES-NI and CLMUL where the CPU has them). The managers' 32-byte overlay
//! keys are used as they are delivered and rotated for ESP: a datagram names the key it was
//! sealed with, a node seals with the primary key and opens with any key it holds, so a
//! rotation needs nothing more than the ESP one does. The AEAD key of a datagram is derived
//! from the overlay key, the VNI, the key's id and the **sender's** underlay address
//! ([`sender_key`]): nodes never share a sealing key, so a nonce made of the sender's own 64-bit
//! counter is never used twice with one key. The counter starts at the wall clock in
//! nanoseconds when the threads start (the caller passes it), so an agent restarted with the
//! same key neither reuses a nonce nor has its datagrams taken for replays by its peers. The
//! header (version, VNI, key id, counter) is authenticated as associated data.
//!
//! **Why a port of its own.** The kernel's VXLAN sockets of the node's plain overlays hold the
//! VXLAN port on every address, so the sealed datagrams go to [`sealed_port`], derived from the
//! VNI below the kernel's ephemeral range; two sealed overlays on one node whose ports collide
//! are refused at create.
//!
//! Wire format, one datagram per Ethernet frame (no fragmentation inside: the TAP's MTU leaves
//! room for [`OVERHEAD`]):
//!
//! ```text
//! 0      1             4               8                               16
//! | ver  | VNI (24 bits) | key id (u32) | counter (u64)                 | AES-256-GCM(frame) | tag (16) |
//! ```

use std::fmt;
use std::net::Ipv4Addr;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use sha2::{Digest as _, Sha256};

use super::xfrm::KEY_LEN;

mod peers;
mod replay;
mod tap;
mod tunnel;

pub(crate) use peers::PeerTable;
pub(crate) use replay::ReplayWindow;
pub(crate) use tunnel::{Tunnel, TunnelSpec};

/// Bytes of the header in front of the sealed frame.
pub(crate) const HEADER_LEN: usize = 16;
/// Bytes of the authentication tag after it.
pub(crate) const TAG_LEN: usize = 16;
/// The header's version byte.
const VERSION: u8 = 1;
/// Bytes a frame costs on the underlay besides its payload: outer IPv4 (20), UDP (8), header,
/// tag, and the inner Ethernet header (14). An overlay's MTU is its underlay's less this.
pub(crate) const OVERHEAD: u32 = 20 + 8 + HEADER_LEN as u32 + TAG_LEN as u32 + 14;
/// The first port of the sealed overlays' block.
const PORT_BASE: u16 = 28672;
/// Ports in the block (it ends where Linux's default ephemeral range begins, 32768).
const PORT_BLOCK: u32 = 4096;
/// Suffix of an overlay's TAP device after its bridge's name.
const TAP_SUFFIX: &str = "-tp";

/// The UDP port the sealed datagrams of overlay `vni` are sent to and received on.
pub(crate) fn sealed_port(vni: u32) -> u16 {
    PORT_BASE + u16::try_from(vni % PORT_BLOCK).expect("the block has fewer than 2^16 ports")
}

/// The TAP device of the network whose bridge is `bridge`.
pub(crate) fn tap_name(bridge: &str) -> String {
    format!("{bridge}{TAP_SUFFIX}")
}

/// The clear header of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The overlay's VNI (24 bits).
    pub vni: u32,
    /// The id of the overlay key the frame is sealed with.
    pub key: u32,
    /// The sender's counter: the nonce.
    pub counter: u64,
}

impl Header {
    /// The header's bytes.
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0; HEADER_LEN];
        out[..4].copy_from_slice(&(self.vni & 0x00ff_ffff).to_be_bytes());
        out[0] = VERSION;
        out[4..8].copy_from_slice(&self.key.to_be_bytes());
        out[8..].copy_from_slice(&self.counter.to_be_bytes());
        out
    }

    /// The header at the start of `datagram`, if it has one of this version.
    pub(crate) fn decode(datagram: &[u8]) -> Result<Self, Refusal> {
        if datagram.len() < HEADER_LEN + TAG_LEN {
            return Err(Refusal::Short);
        }
        if datagram[0] != VERSION {
            return Err(Refusal::Version);
        }
        let word = |at: usize| {
            u32::from_be_bytes([
                datagram[at],
                datagram[at + 1],
                datagram[at + 2],
                datagram[at + 3],
            ])
        };
        let mut counter = [0; 8];
        counter.copy_from_slice(&datagram[8..HEADER_LEN]);
        Ok(Self {
            vni: word(0) & 0x00ff_ffff,
            key: word(4),
            counter: u64::from_be_bytes(counter),
        })
    }

    fn nonce(&self) -> Nonce {
        let mut n = [0; 12];
        n[4..].copy_from_slice(&self.counter.to_be_bytes());
        Nonce::assume_unique_for_key(n)
    }
}

/// Why a datagram was dropped on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Too short to hold a header and a tag.
    #[error("too short")]
    Short,
    /// Not this version of the format.
    #[error("unknown version")]
    Version,
    /// Another overlay's VNI.
    #[error("another vni")]
    Vni,
    /// From an address that is no node of the overlay's peers.
    #[error("unknown sender")]
    UnknownSender,
    /// Sealed with a key this node does not hold.
    #[error("unknown key")]
    UnknownKey,
    /// The tag does not authenticate it.
    #[error("not authentic")]
    Forged,
    /// Its counter was already seen, or is too old to tell.
    #[error("replayed")]
    Replay,
}

/// An AEAD key of one sender and one overlay key. `Debug` shows the key's id alone.
pub(crate) struct SealKey {
    id: u32,
    key: LessSafeKey,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealKey {
    /// The key of overlay key `secret` (id `key`) of overlay `vni` for sender `sender`.
    pub(crate) fn new(secret: &[u8; KEY_LEN], vni: u32, key: u32, sender: Ipv4Addr) -> Self {
        let bytes = sender_key(secret, vni, key, sender);
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).expect("32 bytes is an AES-256 key");
        Self {
            id: key,
            key: LessSafeKey::new(unbound),
        }
    }

    /// The overlay key's id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

/// The AEAD key of `sender` for overlay key `secret` (id `key`) of overlay `vni`.
pub(crate) fn sender_key(secret: &[u8; KEY_LEN], vni: u32, key: u32, sender: Ipv4Addr) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"bosun sealed overlay key");
    h.update(secret);
    h.update(vni.to_be_bytes());
    h.update(key.to_be_bytes());
    h.update(sender.octets());
    h.finalize().into()
}

/// Seals `frame` with `key` under `header` (whose key id must be `key`'s) into `out` (cleared
/// first): header, ciphertext, tag.
pub(crate) fn seal(key: &SealKey, header: Header, frame: &[u8], out: &mut Vec<u8>) {
    debug_assert_eq!(header.key, key.id);
    let head = header.encode();
    out.clear();
    out.extend_from_slice(&head);
    out.extend_from_slice(frame);
    let tag: Tag = key
        .key
        .seal_in_place_separate_tag(header.nonce(), Aad::from(head), &mut out[HEADER_LEN..])
        .expect("a frame is far below AES-GCM's length limit");
    out.extend_from_slice(tag.as_ref());
}

/// Opens `datagram` in place: checks its header against `vni`, finds the key it names with
/// `key_of` (the sender's key of that id, if this node holds it), authenticates it, and
/// returns its header and the frame (a slice of `datagram`). Replays are the caller's to
/// check, once the datagram is authentic.
pub(crate) fn open<'a, 'k>(
    vni: u32,
    datagram: &'a mut [u8],
    key_of: impl FnOnce(u32) -> Option<&'k SealKey>,
) -> Result<(Header, &'a [u8]), Refusal> {
    let header = Header::decode(datagram)?;
    if header.vni != vni & 0x00ff_ffff {
        return Err(Refusal::Vni);
    }
    let key = key_of(header.key).ok_or(Refusal::UnknownKey)?;
    let (head, rest) = datagram.split_at_mut(HEADER_LEN);
    let frame = key
        .key
        .open_in_place(header.nonce(), Aad::from(&head[..]), rest)
        .map_err(|_| Refusal::Forged)?;
    Ok((header, frame))
}

#[cfg(test)]
mod tests;
