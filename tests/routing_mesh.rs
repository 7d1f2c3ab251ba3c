//! The routing mesh, end to end: 3 managers and 2 workers, each node with its own `bosun
//! agent` and node daemon in its own network namespace and data root, all on the lab's
//! underlay, with Docker's `FORWARD` drop policy on every node. `web` (two tasks, on the workers only) publishes port 8080 in ingress mode
//! (shown in `service inspect`'s `Endpoint.Ports`); from every node's namespace, including
//! the managers that run no task of it, connections to that node's own underlay address at
//! 8080 reach the service, and over many connections both tasks answer. Another service
//! asking for 8080 is refused, naming `web`; a port published without a number gets one
//! from 30000-32767. Scaling web to 0 leaves the port without backends on every node; a
//! worker leaving the cluster loses the mesh's table at once; removing the services removes
//! the table (and the ingress overlay) from every other node.
//! Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::lab::in_netns;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:mesh";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
/// The web service's command: a TCP server on port 80 answering each connection with its
/// container's host name (busybox `nc`, as tests/overlay_vip.rs).
const SERVE: &str = "printf '#!/bin/sh\\necho from-%s\\n' \"$(hostname)\" > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 80 -e /srv.sh";
/// Connections made from each node to tell that every task answers.
const CONNECTIONS: usize = 30;

/// Each node's namespace and underlay address.
type Nodes = Vec<(PathBuf, Ipv4Addr)>;

