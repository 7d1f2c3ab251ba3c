//! Encrypted cluster overlays (`--opt encrypted`), end to end on the test bed (3 managers and
//! 2 workers, each node with its own agent and node daemon in its own network namespace on the
//! lab's underlay). Needs root.
//!
//! The frames crossing the lab are read raw (an `AF_PACKET` socket on the host side of every
//! node's lab link): on an unencrypted overlay a reply carrying a marker crosses the underlay
//! in VXLAN with the marker readable, which shows the capture sees the traffic. On an
//! encrypted overlay a service answers by name across nodes and the marker never crosses in
//! clear, before and after a key rotation (every 20 s here). When this kernel has IPsec ESP
//! with AES-GCM, the underlay carries ESP and the rotation replaces every SA. On a kernel
//! without ESP (built without `CONFIG_INET_ESP`, as this machine's) the nodes seal the overlay
//! in user space: the underlay carries the sealed UDP datagrams, the rotation replaces every
//! key the nodes hold, and traffic keeps flowing through an agent restart on the web's node
//! (its TAP device reopened, its threads restarted). Either way, once the services and
//! networks are removed, no xfrm SA or policy, no TAP device, no data-path thread and no
//! network record is left on any node.

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

/// What the frames carried: IPv4 packets that are ESP, UDP datagrams to the VXLAN port, UDP
/// datagrams to the sealed overlays' ports (28672 to 32767), and frames where `marker` is
/// readable.
#[derive(Debug, Default)]
struct Seen {
    esp: usize,
    vxlan: usize,
    sealed: usize,
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
                if (28672..32768).contains(&dport) {
                    seen.sealed += 1;
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

/// The record of network `name` in member `i`'s data root, if it has one.
fn record(bed: &Bed, i: usize, name: &str) -> Option<serde_json::Value> {
    let dir = bed.members[i].root.join("networks");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .find(|r| r["name"] == name)
}

/// The ids of the keys member `i` holds for network `name` (from its record: the ids only,
/// never the secrets).
fn key_ids(bed: &Bed, i: usize, name: &str) -> Vec<u64> {
    record(bed, i, name)
        .and_then(|r| {
            r["overlay"]["encryption"]["keys"]
                .as_array()
                .map(|keys| keys.iter().filter_map(|k| k["id"].as_u64()).collect())
        })
        .unwrap_or_default()
}

/// The TAP devices of sealed overlays (`bsn-…-tp`) in the nodes' namespaces, one line each.
fn taps(bed: &Bed) -> Vec<String> {
    (0..MEMBERS)
        .flat_map(|i| {
            let (_, out) = ip(bed, i, &["-o", "link", "show"]);
            out.lines()
                .filter_map(|l| l.split(": ").nth(1))
                .filter(|name| name.starts_with("bsn-") && name.ends_with("-tp"))
                .map(|name| format!("node {i}: {name}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The sealed overlays' data-path threads (`sealed-in-…`, `sealed-out-…`) of the nodes'
/// agents, one line each.
fn data_path_threads(bed: &Bed) -> Vec<String> {
    let mut found = Vec::new();
    for (i, m) in bed.members.iter().enumerate() {
        let Some(agent) = &m.agent else { continue };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", agent.pid())) else {
            continue;
        };
        for t in tasks.filter_map(Result::ok) {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.starts_with("sealed-") {
                found.push(format!("node {i}: {}", comm.trim()));
            }
        }
    }
    found
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
async fn an_encrypted_overlay_answers_by_name_never_carries_plaintext_and_leaves_nothing() {
    let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let tag = bed.lab().tag().to_owned();
    let plain_marker = format!("PLAIN{tag}MARK");
    let secret_marker = format!("SECRET{tag}MARK");
    let esp = kernel_has_esp(&bed);
    eprintln!("kernel esp: {esp}");

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
        // No ESP in this kernel: the nodes seal the overlay in user space.
        let client = wait_until(&bed, "client-secret running", WITHIN, || async {
            one(&bed, "client-secret")
        })
        .await;
        wait_until(&bed, "web-secret answering by name", WITHIN, || async {
            ask(&bed, &client, "web-secret")
        })
        .await;
        let web = one(&bed, "web-secret").unwrap();
        assert!(
            !taps(&bed).is_empty(),
            "no tap device on any node: {:?}",
            taps(&bed)
        );
        let capture = Capture::start(&tag);
        let answer = ask(&bed, &client, "web-secret").unwrap();
        let seen = classify(&capture.finish(), &secret_marker);
        assert!(answer.contains(&secret_marker), "{answer}");
        assert!(
            seen.sealed > 0,
            "no sealed datagram on the underlay: {seen:?}"
        );
        assert_eq!(seen.esp, 0, "ESP on a kernel without it: {seen:?}");
        assert_eq!(seen.marker, 0, "the marker crossed in clear: {seen:?}");

        // A rotation replaces every key the web's node holds; traffic keeps flowing.
        let before = key_ids(&bed, web.0, "secret");
        assert!(!before.is_empty(), "no key on node {}", web.0);
        wait_until(&bed, "every key replaced by a rotation", WITHIN, || async {
            let now = key_ids(&bed, web.0, "secret");
            if !now.is_empty() && now.iter().all(|k| !before.contains(k)) {
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
        assert!(
            seen.sealed > 0,
            "no sealed datagram on the underlay: {seen:?}"
        );
        assert_eq!(seen.marker, 0, "the marker crossed in clear: {seen:?}");

        // The web's agent restarts (the bed's stop removes its containers): the restored agent
        // reopens the TAP and restarts the threads from the record, the node daemon sends the
        // keys again, and the web's task, started again, answers.
        bed.stop_agent(web.0);
        bed.start_agent(web.0);
        let capture = Capture::start(&tag);
        let answer = wait_until(
            &bed,
            "web-secret answering after its agent restarted",
            2 * WITHIN,
            || async { ask(&bed, &client, "web-secret") },
        )
        .await;
        let seen = classify(&capture.finish(), &secret_marker);
        assert!(answer.contains(&secret_marker), "{answer}");
        assert_eq!(seen.marker, 0, "the marker crossed in clear: {seen:?}");
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
        "no xfrm state or policy, tap device, data-path thread or record on any node",
        WITHIN,
        || async {
            let mut left = xfrm_leftovers(&bed);
            left.extend(taps(&bed));
            left.extend(data_path_threads(&bed));
            left.extend(
                (0..MEMBERS)
                    .filter(|&i| record(&bed, i, "secret").is_some())
                    .map(|i| format!("node {i}: the record of network secret")),
            );
            if left.is_empty() {
                Ok(())
            } else {
                Err(left.join("\n"))
            }
        },
    )
    .await;
}

/// A number from environment variable `name`, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

/// The sink's script: counts the bytes of each connection into `/got` (one line each).
const SINK: &str = "#!/bin/sh\nwc -c >> /got\n";

/// The seconds of busybox `time -p`'s `real` line in `text`.
fn real_seconds(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("real "))
        .and_then(|s| s.trim().parse().ok())
}

/// The last count the sink wrote in `got` (its file's text).
fn last_count(got: &str) -> Option<u64> {
    got.lines().last().and_then(|l| l.trim().parse().ok())
}

/// Creates `sink-<net>` (a worker) and `src-<net>` (a manager) on network `net`.
fn bench_services_on(bed: &Bed, net: &str) {
    let sink = format!(
        "printf '{}' > /sink.sh; chmod +x /sink.sh; exec nc -ll -p 9000 -e /sink.sh",
        SINK.replace('\n', "\\n")
    );
    for (name, role, cmd) in [
        (format!("sink-{net}"), "worker", sink.as_str()),
        (format!("src-{net}"), "manager", "exec sleep 100000"),
    ] {
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                &name,
                "--constraint",
                &format!("node.role=={role}"),
                "--network",
                net,
                IMAGE,
                "sh",
                "-c",
                cmd,
            ],
        );
    }
}

/// One transfer of `mib` MiB with busybox `nc` and `time -p` through `run` (which runs a
/// shell command where the sender is, its script written in directory `dir`), to `target`
/// port 9000; `got` reads the sink's counts. Returns MB/s, after checking the sink counted
/// every byte.
fn transfer(
    mib: u64,
    target: &str,
    dir: &str,
    run: impl Fn(&str) -> (bool, String),
    got: impl Fn() -> String,
) -> f64 {
    let before = got().lines().count();
    let script = format!(
        "printf '#!/bin/sh\\ndd if=/dev/zero bs=1048576 count={mib} 2>/dev/null\\n' > {dir}/send.sh; chmod +x {dir}/send.sh; time -p nc {target} 9000 -e {dir}/send.sh"
    );
    let (ok, out) = run(&script);
    assert!(ok, "the transfer to {target} failed: {out}");
    let secs = real_seconds(&out).unwrap_or_else(|| panic!("no time in {out:?}"));
    let mut counted = None;
    for _ in 0..100 {
        let text = got();
        if text.lines().count() > before {
            counted = last_count(&text);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        counted,
        Some(mib << 20),
        "the sink at {target} did not count every byte"
    );
    (mib << 20) as f64 / 1e6 / secs.max(0.01)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Throughput task → task across two nodes: over the plain overlay, over the encrypted
/// overlay (kernel ESP where the kernel has it, sealed in user space otherwise), and between
/// the same two nodes over the underlay directly, with busybox `nc` everywhere;
/// `BOSUN_BENCH_RUNS` transfers each (default 3) of `BOSUN_BENCH_MIB` MiB (default 256). Prints
/// every sample, the medians and the ratios. Run through `bench/overlay_crypt.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored (bench/overlay_crypt.sh)"]
async fn throughput_plain_encrypted_and_underlay() {
    let runs = setting("BOSUN_BENCH_RUNS", 3);
    let mib = setting("BOSUN_BENCH_MIB", 256);
    let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
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
            "secret",
        ],
    );
    let mut medians = Vec::new();
    let mut nodes = None;
    for net in ["plain", "secret"] {
        bench_services_on(&bed, net);
        let src = wait_until(&bed, "the source running", WITHIN, || async {
            one(&bed, &format!("src-{net}"))
        })
        .await;
        let sink = wait_until(&bed, "the sink running", WITHIN, || async {
            one(&bed, &format!("sink-{net}"))
        })
        .await;
        nodes = Some((src.0, sink.0));
        let exec = |c: &(usize, String), script: &str| {
            let (ok, out, err) =
                blocking(|| bed.bosun(c.0, &["container", "exec", &c.1, "sh", "-c", script]));
            (ok, format!("{out}{err}"))
        };
        let target = format!("sink-{net}");
        // The sink answers by name before anything is timed.
        wait_until(&bed, "the sink reachable", WITHIN, || async {
            match exec(&src, &format!("nc -w 3 {target} 9000 </dev/null")) {
                (true, _) => Ok(()),
                (false, out) => Err(out),
            }
        })
        .await;
        let mut samples = Vec::new();
        for run in 1..=runs {
            let mbps = transfer(
                mib,
                &target,
                "",
                |script| exec(&src, script),
                || exec(&sink, "cat /got 2>/dev/null").1,
            );
            println!("{net} overlay, run {run}: {mib} MiB at {mbps:.1} MB/s");
            samples.push(mbps);
        }
        medians.push(median(samples));
    }

    // The underlay: the same two nodes, busybox nc in their namespaces.
    let (from, to) = nodes.expect("two networks measured");
    let dir = bed.dir().join("underlay-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let sink_script = dir.join("sink.sh");
    let got = dir.join("got");
    std::fs::write(
        &sink_script,
        format!("#!/bin/sh\nbusybox wc -c >> {}\n", got.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &sink_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut sink = {
        let mut command = Command::new("busybox");
        command
            .args(["nc", "-ll", "-p", "9000", "-e"])
            .arg(&sink_script);
        bed.lab_view().spawn(to, command)
    };
    std::thread::sleep(Duration::from_millis(500));
    let target = bed.lab_view().addr(to).to_string();
    let mut samples = Vec::new();
    for run in 1..=runs {
        let mbps = transfer(
            mib,
            &target,
            &dir.display().to_string(),
            |script| {
                let mut command = Command::new("busybox");
                command.args(["sh", "-c", script]);
                command.env(
                    "PATH",
                    format!(
                        "{}:/usr/bin:/bin",
                        bed.busybox_rootfs().join("bin").display()
                    ),
                );
                let out = bed.lab_view().output(from, command);
                (
                    out.status.success(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                )
            },
            || std::fs::read_to_string(&got).unwrap_or_default(),
        );
        println!("underlay, run {run}: {mib} MiB at {mbps:.1} MB/s");
        samples.push(mbps);
    }
    let _ = sink.kill();
    let _ = sink.wait();
    medians.push(median(samples));

    let [plain, secret, underlay] = medians[..] else {
        unreachable!("three paths measured")
    };
    let kind = if esp {
        "kernel ESP"
    } else {
        "sealed in user space"
    };
    println!(
        "task->task across nodes, {mib} MiB x {runs}, medians: underlay {underlay:.1} MB/s, plain overlay {plain:.1} MB/s ({:.2} of the underlay), encrypted overlay ({kind}) {secret:.1} MB/s ({:.2} of the underlay, {:.2} of the plain overlay)",
        plain / underlay,
        secret / underlay,
        secret / plain
    );
    for net in ["plain", "secret"] {
        for service in ["src", "sink"] {
            bed.output(0, &["service", "rm", &format!("{service}-{net}")]);
        }
    }
    blocking(|| drop(bed));
}
