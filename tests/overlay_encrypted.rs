//! Encrypted cluster overlays (`--opt encrypted`), end to end on the test bed (3 managers and
//! 2 workers, each node with its own agent and node daemon in its own network namespace on the
//! lab's underlay). Needs root.
//!
//! The frames crossing the lab are read raw (an `AF_PACKET` socket on the host side of every
//! node's lab link): on an unencrypted overlay a reply carrying a marker crosses the underlay
//! in VXLAN with the marker readable, which shows the capture sees the traffic. On an
//! encrypted overlay, when this kernel has IPsec ESP with AES-GCM: a service answers by name
//! across nodes, the underlay carries ESP and never the marker, a key rotation (every 20 s
//! here) replaces every SA and traffic still flows. On a kernel without ESP (built without
//! `CONFIG_INET_ESP`) the nodes refuse to make the encrypted overlay, saying why, and nothing
//! crosses in clear. Either way, once the services and networks are removed, no xfrm SA or
//! policy is left in any node's namespace.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]
// The capture reads raw frames through an AF_PACKET socket (libc calls, each with its SAFETY).
#![allow(unsafe_code)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:ovenc";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
/// The bed's members: three managers, then two workers.
const MEMBERS: usize = 5;

/// A web service's command: a TCP server on port 8080 answering each connection with `marker`.
fn serve(marker: &str) -> String {
    format!(
        "printf '#!/bin/sh\\necho {marker}\\n' > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 8080 -e /srv.sh"
    )
}

/// Frames read off the lab until stopped.
struct Capture {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Vec<u8>>>>,
}

/// A raw socket on link `ifname` of the test's namespace, every protocol, reads time out after
/// 200 ms.
fn packet_socket(ifname: &str) -> OwnedFd {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); the result is checked before it is owned.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: name is a valid C string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(index > 0, "no link {ifname}");
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = index as i32;
    // SAFETY: addr is a sockaddr_ll of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(
        rc,
        0,
        "bind to {ifname}: {}",
        std::io::Error::last_os_error()
    );
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: timeout is a timeval of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    assert_eq!(rc, 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
    fd
}

