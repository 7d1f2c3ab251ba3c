//! End-to-end networking (root): the real `bosun` binary and agent with real containers from
//! the busybox test image, inside a namespace whose FORWARD policy is drop (see
//! `network_env`). Each test checks at its end that no bridge, veth, nftables rule or namespace
//! of ours is left.

#![allow(clippy::unwrap_used)]

mod network_env;
mod test_images;

use network_env::{IMAGE, Lab};

/// A TCP server answering `from-<name>` to every connection on port 80.
fn server(name: &str) -> String {
    format!(
        "printf '#!/bin/sh\\necho from-{name}\\n' > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 80 -e /srv.sh"
    )
}

const IDLE: &str = "exec sleep 1000";

#[test]
fn names_aliases_and_isolation_between_networks() {
    let lab = Lab::new();
    lab.image();
    lab.ok(&["network", "create", "front"]);
    lab.ok(&["network", "create", "back"]);
    lab.run("a", &["--network", "front"], IDLE);
    lab.run(
        "b",
        &["--network", "front", "--network-alias", "web"],
        &server("b"),
    );
    lab.run("c", &["--network", "back"], IDLE);
    let b_ip = lab.ip("b", "front");
    // By name, by alias and by name.network, over TCP; and ICMP by name.
    for name in ["b", "web", "B.front", "web.front"] {
        let out = lab.exec_until("a", &format!("nc -w 3 {name} 80 </dev/null"));
        assert_eq!(out.trim(), "from-b", "{name}");
    }
    let (ok, out) = lab.exec("a", "ping -c1 -W2 b");
    assert!(ok && out.contains(&b_ip), "{out}");
    let (ok, out) = lab.exec("a", "nslookup web");
    assert!(ok && out.contains(&b_ip), "{out}");
    // The other network neither resolves nor reaches b.
    let (ok, out) = lab.exec("c", "nslookup b");
    assert!(!ok || !out.contains(&b_ip), "{out}");
    let (ok, out) = lab.exec("c", &format!("nc -w 2 {b_ip} 80 </dev/null"));
    assert!(!ok || !out.contains("from-b"), "{out}");
    let (ok, _) = lab.exec("c", &format!("ping -c1 -W1 {b_ip}"));
    assert!(!ok, "ping across networks");
    // A network in use cannot go.
    let err = lab.fails(&["network", "rm", "front"]);
    assert!(err.contains("active endpoints"), "{err}");
    lab.finish();
}

#[test]
fn dns_returns_every_replica_and_follows_the_containers() {
    let lab = Lab::new();
    lab.image();
    lab.ok(&["network", "create", "app_default"]);
    for n in 1..=3 {
        let name = format!("app-svc-{n}");
        lab.run(
            &name,
            &["--network", "app_default", "--network-alias", "svc"],
            IDLE,
        );
    }
    lab.run("client", &["--network", "app_default"], IDLE);
    let ips: Vec<String> = (1..=3)
        .map(|n| lab.ip(&format!("app-svc-{n}"), "app_default"))
        .collect();
    let out = lab.exec_until("client", "nslookup svc");
    for ip in &ips {
        assert!(out.contains(ip.as_str()), "{ip} missing: {out}");
    }
    // A stopped replica drops out at once, and the others still answer. The replica stopped is
    // the one whose host-side veth has the lowest MAC: a bridge without an address of its own
    // would have carried that MAC and changed it at the stop, leaving the client's ARP entry
    // for the gateway (the DNS server) pointing nowhere for half a minute or more.
    let victim = (1..=3)
        .map(|n| format!("app-svc-{n}"))
        .min_by_key(|name| lab.host_veth_mac(name))
        .unwrap();
    let stopped = lab.ip(&victim, "app_default");
    let kept: Vec<&String> = ips.iter().filter(|ip| **ip != stopped).collect();
    lab.ok(&["container", "stop", "-t", "1", &victim]);
    let (ok, out) = lab.exec("client", "nslookup svc");
    assert!(
        ok && kept.iter().all(|ip| out.contains(ip.as_str())) && !out.contains(&stopped),
        "after stopping {victim} ({stopped}): {out}"
    );
    lab.finish();
}

