//! Overlay integration tests (root): two nodes — the lab's host namespace and a second one
//! joined to it by a veth (192.0.2.1 ↔ 192.0.2.2) — each with an overlay of the same VNI and
//! subnet, a container on each, and the peers programmed by hand; restore after the VXLAN device
//! is lost.

#![allow(clippy::unwrap_used)]

mod support_net;

use std::net::Ipv4Addr;

use engine::network::link::{FLOOD_MAC, Links};
use engine::network::{AttachRequest, CreateNetwork, NetworkError, Networks, OverlayRequest, Peer};
use support_net::*;

const NODE_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NODE_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn overlay(nets: &Networks, underlay: Ipv4Addr) -> engine::network::NetworkRecord {
    nets.create(&CreateNetwork {
        name: "ov".into(),
        subnet: Some("10.77.0.0/24".parse().unwrap()),
        overlay: Some(OverlayRequest {
            vni: Some(4242),
            port: None,
            underlay: Some(underlay),
            attachable: true,
            mac: None,
            encrypted: false,
        }),
        ..Default::default()
    })
    .unwrap()
}

fn mac(text: &str) -> [u8; 6] {
    engine::network::parse_mac(text).unwrap()
}

#[test]
fn containers_on_two_nodes_talk_over_vxlan_until_their_peers_are_withdrawn() {
    run(|lab| {
        let node_b = outside(lab);
        let dir_b = tempfile::tempdir().unwrap();
        let nets_b = Networks::new(dir_b.path()).unwrap();
        let rec_a = overlay(&lab.nets, NODE_A);
        let rec_b = node_b.run(|| Ok(overlay(&nets_b, NODE_B))).unwrap();
        let ov = rec_a.overlay.clone().unwrap();
        assert_eq!(
            (rec_a.driver.as_str(), ov.vni, ov.port),
            ("overlay", 4242, 4789)
        );
        assert_eq!(ov.vxlan, format!("{}-vx", rec_a.bridge));
        assert_eq!(rec_a.mtu, 1450, "underlay 1500 less 50");
        // Same VNI and port twice in one namespace: refused, nothing made.
        let clash = lab.nets.create(&CreateNetwork {
            name: "ov2".into(),
            subnet: Some("10.78.0.0/24".parse().unwrap()),
            overlay: rec_a.overlay.as_ref().map(|o| OverlayRequest {
                vni: Some(o.vni),
                port: None,
                underlay: Some(NODE_A),
                attachable: false,
                mac: None,
                encrypted: false,
            }),
            ..Default::default()
        });
        assert!(
            matches!(clash, Err(NetworkError::Invalid { .. })),
            "{clash:?}"
        );
        // An underlay address that is not the node's: refused.
        let foreign = lab.nets.create(&CreateNetwork {
            name: "ov3".into(),
            subnet: Some("10.79.0.0/24".parse().unwrap()),
            overlay: Some(OverlayRequest {
                vni: Some(9),
                underlay: Some(NODE_B),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(
            format!("{foreign:?}").contains("not an address of this node"),
            "{foreign:?}"
        );

        // No underlay address given and no default route to take one from: refused.
        let unplaced = lab.nets.create(&CreateNetwork {
            name: "ov4".into(),
            subnet: Some("10.80.0.0/24".parse().unwrap()),
            overlay: Some(OverlayRequest::default()),
            ..Default::default()
        });
        assert!(
            format!("{unplaced:?}").contains("no IPv4 default route"),
            "{unplaced:?}"
        );
        assert_eq!(
            lab.nets.list().unwrap().len(),
            1,
            "a refused create left a record"
        );

        let (c1, c2) = (netns(), netns());
        let e1 = attach(&lab.nets, "ov", "c1", [10, 77, 0, 11], &c1);
        let e2 = node_b
            .run(|| Ok(attach(&nets_b, "ov", "c2", [10, 77, 0, 22], &c2)))
            .unwrap();
        let (_, link) = cmd_in(&c1, &["ip", "-o", "link", "show", "eth0"]);
        assert!(link.contains("mtu 1450"), "{link}");
        let server = tcp_server(&c2, 80, "c2");
        let ask = || tcp_ask(&c1, &format!("{}:80", e2.ipv4));
        assert!(ask().is_err(), "reached before any peer was programmed");

        lab.nets.set_peers("ov", &[peer_of(&e2, NODE_B)]).unwrap();
        node_b
            .run(|| nets_b.set_peers("ov", &[peer_of(&e1, NODE_A)]).map(|_| ()))
            .unwrap();
        assert_eq!(ask(), Ok("c2 saw 10.77.0.11".into()));
        let mut links = Links::open().unwrap();
        let vx = links.find(&ov.vxlan).unwrap().unwrap().index;
        let mut fdb = links.fdb_entries(vx).unwrap();
        fdb.sort();
        assert_eq!(fdb, vec![(FLOOD_MAC, NODE_B), (mac(&e2.mac), NODE_B)]);
        let (_, neigh) = cmd_in(&lab.host, &["ip", "neigh", "show", "dev", &ov.vxlan]);
        assert!(
            neigh.contains("10.77.0.22") && neigh.contains(&e2.mac) && neigh.contains("PERMANENT"),
            "{neigh}"
        );
        assert_eq!(
            lab.nets.inspect("ov").unwrap().overlay.unwrap().peers,
            vec![peer_of(&e2, NODE_B)]
        );

        // An agent restart finds the device gone (say): restore makes it and its entries again.
        links.delete(&ov.vxlan).unwrap();
        assert!(ask().is_err(), "reached without the vxlan device");
        lab.nets.restore().unwrap();
        let vx = links.find(&ov.vxlan).unwrap().unwrap().index;
        let mut fdb = links.fdb_entries(vx).unwrap();
        fdb.sort();
        assert_eq!(fdb, vec![(FLOOD_MAC, NODE_B), (mac(&e2.mac), NODE_B)]);
        assert_eq!(ask(), Ok("c2 saw 10.77.0.11".into()));
        // Restoring again with everything in place changes nothing.
        lab.nets.restore().unwrap();
        assert_eq!(links.fdb_entries(vx).unwrap().len(), 2);

        // Withdrawn on A: its entries go, and the path with them.
        lab.nets.set_peers("ov", &[]).unwrap();
        assert_eq!(links.fdb_entries(vx).unwrap(), vec![]);
        let (_, neigh) = cmd_in(&lab.host, &["ip", "neigh", "show", "dev", &ov.vxlan]);
        assert!(!neigh.contains("10.77.0.22"), "{neigh}");
        cmd_in(&c1, &["ip", "neigh", "flush", "all"]);
        assert!(ask().is_err(), "reached after the peer was withdrawn");
        drop(server);

        lab.nets.detach("ov", "c1").unwrap();
        node_b
            .run(|| {
                nets_b.detach("ov", "c2")?;
                nets_b.remove(&rec_b.id)?;
                assert_eq!(leftover_links(), vec!["labpeer".to_string()]);
                assert!(!nft(&["list", "tables"]).contains("bosun"));
                Ok(())
            })
            .unwrap();
        lab.nets.remove("ov").unwrap();
        assert!(links.find(&ov.vxlan).unwrap().is_none());
        Links::open().unwrap().delete("labhost").unwrap();
    });
}

#[test]
fn an_internal_overlay_gives_no_default_route_and_no_masquerade() {
    run(|lab| {
        let _node_b = outside(lab);
        let rec = lab
            .nets
            .create(&CreateNetwork {
                name: "ovi".into(),
                internal: true,
                subnet: Some("10.81.0.0/24".parse().unwrap()),
                overlay: Some(OverlayRequest {
                    vni: Some(77),
                    port: Some(4790),
                    underlay: Some(NODE_A),
                    attachable: true,
                    mac: None,
                    encrypted: false,
                }),
                ..Default::default()
            })
            .unwrap();
        let ov = rec.overlay.clone().unwrap();
        assert_eq!((ov.vni, ov.port, rec.internal), (77, 4790, true));
        let (_, details) = cmd_in(&lab.host, &["ip", "-d", "link", "show", &ov.vxlan]);
        assert!(
            details.contains("vxlan id 77")
                && details.contains("dstport 4790")
                && details.contains("nolearning")
                && details.contains("proxy")
                && details.contains(&format!("master {}", rec.bridge)),
            "{details}"
        );
        let c1 = netns();
        lab.nets
            .attach(
                "ovi",
                &AttachRequest {
                    container_id: "c1".into(),
                    container_name: "c1".into(),
                    aliases: vec![],
                    ipv4: None,
                    mac: None,
                    ports: vec![],
                    netns: &c1,
                    service_task: false,
                },
            )
            .unwrap();
        let (_, route) = cmd_in(&c1, &["ip", "route", "show", "default"]);
        assert!(route.trim().is_empty(), "{route}");
        let ruleset = nft(&["list", "table", "ip", lab.nets.table()]);
        assert!(ruleset.contains(&rec.bridge), "{ruleset}");
        assert!(
            !ruleset.lines().any(|l| l.contains("10.81.0.0/24")
                && l.contains("masquerade")
                && l.contains("!=")),
            "{ruleset}"
        );
        lab.nets.detach("ovi", "c1").unwrap();
        lab.nets.remove("ovi").unwrap();
        Links::open().unwrap().delete("labhost").unwrap();
    });
}

/// Whether this kernel takes an ESP SA with AES-GCM (tried and flushed in the lab's namespace).
fn kernel_has_esp(lab: &support_net::Lab) -> bool {
    let (ok, _) = cmd_in(
        &lab.host,
        &[
            "ip",
            "xfrm",
            "state",
            "add",
            "src",
            "127.0.0.1",
            "dst",
            "127.0.0.2",
            "proto",
            "esp",
            "spi",
            "0x10",
            "mode",
            "transport",
            "aead",
            "rfc4106(gcm(aes))",
            "0x0102030405060708090a0b0c0d0e0f1011121314",
            "128",
        ],
    );
    cmd_in(&lab.host, &["ip", "xfrm", "state", "flush"]);
    ok
}

#[test]
fn an_encrypted_overlay_takes_esp_where_the_kernel_has_it_and_programs_it_per_peer_node() {
    run(|lab| {
        let _node_b = outside(lab);
        let esp = kernel_has_esp(lab);
        let created = lab.nets.create(&CreateNetwork {
            name: "ove".into(),
            subnet: Some("10.82.0.0/24".parse().unwrap()),
            overlay: Some(OverlayRequest {
                vni: Some(4100),
                underlay: Some(NODE_A),
                attachable: true,
                encrypted: true,
                ..Default::default()
            }),
            ..Default::default()
        });
        let rec = created.unwrap();
        let key = engine::network::OverlayKey {
            id: 1,
            secret: [7; engine::network::OVERLAY_KEY_LEN],
            primary: true,
        };
        let transport = rec
            .overlay
            .as_ref()
            .and_then(|o| o.encryption.as_ref())
            .map(|e| e.transport);
        if !esp {
            // A kernel without ESP (the test machines'): sealed in user space instead (see
            // network_sealed.rs), and nothing of xfrm programmed.
            assert_eq!(transport, Some(engine::network::Transport::Sealed));
            assert_eq!(rec.mtu, 1426, "room for the sealed datagrams' 74 bytes");
            lab.nets.set_keys("ove", &[key]).unwrap();
            let remote = Peer {
                ip: Ipv4Addr::new(10, 82, 0, 9),
                mac: "02:42:0a:52:00:09".into(),
                node: NODE_B,
                names: Vec::new(),
            };
            lab.nets.set_peers("ove", &[remote]).unwrap();
            for what in ["state", "policy"] {
                let (_, out) = cmd_in(&lab.host, &["ip", "xfrm", what]);
                assert!(out.trim().is_empty(), "{what}: {out}");
            }
            lab.nets.remove("ove").unwrap();
            Links::open().unwrap().delete("labhost").unwrap();
            return;
        }
        assert_eq!(transport, Some(engine::network::Transport::Esp));
        // Room for VXLAN (50) and ESP (37) inside the 1500 of the lab link.
        assert_eq!(rec.mtu, 1413);
        lab.nets.set_keys("ove", &[key]).unwrap();
        let remote = Peer {
            ip: Ipv4Addr::new(10, 82, 0, 9),
            mac: "02:42:0a:52:00:09".into(),
            node: NODE_B,
            names: Vec::new(),
        };
        lab.nets.set_peers("ove", &[remote]).unwrap();
        let (_, states) = cmd_in(&lab.host, &["ip", "xfrm", "state"]);
        assert_eq!(
            states.matches("proto esp spi").count(),
            2,
            "in and out: {states}"
        );
        let (_, policies) = cmd_in(&lab.host, &["ip", "xfrm", "policy"]);
        assert!(
            policies.contains(&format!("dst {NODE_B}/32 proto udp")),
            "{policies}"
        );
        lab.nets.set_peers("ove", &[]).unwrap();
        let (_, states) = cmd_in(&lab.host, &["ip", "xfrm", "state"]);
        let (_, policies) = cmd_in(&lab.host, &["ip", "xfrm", "policy"]);
        assert!(
            states.trim().is_empty() && policies.trim().is_empty(),
            "{states}{policies}"
        );
        Links::open().unwrap().delete("labhost").unwrap();
    });
}
