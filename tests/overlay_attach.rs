//! Cluster overlays beyond TCP between tasks, end to end on the bed (3 managers and 2 workers,
//! each node with its own `bosun agent` and node daemon in its own network namespace and data
//! root, all on the lab's underlay):
//!
//! - An attachable overlay joined by a standalone container (`container run --network`) on a
//!   worker that runs no task of any service: the container reaches a service's task on the
//!   other worker by the service's name (its virtual address) and by `tasks.<service>`, and
//!   the task reaches the container back by the container's name (as Docker answers it on
//!   attachable overlays); a network created without `--attachable` is refused in Docker's
//!   words; removing the container withdraws its name from the task's node and the overlay
//!   from its own. The service's named port answers `_http._tcp.web` (SRV) there.
//! - UDP across nodes: datagrams from a task on a manager reach the tasks of a service on the
//!   two workers through the service's virtual address (both tasks answer) and by each task's
//!   address, and the answers come back. Busybox here has no UDP `nc`, so each end is the
//!   host's `python3` run in the task container's network namespace (`nsenter -n`): the path
//!   the datagrams take is the tasks' own.
//!
//! Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:ovattach";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
/// The UDP port the echo tasks answer on.
const UDP_PORT: u16 = 9999;
/// A UDP server answering each datagram with `udp-<its address>-<datagram>` (run in a task's
/// network namespace).
const UDP_SERVER: &str = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',int(sys.argv[1])))\nwhile True:\n d,a=s.recvfrom(256)\n s.sendto(b'udp-'+sys.argv[2].encode()+b'-'+d,a)";
/// Sends one datagram per new socket to `argv[1]:argv[2]`, `argv[3]` times, and prints each
/// answer on a line (a socket per datagram: a new flow, so the VIP picks a backend each time).
const UDP_CLIENT: &str = "import socket,sys\nfor i in range(int(sys.argv[3])):\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n s.settimeout(2)\n try:\n  s.sendto(b'ping',(sys.argv[1],int(sys.argv[2])))\n  print(s.recvfrom(256)[0].decode())\n except OSError as e:\n  print('error',e)\n s.close()";

/// The web service's command: a TCP server on port 8080 answering each connection with its
/// container's host name (busybox `nc`, as tests/overlay_vip.rs).
const SERVE: &str = "printf '#!/bin/sh\\necho from-%s\\n' \"$(hostname)\" > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 8080 -e /srv.sh";

/// `bosun container exec` of `args` in container `id` on member `i`: (success, output).
fn exec(bed: &Bed, i: usize, id: &str, args: &[&str]) -> (bool, String) {
    let mut words = vec!["container", "exec", id];
    words.extend_from_slice(args);
    let (ok, out, err) = blocking(|| bed.bosun(i, &words));
    (ok, format!("{out}{err}"))
}

/// The overlay addresses `name` resolves to from container `id` on member `i` (busybox
/// nslookup; none when the name is unknown).
fn resolve(bed: &Bed, i: usize, id: &str, name: &str) -> BTreeSet<String> {
    let (_, out) = exec(bed, i, id, &["nslookup", name]);
    let answers = out.split_once("Name:").map_or("", |(_, rest)| rest);
    answers
        .lines()
        .filter(|l| l.trim_start().starts_with("Address"))
        .filter_map(|l| l.split_once(':'))
        .map(|(_, a)| a.split_whitespace().next().unwrap_or_default().to_owned())
        .filter(|a| a.starts_with("10.32."))
        .collect()
}

/// A running container of a service: (member, container id, address on `front`).
type Running = (usize, String, String);

/// The running containers of service `name` with their address on `front`.
fn on_front(bed: &Bed, name: &str) -> Vec<Running> {
    bed.running_containers(name)
        .into_iter()
        .map(|c| {
            let ip = c.addresses.get("front").cloned().unwrap_or_default();
            (c.member, c.id, ip)
        })
        .collect()
}

