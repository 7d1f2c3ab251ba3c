#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use super::peers::Destinations;
use super::*;
use crate::network::overlay::Peer;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const SECRET: [u8; 32] = [7; 32];
const VNI: u32 = 4242;

fn frame(dst: [u8; 6]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x00]);
    f.extend_from_slice(b"PAYLOAD MARKER");
    f
}

fn sealed(key: &SealKey, counter: u64, f: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    seal(
        key,
        Header {
            vni: VNI,
            key: key.id(),
            counter,
        },
        f,
        &mut out,
    );
    out
}

#[test]
fn a_header_round_trips_and_carries_the_version() {
    let h = Header {
        vni: 0x00ab_cdef,
        key: 7,
        counter: u64::MAX - 3,
    };
    let mut bytes = h.encode().to_vec();
    assert_eq!(bytes[0], 1);
    bytes.extend_from_slice(&[0; TAG_LEN]);
    assert_eq!(Header::decode(&bytes), Ok(h));
    assert_eq!(Header::decode(&bytes[..20]), Err(Refusal::Short));
    bytes[0] = 2;
    assert_eq!(Header::decode(&bytes), Err(Refusal::Version));
}

#[test]
fn a_sealed_frame_opens_with_the_senders_key_and_hides_its_payload() {
    let key = SealKey::new(&SECRET, VNI, 1, A);
    let f = frame([2, 0, 0, 0, 0, 1]);
    let mut d = sealed(&key, 5, &f);
    assert_eq!(d.len(), f.len() + HEADER_LEN + TAG_LEN);
    assert!(!d.windows(7).any(|w| w == b"PAYLOAD"), "payload in clear");
    let receiver = SealKey::new(&SECRET, VNI, 1, A);
    let (h, opened) = open(VNI, &mut d, |id| (id == 1).then_some(&receiver)).unwrap();
    assert_eq!(h.counter, 5);
    assert_eq!(opened, &f[..]);
}

#[test]
fn tampering_another_sender_another_vni_or_an_unknown_key_is_refused() {
    let key = SealKey::new(&SECRET, VNI, 1, A);
    let d = sealed(&key, 1, &frame([2, 0, 0, 0, 0, 1]));
    let right = SealKey::new(&SECRET, VNI, 1, A);
    // One bit of the payload, of the tag, of the header's counter.
    for at in [HEADER_LEN + 3, d.len() - 1, 12] {
        let mut t = d.clone();
        t[at] ^= 1;
        assert_eq!(
            open(VNI, &mut t, |_| Some(&right)).map(|_| ()),
            Err(Refusal::Forged)
        );
    }
    // The key of another sender (B claiming A's datagram), or of another overlay.
    let of_b = SealKey::new(&SECRET, VNI, 1, B);
    let other_vni = SealKey::new(&SECRET, VNI + 1, 1, A);
    for k in [&of_b, &other_vni] {
        let mut t = d.clone();
        assert_eq!(
            open(VNI, &mut t, |_| Some(k)).map(|_| ()),
            Err(Refusal::Forged)
        );
    }
    let mut t = d.clone();
    assert_eq!(
        open(VNI + 1, &mut t, |_| Some(&right)).map(|_| ()),
        Err(Refusal::Vni)
    );
    let mut t = d.clone();
    assert_eq!(
        open(VNI, &mut t, |_| None).map(|_| ()),
        Err(Refusal::UnknownKey)
    );
}

#[test]
fn during_a_rotation_either_key_opens_and_the_header_names_which() {
    let old = SealKey::new(&SECRET, VNI, 1, A);
    let new = SealKey::new(&[9; 32], VNI, 2, A);
    let ring = [
        SealKey::new(&SECRET, VNI, 1, A),
        SealKey::new(&[9; 32], VNI, 2, A),
    ];
    for (k, id) in [(&old, 1), (&new, 2)] {
        let mut d = sealed(k, 10, &frame([0xff; 6]));
        let (h, _) = open(VNI, &mut d, |id| ring.iter().find(|k| k.id() == id)).unwrap();
        assert_eq!(h.key, id);
    }
}

