use std::collections::BTreeMap;

use super::*;
use crate::network::record::Endpoint;

fn peer(ip: [u8; 4], mac: &str, node: [u8; 4]) -> Peer {
    Peer {
        ip: Ipv4Addr::from(ip),
        mac: mac.into(),
        node: Ipv4Addr::from(node),
        names: Vec::new(),
    }
}

fn overlay_record() -> NetworkRecord {
    let ep = Endpoint {
        container_id: "c1".into(),
        container_name: "local".into(),
        aliases: vec![],
        ipv4: Ipv4Addr::new(10, 9, 0, 2),
        ipv6: None,
        mac: "02:42:0a:09:00:02".into(),
        ifname: "eth0".into(),
        host_ifname: "bv000000000001".into(),
        ports: vec![],
        netns: None,
    };
    NetworkRecord {
        id: "0a1b2c3d".repeat(8),
        name: "ov".into(),
        driver: "overlay".into(),
        internal: false,
        labels: BTreeMap::new(),
        subnet: "10.9.0.0/24".parse().unwrap(),
        gateway: Ipv4Addr::new(10, 9, 0, 1),
        ip_range: None,
        subnet_v6: None,
        gateway_v6: None,
        mtu: 1450,
        bridge: "bsn-0a1b2c3d".into(),
        created: 0,
        endpoints: BTreeMap::from([("c1".into(), ep)]),
        overlay: Some(OverlayConfig {
            vni: 4242,
            port: DEFAULT_PORT,
            underlay: Ipv4Addr::new(192, 0, 2, 1),
            vxlan: vxlan_name("bsn-0a1b2c3d"),
            attachable: true,
            peers: vec![],
            services: Vec::new(),
            bridge_mac: None,
            mesh: Vec::new(),
            encryption: None,
        }),
    }
}

#[test]
fn vxlan_names_fit_the_interface_name_limit() {
    let name = vxlan_name("bsn-0a1b2c3d");
    assert_eq!(name, "bsn-0a1b2c3d-vx");
    assert!(name.len() <= 15);
}

#[test]
fn derived_vnis_are_stable_and_in_range() {
    assert_eq!(derived_vni("web"), derived_vni("web"));
    assert_ne!(derived_vni("web"), derived_vni("db"));
    for name in ["a", "web", "app_default", "x".repeat(200).as_str()] {
        let vni = derived_vni(name);
        assert!(
            (FIRST_DERIVED_VNI..=MAX_VNI).contains(&vni),
            "{name}: {vni}"
        );
    }
}

#[test]
fn peers_are_normalised() {
    let rec = overlay_record();
    let got = check_peers(
        &rec,
        &[
            peer([10, 9, 0, 4], "02:42:0A:09:00:04", [192, 0, 2, 3]),
            peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2]),
            peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2]),
        ],
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2]),
            peer([10, 9, 0, 4], "02:42:0a:09:00:04", [192, 0, 2, 3]),
        ]
    );
}