#[test]
fn published_ports_from_loopback_outside_and_hairpin() {
    let lab = Lab::new();
    lab.image();
    lab.ok(&["network", "create", "pub"]);
    lab.run(
        "web",
        &["--network", "pub", "-p", "8080:80", "-p", "5353:53/udp"],
        &server("web"),
    );
    // A UDP echo server in the container's namespace (busybox has none).
    // The interpreter itself, not a launcher (a launcher's child would outlive its kill).
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let python = String::from_utf8(python.stdout).unwrap().trim().to_string();
    let pid = lab.pid("web").to_string();
    let mut udp = std::process::Command::new("nsenter")
        .args(["-t", &pid, "-n", &python, "-c"])
        .arg("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',53))\nwhile True:\n d,a=s.recvfrom(64)\n s.sendto(b'udp-'+d,a)")
        .spawn()
        .unwrap();
    let tcp = |out: (bool, String)| out.1.trim().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tcp(lab.try_host(&["busybox", "nc", "-w", "2", "127.0.0.1", "8080"])) != "from-web" {
        assert!(
            std::time::Instant::now() < deadline,
            "published port never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        tcp(lab.try_out(&["busybox", "nc", "-w", "2", "192.0.2.1", "8080"])),
        "from-web"
    );
    // Hairpin: the container reaches its own published port through the host's address.
    let (_, out) = lab.exec("web", "nc -w 2 192.0.2.1 8080 </dev/null");
    assert_eq!(out.trim(), "from-web");
    let ask_udp = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(3)\ns.sendto(b'ping',(ADDR,5353))\nprint(s.recvfrom(64)[0].decode())";
    // The UDP server may still be starting on a loaded machine: the first ask is retried.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for (outside, addr) in [(false, "'127.0.0.1'"), (true, "'192.0.2.1'")] {
        let script = ask_udp.replace("ADDR", addr);
        let ask = || {
            if outside {
                lab.try_out(&["python3", "-c", &script])
            } else {
                lab.try_host(&["python3", "-c", &script])
            }
        };
        let (mut ok, mut out) = ask();
        while !(ok && out.trim() == "udp-ping") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(200));
            (ok, out) = ask();
        }
        assert!(ok && out.trim() == "udp-ping", "udp via {addr}: {out}");
    }
    let _ = udp.kill();
    let _ = udp.wait();
    // A taken port is refused before the container starts.
    let err = lab.fails(&[
        "container",
        "run",
        "-d",
        "--name",
        "clash",
        "--network",
        "pub",
        "-p",
        "8080:81",
        IMAGE,
        "sleep",
        "5",
    ]);
    assert!(err.contains("8080"), "{err}");
    lab.finish();
}