/// One connection from the namespace at `netns` to `addr`:`port`: the line it answered.
fn answer(netns: &Path, addr: Ipv4Addr, port: u16) -> Result<String, String> {
    in_netns(netns, || {
        let to = SocketAddr::from((addr, port));
        let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(3))
            .map_err(|e| format!("connect {to}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .map_err(|e| e.to_string())?;
        let mut text = String::new();
        stream
            .read_to_string(&mut text)
            .map_err(|e| format!("read from {to}: {e}"))?;
        Ok(text.trim().to_owned())
    })
}

/// The nftables ruleset in the namespace at `netns` (the node's host namespace).
fn ruleset(netns: &Path) -> Result<String, String> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["nft", "list", "ruleset"])
        .output()
        .map_err(|e| format!("nsenter: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Gives the namespace at `netns` what iptables-nft (and so Docker) leaves on a host: an `ip
/// filter FORWARD` chain with policy drop.
fn forward_drop(netns: &Path) {
    use std::io::Write;
    let mut nft = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    nft.stdin
        .take()
        .unwrap()
        .write_all(b"add table ip filter\nadd chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }\n")
        .unwrap();
    assert!(nft.wait().unwrap().success());
}

/// The mesh's table in `rules` (the one whose name ends in `-ingress`), if there is one.
fn mesh_table(rules: &str) -> Option<String> {
    let start = rules.find("table ip ")?;
    let rest = &rules[start..];
    let mut tables = rest.split("\ntable ");
    tables
        .find(|t| {
            t.trim_start_matches("table ")
                .split_whitespace()
                .nth(1)
                .is_some_and(|name| name.ends_with("-ingress"))
        })
        .map(str::to_owned)
}

/// The backends of published port `port` (tcp) in the mesh's table `table`.
fn backends(table: &str, port: u16) -> BTreeSet<String> {
    let map = format!("map be-tcp-{port} {{");
    let Some((_, rest)) = table.split_once(&map) else {
        return BTreeSet::new();
    };
    let body = rest.split_once("\n\t}").map_or(rest, |(b, _)| b);
    let elements = body.split_once("elements").map_or("", |(_, e)| e);
    elements
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}')
        .filter(|t| t.starts_with("10."))
        .map(str::to_owned)
        .collect()
}

/// Waits until every node's mesh table publishes tcp port `port` with backends `want`.
async fn backends_everywhere(bed: &Bed, nodes: &Nodes, port: u16, want: &BTreeSet<String>) {
    for (i, (netns, _)) in nodes.iter().enumerate() {
        wait_until(bed, "the mesh's backends on every node", WITHIN, || async {
            let rules = ruleset(netns)?;
            let table = mesh_table(&rules).ok_or_else(|| format!("node {i}: no mesh table"))?;
            if !table.contains(&format!("pub-tcp-{port}")) {
                return Err(format!("node {i}: port {port} not published\n{table}"));
            }
            let got = backends(&table, port);
            if got == *want {
                Ok(())
            } else {
                Err(format!("node {i}: {got:?}, want {want:?}\n{table}"))
            }
        })
        .await;
    }
}

/// The `Endpoint.Ports` of service `name` as `service inspect` shows them.
fn ports_of(bed: &Bed, name: &str) -> Result<serde_json::Value, String> {
    let (ok, out, err) = blocking(|| bed.bosun(1, &["service", "inspect", name]));
    if !ok {
        return Err(format!("{out}{err}"));
    }
    let doc: serde_json::Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    Ok(doc[0]["Endpoint"]["Ports"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_published_port_answers_on_every_node_and_reaches_every_task() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let nodes: Nodes = (0..5)
            .map(|i| (bed.lab().netns(i), bed.lab().addr(i)))
            .collect();
        // Docker's forward policy on every node must not stop the mesh.
        for (netns, _) in &nodes {
            forward_drop(netns);
        }

        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "2",
                "--replicas-max-per-node",
                "1",
                "--constraint",
                "node.role==worker",
                "--publish",
                "published=8080,target=80",
                IMAGE,
                "sh",
                "-c",
                SERVE,
            ],
        );
        let webs = wait_until(&bed, "two web tasks", WITHIN, || async {
            let webs = bed.running_containers("web");
            match webs.as_slice() {
                [a, b]
                    if a.addresses.contains_key("ingress")
                        && b.addresses.contains_key("ingress") =>
                {
                    Ok(webs)
                }
                _ => Err(format!("{webs:?}")),
            }
        })
        .await;
        let members: BTreeSet<usize> = webs.iter().map(|w| w.member).collect();
        assert_eq!(members, BTreeSet::from([3, 4]), "on the workers: {webs:?}");
        let mut hostnames = BTreeSet::new();
        for w in &webs {
            let (ok, out, err) =
                blocking(|| bed.bosun(w.member, &["container", "exec", &w.id, "hostname"]));
            assert!(ok, "{out}{err}");
            hostnames.insert(format!("from-{}", out.trim()));
        }

        // Docker's shape in `service inspect`, and the ingress network listed.
        let ports = ports_of(&bed, "web").unwrap();
        assert_eq!(
            ports,
            serde_json::json!([{
                "Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"
            }])
        );
        let networks = bed.output(2, &["network", "ls"]);
        assert!(
            networks
                .lines()
                .any(|l| l.contains("ingress") && l.contains("overlay") && l.contains("swarm")),
            "{networks}"
        );

        // Every node answers at its own address, the managers running no task included, and
        // both tasks answer through each.
        let addresses: BTreeSet<String> = webs
            .iter()
            .map(|w| w.addresses["ingress"].clone())
            .collect();
        backends_everywhere(&bed, &nodes, 8080, &addresses).await;
        for (i, (netns, addr)) in nodes.iter().enumerate() {
            wait_until(
                &bed,
                "every task answering through the node",
                WITHIN,
                || async {
                    let mut seen = BTreeSet::new();
                    for _ in 0..CONNECTIONS {
                        let line = blocking(|| answer(netns, *addr, 8080))
                            .map_err(|e| format!("node {i}: {e}"))?;
                        if !line.starts_with("from-") {
                            return Err(format!("node {i}: answered {line:?}"));
                        }
                        seen.insert(line);
                    }
                    if seen == hostnames {
                        Ok(())
                    } else {
                        Err(format!("node {i}: {seen:?}, want {hostnames:?}"))
                    }
                },
            )
            .await;
        }

        // The port belongs to web: another service asking for it is refused, naming web.
        let (ok, out, err) = blocking(|| {
            bed.bosun(
                1,
                &[
                    "service",
                    "create",
                    "--name",
                    "other",
                    "--publish",
                    "8080:80",
                    IMAGE,
                    "sleep",
                    "3600",
                ],
            )
        });
        assert!(!ok, "{out}{err}");
        assert!(
            err.contains("port 8080/tcp is already published by service web"),
            "{err}"
        );
        // A port published without a number gets one of 30000-32767.
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "dyn",
                "--replicas",
                "0",
                "--publish",
                "target=80",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let dynamic = ports_of(&bed, "dyn").unwrap();
        let port = dynamic[0]["PublishedPort"].as_u64().unwrap();
        assert!((30000..=32767).contains(&port), "{dynamic}");
        assert_eq!(dynamic[0]["PublishMode"], "ingress", "{dynamic}");

        // Scaled to 0: the port stays web's, with no backend on any node.
        bed.output(0, &["service", "scale", "web=0"]);
        backends_everywhere(&bed, &nodes, 8080, &BTreeSet::new()).await;

        // A node leaving the cluster withdraws the mesh: its table goes at once.
        bed.output(4, &["cluster", "leave"]);
        let rules = ruleset(&nodes[4].0).unwrap();
        assert!(mesh_table(&rules).is_none(), "{rules}");

        // Removed: nothing of the mesh is left on any node.
        bed.output(0, &["service", "rm", "web", "dyn"]);
        for (i, (netns, _)) in nodes.iter().enumerate().take(4) {
            wait_until(&bed, "the mesh removed from every node", WITHIN, || async {
                let rules = ruleset(netns)?;
                match mesh_table(&rules) {
                    None => Ok(()),
                    Some(table) => Err(format!("node {i}: {table}")),
                }
            })
            .await;
            wait_until(&bed, "the ingress overlay removed", WITHIN, || async {
                let (ok, out, err) = blocking(|| bed.bosun(i, &["network", "ls"]));
                let local: Vec<&str> = out
                    .lines()
                    .filter(|l| l.contains("ingress") && l.contains("local"))
                    .collect();
                if ok && local.is_empty() {
                    Ok(())
                } else {
                    Err(format!("node {i}: {out}{err}"))
                }
            })
            .await;
        }
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