#[test]
fn bad_peers_are_refused_with_the_reason() {
    let rec = overlay_record();
    let good = peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2]);
    let cases = [
        (
            vec![peer([10, 9, 0, 3], "02:42:0a:09:00", [192, 0, 2, 2])],
            "invalid mac",
        ),
        (
            vec![peer([10, 9, 0, 3], "ff:ff:ff:ff:ff:ff", [192, 0, 2, 2])],
            "not unicast",
        ),
        (
            vec![peer([10, 9, 0, 3], "00:00:00:00:00:00", [192, 0, 2, 2])],
            "not unicast",
        ),
        (
            vec![peer([10, 8, 0, 3], "02:42:0a:08:00:03", [192, 0, 2, 2])],
            "not a host address",
        ),
        (
            vec![peer([10, 9, 0, 255], "02:42:0a:09:00:ff", [192, 0, 2, 2])],
            "not a host address",
        ),
        (
            vec![peer([10, 9, 0, 1], "02:42:0a:09:00:01", [192, 0, 2, 2])],
            "used on this node",
        ),
        (
            vec![peer([10, 9, 0, 2], "02:42:0a:09:00:09", [192, 0, 2, 2])],
            "used on this node",
        ),
        (
            vec![peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 1])],
            "this node's underlay",
        ),
        (
            vec![peer([10, 9, 0, 3], "02:42:0a:09:00:03", [0, 0, 0, 0])],
            "not unicast",
        ),
        (
            vec![
                good.clone(),
                peer([10, 9, 0, 3], "02:42:0a:09:00:07", [192, 0, 2, 2]),
            ],
            "given twice",
        ),
        (
            vec![
                good.clone(),
                peer([10, 9, 0, 7], "02:42:0a:09:00:03", [192, 0, 2, 2]),
            ],
            "given for",
        ),
    ];
    for (peers, want) in cases {
        let err = check_peers(&rec, &peers).unwrap_err();
        assert!(err.contains(want), "{peers:?}: {err}");
    }
    let mut bridge = overlay_record();
    bridge.overlay = None;
    bridge.driver = "bridge".into();
    assert!(
        check_peers(&bridge, &[good])
            .unwrap_err()
            .contains("only overlay")
    );
}

#[test]
fn remote_peers_count_as_used_addresses() {
    let mut rec = overlay_record();
    rec.overlay.as_mut().unwrap().peers =
        vec![peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2])];
    let used = rec.used_addresses();
    assert!(used.contains(&Ipv4Addr::new(10, 9, 0, 2)));
    assert!(used.contains(&Ipv4Addr::new(10, 9, 0, 3)));
    assert_eq!(rec.ipam().allocate(&used), Some(Ipv4Addr::new(10, 9, 0, 4)));
}

#[test]
fn diff_adds_and_withdraws_peers_and_flooding_nodes() {
    let a = peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2]);
    let b = peer([10, 9, 0, 4], "02:42:0a:09:00:04", [192, 0, 2, 2]);
    let c = peer([10, 9, 0, 5], "02:42:0a:09:00:05", [192, 0, 2, 3]);
    let first = diff(&[], &[a.clone(), b.clone()]);
    assert_eq!(first.added, vec![a.clone(), b.clone()]);
    assert!(first.withdrawn.is_empty() && first.nodes_gone.is_empty());
    assert_eq!(first.nodes_new, vec![Ipv4Addr::new(192, 0, 2, 2)]);

    // One peer of a node goes: its node keeps flooding for the other.
    let second = diff(&[a.clone(), b.clone()], &[b.clone(), c.clone()]);
    assert_eq!(second.withdrawn, vec![a.clone()]);
    assert_eq!(second.added, vec![c.clone()]);
    assert!(second.nodes_gone.is_empty());
    assert_eq!(second.nodes_new, vec![Ipv4Addr::new(192, 0, 2, 3)]);

    // The last peer of a node goes: so does its flooding entry.
    let third = diff(&[b.clone(), c.clone()], std::slice::from_ref(&c));
    assert_eq!(third.withdrawn, vec![b.clone()]);
    assert_eq!(third.nodes_gone, vec![Ipv4Addr::new(192, 0, 2, 2)]);
    assert!(third.added.is_empty() && third.nodes_new.is_empty());

    assert!(diff(&[a.clone(), c.clone()], &[c.clone(), a.clone()]).is_empty());
    assert_eq!(
        third.reversed(),
        diff(std::slice::from_ref(&c), &[b.clone(), c.clone()])
    );
}

#[test]
fn a_moved_peer_is_withdrawn_and_added_again() {
    let before = peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 2]);
    let after = peer([10, 9, 0, 3], "02:42:0a:09:00:03", [192, 0, 2, 3]);
    let changes = diff(std::slice::from_ref(&before), std::slice::from_ref(&after));
    assert_eq!(changes.withdrawn, vec![before]);
    assert_eq!(changes.added, vec![after]);
    assert_eq!(changes.nodes_gone, vec![Ipv4Addr::new(192, 0, 2, 2)]);
    assert_eq!(changes.nodes_new, vec![Ipv4Addr::new(192, 0, 2, 3)]);
}