#[test]
fn outbound_masquerade_and_internal_networks_without_route() {
    let lab = Lab::new();
    lab.image();
    lab.ok(&["network", "create", "public"]);
    lab.ok(&["network", "create", "--internal", "private"]);
    let script = lab.tmp.path().join("outside.sh");
    std::fs::write(&script, "#!/bin/sh\necho outside\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut outside_server = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.outside))
        .args(["busybox", "nc", "-ll", "-p", "9000", "-e"])
        .arg(&script)
        .spawn()
        .unwrap();
    lab.run("pub1", &["--network", "public"], IDLE);
    lab.run("priv1", &["--network", "private"], IDLE);
    let out = lab.exec_until("pub1", "nc -w 3 192.0.2.2 9000 </dev/null");
    assert_eq!(out.trim(), "outside");
    let (_, routes) = lab.exec("priv1", "ip route");
    assert!(!routes.contains("default"), "{routes}");
    let (ok, out) = lab.exec("priv1", "nc -w 2 192.0.2.2 9000 </dev/null");
    assert!(!ok && !out.contains("outside"), "{out}");
    let _ = outside_server.kill();
    let _ = outside_server.wait();
    lab.finish();
}

#[test]
fn host_none_and_container_modes() {
    let lab = Lab::new();
    lab.image();
    lab.run("hosted", &["--network", "host"], IDLE);
    let (_, links) = lab.exec("hosted", "ip -o link");
    assert!(
        links.contains("labhost"),
        "host mode sees the host's links: {links}"
    );
    lab.run("alone", &["--network", "none"], IDLE);
    let (_, links) = lab.exec("alone", "ip -o link");
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo"), "{links}");
    lab.ok(&["network", "create", "shared"]);
    lab.run("owner", &["--network", "shared"], &server("owner"));
    lab.run("sidecar", &["--network", "container:owner"], IDLE);
    let owner_ip = lab.ip("owner", "shared");
    let (_, addrs) = lab.exec("sidecar", "ip -o -4 addr");
    assert!(addrs.contains(&owner_ip), "{addrs}");
    let out = lab.exec_until("sidecar", "nc -w 2 127.0.0.1 80 </dev/null");
    assert_eq!(out.trim(), "from-owner");
    lab.finish();
}

#[test]
fn static_address_and_connect_disconnect_while_running() {
    let lab = Lab::new();
    lab.image();
    lab.ok(&[
        "network",
        "create",
        "--subnet",
        "10.77.0.0/24",
        "--gateway",
        "10.77.0.254",
        "fixed",
    ]);
    lab.ok(&["network", "create", "extra"]);
    lab.run(
        "pinned",
        &["--network", "fixed", "--ip", "10.77.0.50"],
        &server("pinned"),
    );
    let (_, addrs) = lab.exec("pinned", "ip -o -4 addr show eth0");
    assert!(addrs.contains("10.77.0.50/24"), "{addrs}");
    let (_, routes) = lab.exec("pinned", "ip route");
    assert!(routes.contains("default via 10.77.0.254"), "{routes}");
    let taken = lab.fails(&[
        "container",
        "run",
        "-d",
        "--name",
        "dup",
        "--network",
        "fixed",
        "--ip",
        "10.77.0.50",
        IMAGE,
        "sleep",
        "5",
    ]);
    assert!(taken.contains("10.77.0.50"), "{taken}");
    lab.run("peer", &["--network", "extra"], IDLE);
    lab.ok(&["network", "connect", "--alias", "pin", "extra", "pinned"]);
    let (_, links) = lab.exec("pinned", "ip -o link");
    assert!(links.contains("eth1"), "{links}");
    let out = lab.exec_until("peer", "nc -w 2 pin 80 </dev/null");
    assert_eq!(out.trim(), "from-pinned");
    let ls = lab.ok(&[
        "network",
        "ls",
        "--format",
        "json",
        "--filter",
        "name=extra",
    ]);
    assert!(ls.contains("\"Name\":\"extra\""), "{ls}");
    // A connection outlives a restart of the container, alias included.
    lab.ok(&["container", "restart", "-t", "1", "pinned"]);
    let out = lab.exec_until("peer", "nc -w 2 pin 80 </dev/null");
    assert_eq!(out.trim(), "from-pinned");
    lab.ok(&["network", "disconnect", "extra", "pinned"]);
    let (_, links) = lab.exec("pinned", "ip -o link");
    assert!(!links.contains("eth1"), "{links}");
    let (ok, _) = lab.exec("peer", "nc -w 2 pin 80 </dev/null | grep from-pinned");
    assert!(!ok, "reached after disconnect");
    // And so does a disconnection.
    lab.ok(&["container", "restart", "-t", "1", "pinned"]);
    lab.exec_until("pinned", "ip -o -4 addr show eth0 | grep -q 10.77.0.50");
    let (_, links) = lab.exec("pinned", "ip -o link");
    assert!(!links.contains("eth1"), "{links}");
    lab.finish();
}

#[test]
fn ipv6_published_ports_masquerade_and_isolation() {
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        eprintln!("note: IPv6 is disabled on this host; the IPv6 end-to-end test is skipped");
        return;
    }
    let lab = Lab::new();
    lab.image();
    lab.ipv6_outside();
    // An IPv6 server outside, run by the interpreter itself (a launcher's child would
    // outlive its kill).
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let python = String::from_utf8(python.stdout).unwrap().trim().to_string();
    let mut outside_server = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.outside))
        .args([&python, "-c"])
        .arg("import socket\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('::',9006))\ns.listen()\nwhile True:\n c,a=s.accept()\n c.sendall(b'outside6 '+a[0].encode()+b'\\n')\n c.close()")
        .spawn()
        .unwrap();
    lab.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:70::/64",
        "dual",
    ]);
    lab.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:71::/64",
        "apart",
    ]);
    lab.run(
        "web6",
        &["--network", "dual", "-p", "8086:80"],
        &server("web6"),
    );
    lab.run("near", &["--network", "dual"], IDLE);
    lab.run("far", &["--network", "apart"], IDLE);
    // Published on the host's IPv6 address, for a client outside (the first exchange over
    // the fresh links is retried while their link-local addresses are tentative).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, out) = lab.try_out(&["busybox", "nc", "-w", "2", "2001:db8::1", "8086"]);
        if out.trim() == "from-web6" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "published over IPv6: {out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Out over IPv6 through the host; by name over IPv6 within the network; not across.
    let out = lab.exec_until("web6", "nc -w 3 2001:db8::2 9006 </dev/null");
    assert_eq!(
        out.trim(),
        "outside6 2001:db8::1",
        "masqueraded to the host's address"
    );
    let (ok, out) = lab.exec("near", "ping -6 -c1 -W2 web6");
    assert!(ok && out.contains("fd00:70::"), "{out}");
    let (ok, _) = lab.exec("far", "ping -6 -c1 -W1 fd00:70::2");
    assert!(!ok, "IPv6 across networks");
    let _ = outside_server.kill();
    let _ = outside_server.wait();
    lab.finish();
}