#[test]
fn sender_keys_differ_by_sender_key_id_vni_and_secret() {
    let base = sender_key(&SECRET, VNI, 1, A);
    assert_ne!(base, sender_key(&SECRET, VNI, 1, B));
    assert_ne!(base, sender_key(&SECRET, VNI, 2, A));
    assert_ne!(base, sender_key(&SECRET, VNI + 1, 1, A));
    assert_ne!(base, sender_key(&[8; 32], VNI, 1, A));
    assert_eq!(base, sender_key(&SECRET, VNI, 1, A));
}

#[test]
fn a_seal_key_never_shows_its_bytes() {
    let key = SealKey::new(&SECRET, VNI, 3, A);
    let shown = format!("{key:?}");
    assert!(shown.contains("id: 3"), "{shown}");
    assert!(!shown.contains("key:"), "{shown}");
}

#[test]
fn the_replay_window_takes_new_and_late_counters_once() {
    let mut w = ReplayWindow::default();
    for (counter, fresh) in [
        (1100, true),
        (1100, false),
        (1101, true),
        (1099, true),
        (1099, false),
        (1101 - 127, true),
        (1101 - 128, false),
        (1500, true),
        (1101, false), // now 399 behind: too old to tell
        (1499, true),
        (1500, false),
    ] {
        assert_eq!(w.fresh(counter), fresh, "counter {counter}");
        if fresh {
            w.accept(counter);
        }
    }
}

#[test]
fn the_replay_window_slides_by_less_than_its_width_keeping_what_it_saw() {
    let mut w = ReplayWindow::default();
    w.accept(10);
    w.accept(8);
    w.accept(20);
    assert!(!w.fresh(10) && !w.fresh(8) && !w.fresh(20));
    assert!(w.fresh(9) && w.fresh(11) && w.fresh(19) && w.fresh(21));
}

fn peer(ip: u8, mac: &str, node: Ipv4Addr) -> Peer {
    Peer {
        ip: Ipv4Addr::new(10, 9, 0, ip),
        mac: mac.into(),
        node,
        names: Vec::new(),
    }
}

#[test]
fn the_peer_table_sends_known_unicast_to_its_node_and_the_rest_to_every_node() {
    let t = PeerTable::new(&[
        peer(2, "02:00:00:00:00:02", B),
        peer(3, "02:00:00:00:00:03", C),
        peer(4, "02:00:00:00:00:04", B),
    ]);
    assert_eq!(t.nodes(), &[B, C]);
    assert!(t.knows(B) && t.knows(C) && !t.knows(A));
    assert_eq!(
        t.destinations(&frame([2, 0, 0, 0, 0, 3])),
        Destinations::One(C)
    );
    assert_eq!(
        t.destinations(&frame([2, 0, 0, 0, 0, 4])),
        Destinations::One(B)
    );
    for dst in [[0xff; 6], [0x01, 0, 0x5e, 0, 0, 1], [2, 0, 0, 0, 0, 9]] {
        assert_eq!(t.destinations(&frame(dst)), Destinations::All(&[B, C]));
    }
    assert_eq!(t.destinations(&[0xff; 10]), Destinations::None);
    assert_eq!(
        PeerTable::new(&[]).destinations(&frame([0xff; 6])),
        Destinations::None
    );
}

#[test]
fn ports_stay_below_the_ephemeral_range_and_taps_fit_ifnamsiz() {
    for vni in [0, 1, 4095, 4096, 4242, (1 << 24) - 1] {
        let p = sealed_port(vni);
        assert!((28672..32768).contains(&p), "vni {vni}: {p}");
    }
    assert_ne!(sealed_port(4096), sealed_port(4097));
    assert_eq!(tap_name("bsn-0123abcd"), "bsn-0123abcd-tp");
    assert!(tap_name("bsn-0123abcd").len() <= 15);
}