/// The pid of container `id` on member `i` (its init, in the container's namespaces).
fn pid_of(bed: &Bed, i: usize, id: &str) -> Result<i64, String> {
    let (ok, out, err) = blocking(|| bed.bosun(i, &["container", "inspect", id]));
    if !ok {
        return Err(format!("{out}{err}"));
    }
    let doc: serde_json::Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    doc[0]["State"]["Pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("no pid: {out}"))
}

/// A process of the test's own, killed and reaped when dropped (so a failing test leaves no
/// server behind).
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the UDP echo server in the network namespace of container `c`.
fn udp_server(bed: &Bed, c: &Running) -> Owned {
    let pid = pid_of(bed, c.0, &c.1).unwrap();
    let child = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "python3", "-c", UDP_SERVER])
        .args([UDP_PORT.to_string(), c.2.clone()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsenter python3");
    Owned(child)
}

/// Sends `count` datagrams from container `c`'s network namespace to `addr`, one socket each:
/// the answers (one line each, `error …` for a datagram unanswered).
fn udp_ask(bed: &Bed, c: &Running, addr: &str, count: usize) -> Result<Vec<String>, String> {
    let pid = pid_of(bed, c.0, &c.1)?;
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "python3", "-c", UDP_CLIENT])
        .args([addr, &UDP_PORT.to_string(), &count.to_string()])
        .output()
        .map_err(|e| format!("nsenter python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The virtual address of service `name` on the network of address `member_of` (without
/// its prefix length), through member 2.
async fn vip_of(bed: &Bed, name: &str, member_of: &str) -> String {
    let member: std::net::Ipv4Addr = member_of.parse().unwrap();
    wait_until(bed, "the service's virtual address", WITHIN, || async {
        let out = blocking(|| bed.bosun(2, &["service", "inspect", name]));
        let doc: serde_json::Value = serde_json::from_str(&out.1).map_err(|e| e.to_string())?;
        let vips = doc[0]["Endpoint"]["VirtualIPs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        vips.iter()
            .filter_map(|v| {
                let (addr, len) = v["Addr"].as_str()?.split_once('/')?;
                let addr: std::net::Ipv4Addr = addr.parse().ok()?;
                let mask = u32::MAX
                    .checked_shl(32 - len.parse::<u32>().ok()?)
                    .unwrap_or(0);
                (u32::from(addr) & mask == u32::from(member) & mask).then(|| addr.to_string())
            })
            .next()
            .ok_or_else(|| format!("{doc}"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standalone_container_joins_an_attachable_overlay_on_a_node_without_tasks() {
    let (tag, dir) = {
        let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab_view().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        bed.output(
            0,
            &[
                "network",
                "create",
                "--driver",
                "overlay",
                "--attachable",
                "front",
            ],
        );
        bed.output(0, &["network", "create", "--driver", "overlay", "closed"]);
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--constraint",
                "node.role==worker",
                "--network",
                "front",
                "--publish",
                "name=http,target=8080",
                IMAGE,
                "sh",
                "-c",
                SERVE,
            ],
        );
        let web = wait_until(&bed, "the web task with its address", WITHIN, || async {
            match on_front(&bed, "web").as_slice() {
                [w] if !w.2.is_empty() => Ok(w.clone()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        // The other worker runs no task of any service.
        let other = if web.0 == 3 { 4 } else { 3 };
        assert!(
            bed.containers(other).is_empty(),
            "member {other} runs nothing yet"
        );
        let (ok, hostname) = exec(&bed, web.0, &web.1, &["hostname"]);
        assert!(ok, "{hostname}");
        let answer = format!("from-{}", hostname.trim());

        // A network made without --attachable takes no standalone container.
        let (ok, out, err) = blocking(|| {
            bed.bosun(
                other,
                &[
                    "container",
                    "run",
                    "-d",
                    "--name",
                    "nope",
                    "--network",
                    "closed",
                    IMAGE,
                    "true",
                ],
            )
        });
        assert!(!ok, "{out}{err}");
        assert!(
            err.contains("network closed not manually attachable"),
            "Docker's words: {err}"
        );

        let probe = bed.output(
            other,
            &[
                "container",
                "run",
                "-d",
                "--name",
                "probe",
                "--network",
                "front",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let probe = probe.trim().to_owned();
        let doc: serde_json::Value =
            serde_json::from_str(&bed.output(other, &["container", "inspect", &probe])).unwrap();
        let probe_ip = doc[0]["NetworkSettings"]["Networks"]["front"]["IPAddress"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(probe_ip.starts_with("10.32."), "{doc}");

        // The container reaches the task by the service's name and by tasks.web.
        let vip = vip_of(&bed, "web", &web.2).await;
        wait_until(&bed, "web resolved from the container", WITHIN, || async {
            let got = resolve(&bed, other, &probe, "web");
            let tasks = resolve(&bed, other, &probe, "tasks.web");
            if got == BTreeSet::from([vip.clone()]) && tasks == BTreeSet::from([web.2.clone()]) {
                Ok(())
            } else {
                Err(format!("web -> {got:?}, tasks.web -> {tasks:?}"))
            }
        })
        .await;
        for name in ["web", "tasks.web"] {
            wait_until(&bed, "the task answering the container", WITHIN, || async {
                let (_, out) = exec(
                    &bed,
                    other,
                    &probe,
                    &["sh", "-c", &format!("nc -w 3 {name} 8080 </dev/null")],
                );
                if out.contains(&answer) {
                    Ok(())
                } else {
                    Err(format!("{name}: {out}"))
                }
            })
            .await;
        }
        // Its named port answers the SRV name, leading to the service's name and port.
        wait_until(&bed, "web's SRV record", WITHIN, || async {
            let (ok, out) = exec(
                &bed,
                other,
                &probe,
                &["nslookup", "-type=srv", "_http._tcp.web"],
            );
            if ok && out.contains("0 0 8080 web") {
                Ok(())
            } else {
                Err(out)
            }
        })
        .await;
        // The task reaches the container back by its name.
        wait_until(
            &bed,
            "the container named from the task",
            WITHIN,
            || async {
                let got = resolve(&bed, web.0, &web.1, "probe");
                let (ok, out) = exec(
                    &bed,
                    web.0,
                    &web.1,
                    &["ping", "-c", "1", "-W", "2", "probe"],
                );
                if got == BTreeSet::from([probe_ip.clone()]) && ok {
                    Ok(())
                } else {
                    Err(format!("probe -> {got:?}; ping: {out}"))
                }
            },
        )
        .await;

        // Removed: its name leaves the task's node, and the overlay its own node.
        bed.output(other, &["container", "rm", "-f", "probe"]);
        wait_until(&bed, "the container's name withdrawn", WITHIN, || async {
            let got = resolve(&bed, web.0, &web.1, "probe");
            if got.is_empty() {
                Ok(())
            } else {
                Err(format!("probe -> {got:?}"))
            }
        })
        .await;
        wait_until(
            &bed,
            "the overlay gone from the container's node",
            WITHIN,
            || async {
                let out = blocking(|| bed.bosun(other, &["network", "ls"]));
                if out
                    .1
                    .lines()
                    .any(|l| l.split_whitespace().nth(1) == Some("front"))
                {
                    Err(out.1)
                } else {
                    Ok(())
                }
            },
        )
        .await;

        bed.output(0, &["service", "rm", "web"]);
        wait_until(&bed, "the networks free", WITHIN, || async {
            match blocking(|| bed.bosun(2, &["network", "rm", "front", "closed"])) {
                (true, _, _) => Ok(()),
                (false, out, err) => Err(format!("{out}{err}")),
            }
        })
        .await;
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn udp_crosses_nodes_through_the_vip_and_by_task_address() {
    let (tag, dir) = {
        let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab_view().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        bed.output(0, &["network", "create", "--driver", "overlay", "front"]);
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "echo",
                "--replicas",
                "2",
                "--replicas-max-per-node",
                "1",
                "--constraint",
                "node.role==worker",
                "--network",
                "front",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "client",
                "--constraint",
                "node.role==manager",
                "--network",
                "front",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let echoes = wait_until(&bed, "two echo tasks with addresses", WITHIN, || async {
            let echoes = on_front(&bed, "echo");
            match echoes.as_slice() {
                [a, b] if !a.2.is_empty() && !b.2.is_empty() => Ok(echoes),
                _ => Err(format!("{echoes:?}")),
            }
        })
        .await;
        assert!(
            echoes.iter().all(|e| e.0 >= 3),
            "the echo tasks run on the workers: {echoes:?}"
        );
        let client = wait_until(&bed, "the client task", WITHIN, || async {
            match on_front(&bed, "client").as_slice() {
                [c] if !c.2.is_empty() => Ok(c.clone()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert!(client.0 < 3, "the client runs on a manager: {client:?}");
        let _servers: Vec<Owned> = echoes.iter().map(|e| udp_server(&bed, e)).collect();

        // By each task's address, across the VXLAN: the answer names the task.
        for e in &echoes {
            let want = format!("udp-{}-ping", e.2);
            wait_until(&bed, "a UDP answer by task address", WITHIN, || async {
                let got = udp_ask(&bed, &client, &e.2, 1)?;
                if got == [want.clone()] {
                    Ok(())
                } else {
                    Err(format!("{}: {got:?}, want {want}", e.2))
                }
            })
            .await;
        }

        // Through the virtual address: every datagram answered, by both tasks.
        let vip = vip_of(&bed, "echo", &echoes[0].2).await;
        let want: BTreeSet<String> = echoes.iter().map(|e| format!("udp-{}-ping", e.2)).collect();
        wait_until(
            &bed,
            "both tasks answering UDP through the VIP",
            WITHIN,
            || async {
                let got = udp_ask(&bed, &client, &vip, 20)?;
                let seen: BTreeSet<String> = got.iter().cloned().collect();
                if got.len() == 20 && seen == want {
                    Ok(())
                } else {
                    Err(format!(
                        "{vip}: {got:?}, want every datagram answered by {want:?}"
                    ))
                }
            },
        )
        .await;
        drop(_servers);

        bed.output(0, &["service", "rm", "echo", "client"]);
        wait_until(&bed, "the network free", WITHIN, || async {
            match blocking(|| bed.bosun(2, &["network", "rm", "front"])) {
                (true, _, _) => Ok(()),
                (false, out, err) => Err(format!("{out}{err}")),
            }
        })
        .await;
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
