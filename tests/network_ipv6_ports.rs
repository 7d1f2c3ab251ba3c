//! End-to-end published ports on IPv6 host addresses (root): `-p [::1]:…`, `-p [addr]:…` and
//! ports on every address, served on the IPv6 loopback by the agent's proxy and elsewhere by
//! DNAT; `container port` in Docker's bracketed form; bad specifications refused in one line.
//! Same lab as `network_e2e` (a namespace standing for the host, an outside namespace).

#![allow(clippy::unwrap_used)]

mod network_env;
mod test_images;

use std::time::{Duration, Instant};

use network_env::{IMAGE, Lab, python};

/// A TCP server answering `from-<name>` to every connection on port 80.
fn server(name: &str) -> String {
    format!(
        "printf '#!/bin/sh\\necho from-{name}\\n' > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 80 -e /srv.sh"
    )
}

/// What a TCP client in the host namespace (or outside) reads from `addr port`.
fn read(lab: &Lab, outside: bool, addr: &str, port: &str) -> String {
    let args = ["busybox", "nc", "-w", "2", addr, port];
    let (_, out) = if outside {
        lab.try_out(&args)
    } else {
        lab.try_host(&args)
    };
    out.trim().to_string()
}

/// Waits until `addr port` answers `want` (servers and fresh links take a moment).
fn answers(lab: &Lab, outside: bool, addr: &str, port: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read(lab, outside, addr, port);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{addr} {port}: {got:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether a TCP connection to `addr port` from the host namespace is refused.
fn refused(lab: &Lab, addr: &str, port: &str) -> bool {
    let script = format!(
        "import socket\ntry:\n socket.create_connection(('{addr}',{port}),2)\n print('open')\nexcept ConnectionRefusedError:\n print('refused')"
    );
    lab.try_host(&["python3", "-c", &script]).1.trim() == "refused"
}

#[test]
fn ports_on_ipv6_loopback_and_addresses() {
    let lab = Lab::new();
    if !lab.ipv6_loopback() {
        eprintln!("note: this kernel has no IPv6; the IPv6 port test is skipped");
        return;
    }
    lab.image();
    lab.ipv6_outside();
    lab.ok(&["network", "create", "pub"]);
    lab.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:72::/64",
        "dual",
    ]);

    // On the IPv6 loopback of a container without IPv6: TCP and UDP through the proxy.
    lab.run(
        "web",
        &[
            "--network",
            "pub",
            "-p",
            "[::1]:8081:80",
            "-p",
            "[::1]:5354:53/udp",
        ],
        &server("web"),
    );
    let pid = lab.pid("web").to_string();
    let mut udp = std::process::Command::new("nsenter")
        .args(["-t", &pid, "-n", &python(), "-c"])
        .arg("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',53))\nwhile True:\n d,a=s.recvfrom(64)\n s.sendto(b'udp-'+d,a)")
        .spawn()
        .unwrap();
    answers(&lab, false, "::1", "8081", "from-web");
    assert!(refused(&lab, "127.0.0.1", "8081"), "published on ::1 only");
    let ask_udp = "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\ns.settimeout(3)\ns.sendto(b'ping',('::1',5354))\nprint(s.recvfrom(64)[0].decode())";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out) = lab.try_host(&["python3", "-c", ask_udp]);
        if ok && out.trim() == "udp-ping" {
            break;
        }
        assert!(Instant::now() < deadline, "udp via [::1]: {out}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = udp.kill();
    let _ = udp.wait();
    let ports = lab.ok(&["container", "port", "web"]);
    assert_eq!(
        ports.lines().collect::<Vec<_>>(),
        ["80/tcp -> [::1]:8081", "53/udp -> [::1]:5354"]
    );
    assert_eq!(
        lab.ok(&["container", "port", "web", "53/udp"]).trim(),
        "53/udp -> [::1]:5354"
    );

    // A container with IPv6: every address (both families, `::1` by the proxy) and one IPv6
    // address of the host, reached from outside over IPv6.
    lab.run(
        "web6",
        &[
            "--network",
            "dual",
            "-p",
            "8082:80",
            "-p",
            "[2001:db8::1]:8083:80",
        ],
        &server("web6"),
    );
    assert_eq!(
        lab.ok(&["container", "port", "web6"])
            .lines()
            .collect::<Vec<_>>(),
        [
            "80/tcp -> 0.0.0.0:8082",
            "80/tcp -> [::]:8082",
            "80/tcp -> [2001:db8::1]:8083"
        ]
    );
    answers(&lab, false, "::1", "8082", "from-web6");
    answers(&lab, false, "127.0.0.1", "8082", "from-web6");
    answers(&lab, true, "2001:db8::1", "8083", "from-web6");
    answers(&lab, true, "2001:db8::1", "8082", "from-web6");
    answers(&lab, true, "192.0.2.1", "8082", "from-web6");
    assert!(
        refused(&lab, "::1", "8083"),
        "8083 is published on 2001:db8::1 only"
    );

    // Conflicts are refused before the container starts; bad specifications in one line,
    // before anything is created.
    let run = |name: &str, port: &str| {
        lab.fails(&[
            "container",
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "pub",
            "-p",
            port,
            IMAGE,
            "sleep",
            "5",
        ])
    };
    for (name, spec, taken) in [
        ("clash1", "[::1]:8081:81", "[::1]:8081/tcp"),
        ("clash2", "[::]:8082:81", "[::]:8082/tcp"),
    ] {
        let err = run(name, spec);
        assert!(
            err.contains(&format!("port {taken} is already allocated")),
            "{err}"
        );
        lab.ok(&["container", "rm", "-f", name]);
    }
    for (spec, why) in [
        ("[::1", "missing \"]\""),
        ("[zz::1]:80:80", "\"zz::1\" is not an IP address"),
    ] {
        let err = run("bad", spec);
        assert!(err.contains(spec) && err.contains(why), "{spec}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{spec}: {err}");
    }
    assert!(!lab.ok(&["container", "ls", "-a"]).contains("bad"));

    // The proxy follows the containers, and comes back with the agent.
    lab.ok(&["container", "stop", "-t", "1", "web"]);
    assert!(
        refused(&lab, "::1", "8081"),
        "stopped container still served"
    );
    lab.restart_agent();
    answers(&lab, false, "::1", "8082", "from-web6");
    lab.ok(&["container", "restart", "-t", "1", "web"]);
    answers(&lab, false, "::1", "8081", "from-web");
    lab.ok(&["container", "rm", "-f", "web", "web6"]);
    assert!(
        refused(&lab, "::1", "8081"),
        "removed container still served"
    );
    assert!(
        refused(&lab, "::1", "8082"),
        "removed container still served"
    );
    lab.finish();
}

#[test]
fn compose_ports_on_ipv6_host_addresses() {
    let lab = Lab::new();
    if !lab.ipv6_loopback() {
        eprintln!("note: this kernel has no IPv6; the IPv6 compose port test is skipped");
        return;
    }
    lab.image();
    let file = lab.tmp.path().join("compose.yaml");
    let script = server("svc").replace('$', "$$");
    std::fs::write(
        &file,
        format!(
            "services:\n  web:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", {script:?}]\n    stop_grace_period: 1s\n    ports:\n      - \"[::1]:8091:80\"\n      - target: 80\n        published: \"8092\"\n        host_ip: \"::1\"\n"
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    lab.ok(&["-p", "six", "-f", file, "up", "-d"]);
    answers(&lab, false, "::1", "8091", "from-svc");
    answers(&lab, false, "::1", "8092", "from-svc");
    assert_eq!(
        lab.ok(&["container", "port", "six-web-1"])
            .lines()
            .collect::<Vec<_>>(),
        ["80/tcp -> [::1]:8091", "80/tcp -> [::1]:8092"]
    );
    lab.ok(&["-p", "six", "-f", file, "down"]);
    assert!(refused(&lab, "::1", "8091"), "removed project still served");
    lab.finish();
}
