use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use netlink_packet_core::Emitable as _;
use netlink_packet_xfrm::XfrmMessage;

use super::netlink::{add_sa_message, delete_policy_message, policy_message, selector};
use super::*;

const A: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 2);
const C: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 3);

fn flow(local: Ipv4Addr) -> Flow {
    Flow {
        local,
        vni: 4097,
        port: 4789,
    }
}

fn key(id: u32, primary: bool) -> OverlayKey {
    OverlayKey {
        id,
        secret: [id as u8; KEY_LEN],
        primary,
    }
}

fn tags(keys: &[OverlayKey]) -> Vec<KeyTag> {
    check_keys(keys).expect("valid keys")
}

fn nodes(n: &[Ipv4Addr]) -> BTreeSet<Ipv4Addr> {
    n.iter().copied().collect()
}

#[test]
fn both_ends_derive_the_same_spi_and_key_and_the_directions_differ() {
    let keys = [key(1, true)];
    let on_a = wanted_sas(flow(A), &nodes(&[B]), &tags(&keys));
    let on_b = wanted_sas(flow(B), &nodes(&[A]), &tags(&keys));
    let find = |set: &BTreeSet<SaId>, d| *set.iter().find(|s| s.direction == d).expect("sa");
    let (a_out, a_in) = (find(&on_a, Direction::Out), find(&on_a, Direction::In));
    let (b_out, b_in) = (find(&on_b, Direction::Out), find(&on_b, Direction::In));
    assert_eq!(a_out.spi, b_in.spi, "A sends with the SPI B receives on");
    assert_eq!(b_out.spi, a_in.spi);
    assert_ne!(a_out.spi, a_in.spi, "one SPI per direction");
    let spec = |f, id| sa_spec(f, id, &keys).expect("key known");
    assert_eq!(spec(flow(A), a_out).key, spec(flow(B), b_in).key);
    assert_ne!(
        spec(flow(A), a_out).key,
        spec(flow(A), a_in).key,
        "one key per direction"
    );
    assert!(a_out.spi >= 0x100 && a_in.spi >= 0x100);
    // Another key or another overlay: other SPIs.
    assert_ne!(spi(4097, 2, A, B), a_out.spi);
    assert_ne!(spi(4098, 1, A, B), a_out.spi);
}

#[test]
fn only_the_primary_key_sends_and_every_key_receives() {
    let keys = [key(1, false), key(2, true)];
    let sas = wanted_sas(flow(A), &nodes(&[B, C]), &tags(&keys));
    let count = |d, k| {
        sas.iter()
            .filter(|s| s.direction == d && s.key == k)
            .count()
    };
    assert_eq!(count(Direction::In, 1), 2);
    assert_eq!(count(Direction::In, 2), 2);
    assert_eq!(count(Direction::Out, 1), 0);
    assert_eq!(count(Direction::Out, 2), 2);
}

#[test]
fn a_new_primary_is_added_before_the_old_outbound_sa_goes() {
    let old_keys = [key(1, true), key(2, false)];
    let new_keys = [key(1, false), key(2, true)];
    let old = Encryption {
        keys: tags(&old_keys),
        sas: wanted_sas(flow(A), &nodes(&[B]), &tags(&old_keys))
            .into_iter()
            .collect(),
        policies: vec![B],
        ..Encryption::default()
    };
    let changes = diff(
        &old,
        &wanted_sas(flow(A), &nodes(&[B]), &tags(&new_keys)),
        &nodes(&[B]),
    );
    assert_eq!(changes.add_sas.len(), 1);
    assert_eq!(
        (changes.add_sas[0].direction, changes.add_sas[0].key),
        (Direction::Out, 2)
    );
    assert_eq!(changes.delete_sas.len(), 1);
    assert_eq!(
        (changes.delete_sas[0].direction, changes.delete_sas[0].key),
        (Direction::Out, 1)
    );
    assert!(changes.add_policies.is_empty() && changes.delete_policies.is_empty());
}

#[test]
fn a_node_gone_loses_its_policy_and_every_sa_and_nothing_else_changes() {
    let keys = [key(7, true)];
    let t = tags(&keys);
    let old = Encryption {
        keys: t.clone(),
        sas: wanted_sas(flow(A), &nodes(&[B, C]), &t)
            .into_iter()
            .collect(),
        policies: vec![B, C],
        ..Encryption::default()
    };
    let changes = diff(&old, &wanted_sas(flow(A), &nodes(&[B]), &t), &nodes(&[B]));
    assert!(changes.add_sas.is_empty() && changes.add_policies.is_empty());
    assert_eq!(changes.delete_policies, vec![C]);
    assert_eq!(changes.delete_sas.len(), 2);
    assert!(changes.delete_sas.iter().all(|s| s.node == C));
    assert_eq!(
        changes.delete_sas[0].direction,
        Direction::Out,
        "outbound goes first"
    );
    let same = diff(
        &old,
        &wanted_sas(flow(A), &nodes(&[B, C]), &t),
        &nodes(&[B, C]),
    );
    assert!(same.is_empty());
}

