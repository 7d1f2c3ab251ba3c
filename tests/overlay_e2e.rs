//! Overlay networks across two nodes, on standalone containers (root): two lab nodes (own
//! network namespace, underlay address on the lab's link, own `bosun agent` with its own data
//! root, run root and cgroup parent) create the same overlay (same VNI and subnet), each is
//! given the other's container as its peer, and busybox containers on them ping each other
//! through VXLAN; the underlay carries only VXLAN, withdrawing a peer cuts the path, and removing
//! the networks leaves nothing behind.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::bin;

use std::io::Write as _;
use std::process::{Command, Stdio};

use testbed::Bed;
use testbed::lab::leftovers;

const IMAGE: &str = "busybox:overlay";
const SUBNET: &str = "10.77.0.0/24";
const VNI: &str = "4242";
const COUNTERS: &str = "bosunovtest";

/// `bosun <args>` on node `i`; panics with its output when it fails.
fn ok(bed: &Bed, i: usize, args: &[&str]) -> String {
    let (success, out, err) = bed.bosun(i, args);
    assert!(success, "node {i}: bosun {}: {out}{err}", args.join(" "));
    out
}

/// Runs `program args` inside node `i`'s namespace; returns (success, stdout + stderr).
fn in_node(bed: &mut Bed, i: usize, program: &str, args: &[&str], stdin: &str) -> (bool, String) {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let lab = bed.lab();
    let mut child = lab.spawn(i, command);
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The packet count of the rule commented `name` in the counting table of node `i`.
fn counter(bed: &mut Bed, i: usize, name: &str) -> u64 {
    let (success, text) = in_node(bed, i, "nft", &["list", "table", "netdev", COUNTERS], "");
    assert!(success, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains(&format!("comment \"{name}\"")))
        .unwrap_or_else(|| panic!("no counter {name} in {text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "packets").unwrap();
    words[at + 1].parse().unwrap()
}

/// The overlay's inspect document on node `i`.
fn inspect(bed: &Bed, i: usize) -> serde_json::Value {
    let out = ok(bed, i, &["network", "inspect", "ov"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc[0].clone()
}

fn ping(bed: &Bed, i: usize, container: &str, ip: &str) -> (bool, String) {
    let (success, out, err) = bed.bosun(
        i,
        &[
            "container",
            "exec",
            container,
            "ping",
            "-c",
            "2",
            "-W",
            "2",
            ip,
        ],
    );
    (success, format!("{out}{err}"))
}

#[test]
fn containers_on_two_nodes_ping_over_vxlan_and_nothing_is_left() {
    let mut bed = Bed::new_in_lab(bin(), 2);
    let tag = bed.lab().tag().to_owned();
    let underlay: Vec<String> = (0..2).map(|i| bed.lab().addr(i).to_string()).collect();
    bed.start_agents();
    bed.import_busybox(IMAGE);

    let ips = ["10.77.0.11", "10.77.0.22"];
    let mut macs = Vec::new();
    let mut bridges: Vec<String> = Vec::new();
    for i in 0..2 {
        let opt_underlay = format!("underlay={}", underlay[i]);
        ok(
            &bed,
            i,
            &[
                "network",
                "create",
                "--driver",
                "overlay",
                "--attachable",
                "--subnet",
                SUBNET,
                "-o",
                &format!("vni={VNI}"),
                "-o",
                &opt_underlay,
                "ov",
            ],
        );
        let name = format!("c{i}");
        ok(
            &bed,
            i,
            &[
                "container",
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "ov",
                "--ip",
                ips[i],
                IMAGE,
                "sleep",
                "600",
            ],
        );
        let doc = inspect(&bed, i);
        assert_eq!(doc["Driver"], "overlay", "{doc}");
        assert_eq!(doc["Attachable"], true, "{doc}");
        assert_eq!(
            doc["Options"]["com.docker.network.driver.overlay.vxlanid_list"],
            VNI
        );
        assert_eq!(doc["Options"]["vxlan.port"], "4789");
        assert_eq!(doc["Options"]["com.docker.network.driver.mtu"], "1450");
        macs.push(
            doc["Containers"][&name]["MacAddress"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let bridge = doc["Options"]["com.docker.network.bridge.name"]
            .as_str()
            .unwrap();
        assert_eq!(doc["Options"]["vxlan.device"], format!("{bridge}-vx"));
        bridges.push(bridge.to_owned());
    }

    // Count what reaches node 1's underlay interface: VXLAN datagrams, and overlay packets in
    // clear (there must be none).
    let script = format!(
        "table netdev {COUNTERS} {{\n chain underlay {{\n  type filter hook ingress device \"bl{tag}p1\" priority 0;\n  udp dport 4789 counter comment \"vxlan\"\n  ip saddr {SUBNET} counter comment \"clear\"\n }}\n}}\n"
    );
    let (success, text) = in_node(&mut bed, 1, "nft", &["-f", "-"], &script);
    assert!(success, "{text}");

    let (reached, text) = ping(&bed, 0, "c0", ips[1]);
    assert!(!reached, "reached before the peers were set: {text}");

    for (i, other) in [(0usize, 1usize), (1, 0)] {
        let peer = format!("{}={}/{}", underlay[other], ips[other], macs[other]);
        let out = ok(&bed, i, &["network", "peers", "ov", "--peer", &peer]);
        assert_eq!(out.trim(), peer);
        let doc = inspect(&bed, i);
        assert_eq!(doc["Peers"][0]["IP"], ips[other], "{doc}");
        assert_eq!(doc["Peers"][0]["Node"], underlay[other].as_str(), "{doc}");
    }
    let vxlan_before = counter(&mut bed, 1, "vxlan");
    for (i, container, target) in [(0, "c0", ips[1]), (1, "c1", ips[0])] {
        let (reached, text) = ping(&bed, i, container, target);
        assert!(reached, "{container} -> {target}: {text}");
    }
    let vxlan_after = counter(&mut bed, 1, "vxlan");
    // Two echo requests from c0 and two replies to c1's requests, at least, came encapsulated.
    assert!(
        vxlan_after >= vxlan_before + 4,
        "{vxlan_before} -> {vxlan_after}"
    );
    assert_eq!(
        counter(&mut bed, 1, "clear"),
        0,
        "overlay packets in clear on the underlay"
    );

    // Withdrawn on node 0: no path either way.
    ok(&bed, 0, &["network", "peers", "ov", "--none"]);
    assert_eq!(inspect(&bed, 0)["Peers"], serde_json::json!([]));
    let (_, fdb) = in_node(&mut bed, 0, "bridge", &["fdb", "show"], "");
    assert!(!fdb.contains(" dst "), "forwarding entries left: {fdb}");
    for (i, container, target) in [(0, "c0", ips[1]), (1, "c1", ips[0])] {
        let (reached, text) = ping(&bed, i, container, target);
        assert!(
            !reached,
            "{container} -> {target} after the withdrawal: {text}"
        );
    }

    let (success, text) = in_node(
        &mut bed,
        1,
        "nft",
        &["delete", "table", "netdev", COUNTERS],
        "",
    );
    assert!(success, "{text}");
    for (i, bridge) in bridges.iter().enumerate() {
        ok(&bed, i, &["container", "rm", "-f", &format!("c{i}")]);
        ok(&bed, i, &["network", "rm", "ov"]);
        // The agent's default bridge network stays; nothing of the overlay does.
        let (_, links) = in_node(&mut bed, i, "ip", &["-o", "link", "show"], "");
        assert!(
            !links.contains(bridge.as_str()),
            "node {i}: links left: {links}"
        );
        let (_, fdb) = in_node(&mut bed, i, "bridge", &["fdb", "show"], "");
        assert!(
            !fdb.contains(" dst "),
            "node {i}: forwarding entries left: {fdb}"
        );
        let (_, neigh) = in_node(&mut bed, i, "ip", &["neigh", "show"], "");
        assert!(
            !neigh.contains("10.77.0."),
            "node {i}: neighbours left: {neigh}"
        );
        let (_, rules) = in_node(&mut bed, i, "nft", &["list", "ruleset"], "");
        assert!(
            !rules.contains(bridge.as_str()),
            "node {i}: overlay rules left: {rules}"
        );
        assert!(
            !rules.contains(COUNTERS),
            "node {i}: counting table left: {rules}"
        );
    }
    let dir = bed.dir().to_path_buf();
    drop(bed);
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(&dir.display().to_string()),
        "mounts left under {}",
        dir.display()
    );
    assert_eq!(leftovers(&tag), Vec::<String>::new());
}
