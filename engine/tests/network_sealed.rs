//! Encrypted overlays sealed in user space (root), on a kernel without IPsec ESP: two nodes —
//! the lab's host namespace and a second one joined to it by a veth (192.0.2.1 ↔ 192.0.2.2) —
//! each with the encrypted overlay of the same VNI, a container on each, peers and keys set by
//! hand as the node daemon sets them. On a kernel with ESP the overlay is carried by ESP
//! instead (`tests/overlay_encrypted.rs` covers both) and these tests say so and stop.

#![allow(clippy::unwrap_used)]

mod support_net;

use std::net::Ipv4Addr;

use engine::network::{
    CreateNetwork, Netns, NetworkRecord, Networks, OverlayKey, OverlayRequest, Transport,
};
use support_net::*;

const NODE_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NODE_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn overlay(nets: &Networks, underlay: Ipv4Addr) -> NetworkRecord {
    nets.create(&CreateNetwork {
        name: "sec".into(),
        subnet: Some("10.77.0.0/24".parse().unwrap()),
        overlay: Some(OverlayRequest {
            vni: Some(4242),
            underlay: Some(underlay),
            attachable: true,
            encrypted: true,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap()
}

fn key(id: u32, byte: u8, primary: bool) -> OverlayKey {
    OverlayKey {
        id,
        secret: [byte; 32],
        primary,
    }
}

/// This process's data-path threads of sealed overlays.
fn data_path_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|c| c.starts_with("sealed-"))
        .map(|c| c.trim().to_owned())
        .collect()
}

/// Asks until the answer is `want` or 50 tries (10 s) have passed; the last answer.
fn ask_until(client: &Netns, addr: &str, want: &str) -> Result<String, String> {
    let mut last = Err("not asked".to_owned());
    for _ in 0..50 {
        last = tcp_ask(client, addr);
        if last.as_deref() == Ok(want) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    last
}

#[test]
fn containers_on_two_nodes_talk_sealed_through_rotations_and_a_restart() {
    run(|lab| {
        let node_b = outside(lab);
        let dir_b = tempfile::tempdir().unwrap();
        let nets_b = Networks::new(dir_b.path()).unwrap();
        let rec_a = overlay(&lab.nets, NODE_A);
        let transport = rec_a
            .overlay
            .as_ref()
            .and_then(|o| o.encryption.as_ref())
            .map(|e| e.transport);
        if transport == Some(Transport::Esp) {
            eprintln!("this kernel has ESP: the overlay is not sealed in user space here");
            return;
        }
        assert_eq!(transport, Some(Transport::Sealed));
        assert_eq!(rec_a.mtu, 1426, "underlay 1500 less 74");
        let tap = format!("{}-tp", rec_a.bridge);
        let (_, details) = cmd_in(&lab.host, &["ip", "-d", "link", "show", &tap]);
        assert!(
            details.contains("tun type tap")
                && details.contains("persist")
                && details.contains("mtu 1426")
                && details.contains(&format!("master {}", rec_a.bridge)),
            "{details}"
        );
        let (vx_exists, vx) = cmd_in(
            &lab.host,
            &["ip", "link", "show", &format!("{}-vx", rec_a.bridge)],
        );
        assert!(!vx_exists, "a vxlan device on a sealed overlay: {vx}");
        let rec_b = node_b.run(|| Ok(overlay(&nets_b, NODE_B))).unwrap();
        let tap_b = format!("{}-tp", rec_b.bridge);

        let (c1, c2) = (netns(), netns());
        let e1 = attach(&lab.nets, "sec", "c1", [10, 77, 0, 11], &c1);
        let e2 = node_b
            .run(|| Ok(attach(&nets_b, "sec", "c2", [10, 77, 0, 22], &c2)))
            .unwrap();
        let server = tcp_server(&c2, 80, "c2");
        let addr = format!("{}:80", e2.ipv4);
        let want = "c2 saw 10.77.0.11";

        lab.nets.set_peers("sec", &[peer_of(&e2, NODE_B)]).unwrap();
        node_b
            .run(|| nets_b.set_peers("sec", &[peer_of(&e1, NODE_A)]).map(|_| ()))
            .unwrap();
        assert!(
            tcp_ask(&c1, &addr).is_err(),
            "reached before any key was set: nothing is sent without keys"
        );

        let set_b = |keys: &[OverlayKey]| {
            node_b
                .run(|| nets_b.set_keys("sec", keys).map(|_| ()))
                .unwrap();
        };
        lab.nets.set_keys("sec", &[key(1, 7, true)]).unwrap();
        set_b(&[key(1, 7, true)]);
        assert_eq!(ask_until(&c1, &addr, want).as_deref(), Ok(want));

        // A rotation as the managers make it: added, promoted (here on A first), retired.
        lab.nets
            .set_keys("sec", &[key(1, 7, false), key(2, 9, true)])
            .unwrap();
        set_b(&[key(1, 7, true), key(2, 9, false)]);
        assert_eq!(
            tcp_ask(&c1, &addr).as_deref(),
            Ok(want),
            "A sends with 2, B with 1"
        );
        set_b(&[key(2, 9, true)]);
        lab.nets.set_keys("sec", &[key(2, 9, true)]).unwrap();
        assert_eq!(tcp_ask(&c1, &addr).as_deref(), Ok(want), "both with 2");

        // Keys that do not match: B's answers cannot be opened on A.
        set_b(&[key(3, 1, true)]);
        assert!(tcp_ask(&c1, &addr).is_err(), "reached with mismatched keys");
        set_b(&[key(2, 9, true)]);
        assert_eq!(ask_until(&c1, &addr, want).as_deref(), Ok(want));

        // B's agent restarts: its tunnel goes with the old process's state, the TAP stays
        // (persistent); the new one's restore restarts the threads, and traffic flows again
        // once the keys are sent again.
        drop(nets_b);
        let (_, link) = cmd_in(&node_b, &["ip", "-d", "link", "show", &tap_b]);
        assert!(
            link.contains("persist"),
            "the tap did not outlive its agent: {link}"
        );
        assert_eq!(data_path_threads().len(), 2, "A's threads only");
        let nets_b = Networks::new(dir_b.path()).unwrap();
        node_b.run(|| nets_b.restore()).unwrap();
        assert!(
            tcp_ask(&c1, &addr).is_err(),
            "reached before the restarted node had its keys"
        );
        node_b
            .run(|| nets_b.set_keys("sec", &[key(2, 9, true)]).map(|_| ()))
            .unwrap();
        assert_eq!(ask_until(&c1, &addr, want).as_deref(), Ok(want));
        drop(server);

        // Removed: no TAP, no thread, on either node.
        lab.nets.detach("sec", "c1").unwrap();
        lab.nets.remove("sec").unwrap();
        node_b
            .run(|| {
                nets_b.detach("sec", "c2")?;
                nets_b.remove("sec")?;
                assert_eq!(leftover_links(), vec!["labpeer".to_string()]);
                Ok(())
            })
            .unwrap();
        assert_eq!(data_path_threads(), Vec::<String>::new());
        let (_, links) = cmd_in(&lab.host, &["ip", "-o", "link", "show"]);
        assert!(!links.contains(&tap), "{links}");
        engine::network::link::Links::open()
            .unwrap()
            .delete("labhost")
            .unwrap();
    });
}