#[test]
fn keys_are_checked_and_never_shown() {
    assert!(check_keys(&[key(1, true), key(1, false)]).is_err());
    assert!(check_keys(&[key(1, false), key(2, false)]).is_err());
    assert!(check_keys(&[key(1, true), key(2, true)]).is_err());
    assert_eq!(
        check_keys(&[key(3, false), key(2, true)]).expect("valid"),
        vec![
            KeyTag {
                id: 2,
                primary: true
            },
            KeyTag {
                id: 3,
                primary: false
            }
        ]
    );
    let secret = OverlayKey {
        id: 1,
        secret: [0xAB; KEY_LEN],
        primary: true,
    };
    let shown = format!("{secret:?}");
    assert!(
        !shown.contains("171") && !shown.to_lowercase().contains("abab"),
        "{shown}"
    );
    let sa = sa_spec(
        flow(A),
        *wanted_sas(flow(A), &nodes(&[B]), &tags(&[key(1, true)]))
            .first()
            .expect("sa"),
        &[key(1, true)],
    )
    .expect("spec");
    let shown = format!("{sa:?}");
    assert!(!shown.contains(&format!("{:?}", sa.key)), "{shown}");
}

#[test]
fn overlays_send_from_their_own_block_of_source_ports() {
    let (low, high) = source_ports(4096);
    assert_eq!(high - low, 16);
    assert!(low >= 0xC000);
    assert_eq!(low & !SOURCE_PORT_MASK, 0, "a block is one masked selector");
    assert_ne!(source_ports(4097).0, low);
    assert_eq!(source_ports(4096 + 1024).0, low);
    let (first, last) = source_ports(1023);
    assert_eq!(
        (first, last),
        (0xFFF0, 0xFFFF),
        "the last block stays within u16"
    );
}

#[test]
fn the_sa_request_carries_transport_mode_esp_with_the_gcm_key() {
    let keys = [key(1, true)];
    let id = *wanted_sas(flow(A), &nodes(&[B]), &tags(&keys))
        .iter()
        .find(|s| s.direction == Direction::Out)
        .expect("outbound sa");
    let sa = sa_spec(flow(A), id, &keys).expect("spec");
    let msg = add_sa_message(flow(A), &sa);
    let XfrmMessage::AddSa(m) = &msg else {
        panic!("not an SA request: {msg:?}")
    };
    let info = &m.user_sa_info;
    assert_eq!(info.id.daddr.to_ipv4(), B);
    assert_eq!(info.saddr.to_ipv4(), A);
    assert_eq!(info.id.spi, id.spi);
    assert_eq!(info.id.proto, libc::IPPROTO_ESP as u8);
    assert_eq!(info.mode, 0, "transport mode");
    assert_eq!(info.reqid, 4097);
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.emit(&mut buf);
    assert!(buf.windows(AEAD.len()).any(|w| w == AEAD.as_bytes()));
    assert!(
        buf.windows(sa.key.len()).any(|w| w == sa.key),
        "the key is sent"
    );
    // The SPI goes on the wire in network byte order.
    assert!(buf.windows(4).any(|w| w == id.spi.to_be_bytes()));
}

#[test]
fn the_policy_matches_the_overlays_vxlan_packets_to_one_node() {
    let sel = selector(flow(A), C);
    assert_eq!(sel.proto, libc::IPPROTO_UDP as u8);
    assert_eq!((sel.dport, sel.dport_mask), (4789, u16::MAX));
    assert_eq!(
        (sel.sport, sel.sport_mask),
        (source_ports(4097).0, SOURCE_PORT_MASK)
    );
    assert_eq!((sel.saddr.to_ipv4(), sel.prefixlen_s), (A, 32));
    assert_eq!((sel.daddr.to_ipv4(), sel.prefixlen_d), (C, 32));
    let XfrmMessage::UpdatePolicy(p) = policy_message(flow(A), C) else {
        panic!("not a policy")
    };
    assert_eq!(p.user_policy_info.direction, 1, "outbound");
    let XfrmMessage::DeletePolicy(d) = delete_policy_message(flow(A), C) else {
        panic!("not a policy deletion")
    };
    assert_eq!(
        d.user_policy_id.selector, sel,
        "deleted by the selector it was added with"
    );
}

/// Runs `ip xfrm <what>` (in the calling thread's namespace): its output.
fn ip_xfrm(what: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["xfrm", what])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The policy requests as the kernel takes them, in a network namespace of the test's own
/// (root): added (a second add replaces), listed with the overlay's selector and template,
/// deleted (a missing one is fine), nothing left.
#[test]
fn the_kernel_takes_and_deletes_the_overlays_policies() {
    let (listed, after) = std::thread::spawn(|| -> Result<(String, String), String> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())?;
        let mut x = Xfrm::open().map_err(|e| e.to_string())?;
        let err = |e: crate::network::NetworkError| e.to_string();
        x.add_policy(flow(A), B).map_err(err)?;
        x.add_policy(flow(A), C).map_err(err)?;
        x.add_policy(flow(A), B).map_err(err)?;
        let listed = ip_xfrm("policy");
        x.delete_policy(flow(A), B).map_err(err)?;
        x.delete_policy(flow(A), B).map_err(err)?;
        x.delete_policy(flow(A), C).map_err(err)?;
        Ok((listed, ip_xfrm("policy")))
    })
    .join()
    .expect("the namespace thread")
    .expect("xfrm requests");
    let sport = source_ports(4097).0;
    for node in [B, C] {
        let selector = format!("src {A}/32 dst {node}/32 proto udp sport {sport} dport 4789");
        assert_eq!(
            listed.matches(&selector).count(),
            1,
            "{selector} in\n{listed}"
        );
    }
    assert_eq!(
        listed.matches("dir out priority 100").count(),
        2,
        "{listed}"
    );
    assert_eq!(
        listed
            .matches("proto esp reqid 4097 mode transport")
            .count(),
        2,
        "{listed}"
    );
    assert!(after.trim().is_empty(), "left: {after}");
}