impl Capture {
    /// Starts reading every frame of the host side of each node's lab link.
    fn start(tag: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..MEMBERS)
            .map(|i| {
                let fd = packet_socket(&format!("bl{tag}h{i}"));
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut frames = Vec::new();
                    let mut buf = vec![0u8; 65536];
                    while !stop.load(Ordering::Relaxed) {
                        // SAFETY: buf is writable for its length.
                        let n = unsafe {
                            libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
                        };
                        if n > 0 {
                            frames.push(buf[..n as usize].to_vec());
                        }
                    }
                    frames
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops reading and returns what was read.
    fn finish(self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    }
}

/// What the frames carried: IPv4 packets that are ESP, UDP datagrams to the VXLAN port, and
/// frames where `marker` is readable.
#[derive(Debug, Default)]
struct Seen {
    esp: usize,
    vxlan: usize,
    marker: usize,
}

fn classify(frames: &[Vec<u8>], marker: &str) -> Seen {
    let mut seen = Seen::default();
    for f in frames {
        if f.len() < 34 || f[12..14] != [0x08, 0x00] {
            continue;
        }
        let ihl = usize::from(f[14] & 0x0f) * 4;
        match f[23] {
            50 => seen.esp += 1,
            17 if f.len() >= 14 + ihl + 4 => {
                let dport = u16::from_be_bytes([f[14 + ihl + 2], f[14 + ihl + 3]]);
                if dport == 4789 {
                    seen.vxlan += 1;
                }
            }
            _ => {}
        }
        if f.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            seen.marker += 1;
        }
    }
    seen
}

/// `ip <args>` in node `i`'s namespace: (success, output).
fn ip(bed: &Bed, i: usize, args: &[&str]) -> (bool, String) {
    let mut command = Command::new("ip");
    command.args(args);
    let out = bed.lab_view().output(i, command);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Whether this kernel takes an ESP SA with AES-GCM (tried, then removed, in node 0's
/// namespace).
fn kernel_has_esp(bed: &Bed) -> bool {
    let (ok, _) = ip(
        bed,
        0,
        &[
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
    ip(bed, 0, &["xfrm", "state", "flush"]);
    ok
}

/// The SPIs of the ESP SAs in node `i`'s namespace.
fn spis(bed: &Bed, i: usize) -> Vec<String> {
    let (_, out) = ip(bed, i, &["xfrm", "state"]);
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("proto esp spi "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Every xfrm SA and policy left in the nodes' namespaces, one line each.
fn xfrm_leftovers(bed: &Bed) -> Vec<String> {
    let mut left = Vec::new();
    for i in 0..MEMBERS {
        for what in ["state", "policy"] {
            let (_, out) = ip(bed, i, &["xfrm", what]);
            left.extend(
                out.lines()
                    .filter(|l| l.starts_with("src"))
                    .map(|l| format!("node {i} {what}: {l}")),
            );
        }
    }
    left
}

/// The one running container of service `name`: (member, id).
fn one(bed: &Bed, name: &str) -> Result<(usize, String), String> {
    match bed.running_containers(name).as_slice() {
        [c] => Ok((c.member, c.id.clone())),
        other => Err(format!("{} running", other.len())),
    }
}

/// `nc -w 3 <service> 8080` from container `client`: its output.
fn ask(bed: &Bed, client: &(usize, String), service: &str) -> Result<String, String> {
    let (ok, out, err) = blocking(|| {
        bed.bosun(
            client.0,
            &[
                "container",
                "exec",
                &client.1,
                "sh",
                "-c",
                &format!("nc -w 3 {service} 8080 </dev/null"),
            ],
        )
    });
    if ok && !out.trim().is_empty() {
        Ok(out)
    } else {
        Err(format!("{out}{err}"))
    }
}

/// Creates `web-<net>` (one task, on a worker) and `client-<net>` (one task, on a manager) on
/// network `net`, so that every answer crosses the underlay.
fn services_on(bed: &Bed, net: &str, marker: &str) {
    let (web, client) = (format!("web-{net}"), format!("client-{net}"));
    let cmd = serve(marker);
    bed.output(
        0,
        &[
            "service",
            "create",
            "--name",
            &web,
            "--constraint",
            "node.role==worker",
            "--network",
            net,
            IMAGE,
            "sh",
            "-c",
            &cmd,
        ],
    );
    bed.output(
        0,
        &[
            "service",
            "create",
            "--name",
            &client,
            "--constraint",
            "node.role==manager",
            "--network",
            net,
            IMAGE,
            "sleep",
            "3600",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_encrypted_overlay_never_carries_plaintext_and_leaves_no_xfrm_state() {
    let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let tag = bed.lab().tag().to_owned();
    let plain_marker = format!("PLAIN{tag}MARK");
    let secret_marker = format!("SECRET{tag}MARK");
    let esp = kernel_has_esp(&bed);

    bed.output(0, &["network", "create", "--driver", "overlay", "plain"]);
    bed.output(
        0,
        &[
            "network",
            "create",
            "--driver",
            "overlay",
            "--opt",
            "encrypted",
            "--opt",
            "encrypted.rotation=20",
            "secret",
        ],
    );
    let inspect = bed.output(0, &["network", "inspect", "secret"]);
    assert!(inspect.contains("\"encrypted\""), "{inspect}");
    assert!(
        !bed.output(0, &["network", "inspect", "plain"])
            .contains("\"encrypted\""),
        "the plain overlay is not encrypted"
    );

    // The capture sees overlay traffic: on the plain overlay, the marker crosses in VXLAN.
    services_on(&bed, "plain", &plain_marker);
    let client = wait_until(&bed, "client-plain running", WITHIN, || async {
        one(&bed, "client-plain")
    })
    .await;
    wait_until(&bed, "web-plain answering", WITHIN, || async {
        ask(&bed, &client, "web-plain")
    })
    .await;
    let capture = Capture::start(&tag);
    let answer = ask(&bed, &client, "web-plain").unwrap();
    let seen = classify(&capture.finish(), &plain_marker);
    assert!(answer.contains(&plain_marker), "{answer}");
    assert!(seen.vxlan > 0 && seen.marker > 0, "plain overlay: {seen:?}");

    services_on(&bed, "secret", &secret_marker);
    if esp {
        let client = wait_until(&bed, "client-secret running", WITHIN, || async {
            one(&bed, "client-secret")
        })
        .await;
        wait_until(&bed, "web-secret answering by name", WITHIN, || async {
            ask(&bed, &client, "web-secret")
        })
        .await;
        let capture = Capture::start(&tag);
        let answer = ask(&bed, &client, "web-secret").unwrap();
        let seen = classify(&capture.finish(), &secret_marker);
        assert!(answer.contains(&secret_marker), "{answer}");
        assert!(seen.esp > 0, "no ESP on the underlay: {seen:?}");
        assert_eq!(seen.marker, 0, "the marker crossed in clear: {seen:?}");

        // A rotation replaces every SA on the web's node; traffic keeps flowing.
        let web = one(&bed, "web-secret").unwrap();
        let before = spis(&bed, web.0);
        assert!(!before.is_empty(), "no SA on node {}", web.0);
        wait_until(&bed, "every SA replaced by a rotation", WITHIN, || async {
            let now = spis(&bed, web.0);
            if !now.is_empty() && now.iter().all(|s| !before.contains(s)) {
                Ok(())
            } else {
                Err(format!("before {before:?}, now {now:?}"))
            }
        })
        .await;
        let capture = Capture::start(&tag);
        let answer = wait_until(
            &bed,
            "web-secret answering after the rotation",
            WITHIN,
            || async { ask(&bed, &client, "web-secret") },
        )
        .await;
        let seen = classify(&capture.finish(), &secret_marker);
        assert!(answer.contains(&secret_marker), "{answer}");
        assert_eq!(seen.marker, 0, "the marker crossed in clear: {seen:?}");
    } else {
        // No ESP in this kernel: the nodes refuse the encrypted overlay, saying why.
        wait_until(
            &bed,
            "the nodes refusing the encrypted overlay",
            WITHIN,
            || async {
                let logs = bed.logs();
                if logs.contains("encrypted overlays need IPsec ESP") {
                    Ok(())
                } else {
                    Err("not refused yet".to_owned())
                }
            },
        )
        .await;
        let capture = Capture::start(&tag);
        std::thread::sleep(Duration::from_secs(2));
        let seen = classify(&capture.finish(), &secret_marker);
        assert_eq!(seen.marker, 0, "the marker crossed in clear: {seen:?}");
        assert!(
            one(&bed, "client-secret").is_err() && one(&bed, "web-secret").is_err(),
            "tasks run on an overlay that cannot be encrypted"
        );
    }

    for service in ["client-secret", "web-secret", "client-plain", "web-plain"] {
        bed.output(0, &["service", "rm", service]);
    }
    for net in ["secret", "plain"] {
        wait_until(&bed, "the network removed", WITHIN, || async {
            let (ok, out, err) = blocking(|| bed.bosun(0, &["network", "rm", net]));
            if ok {
                Ok(())
            } else {
                Err(format!("{out}{err}"))
            }
        })
        .await;
    }
    wait_until(
        &bed,
        "no xfrm state or policy on any node",
        WITHIN,
        || async {
            let left = xfrm_leftovers(&bed);
            if left.is_empty() {
                Ok(())
            } else {
                Err(left.join("\n"))
            }
        },
    )
    .await;
}
