//! Service virtual addresses on a cluster overlay, end to end: 3 managers and 2 workers, each
//! node with its own `bosun agent` and node daemon in its own network namespace and data root,
//! all on the lab's underlay. `web` (three tasks with a healthcheck, one per node) gets one
//! virtual address on the overlay (shown by `service inspect`); a global `client` runs on
//! every node. From a client's container, `web` resolves to the virtual address alone and
//! `tasks.web` to the tasks; 60 connections to `web` are answered by every web task. A
//! `dnsrr` service's name answers its tasks' addresses and it has no virtual address.
//! Scaling web down, and a task failing its healthcheck, take the task out of the backends
//! programmed in every client's namespace on every node; removing the service removes its
//! chain from all of them. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:ovvip";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
/// The web service's command: a TCP server on port 8080 answering each connection with its
/// container's host name (busybox `nc`, as tests/overlay_services.rs).
const SERVE: &str = "printf '#!/bin/sh\\necho from-%s\\n' \"$(hostname)\" > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 8080 -e /srv.sh";
/// Sixty connections to `web`, one answer line each.
const SIXTY: &str = "for i in $(seq 60); do nc -w 3 web 8080 </dev/null; done";

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

/// `bosun container exec` of `args` in container `id` on member `i`: (success, output).
fn exec(bed: &Bed, i: usize, id: &str, args: &[&str]) -> (bool, String) {
    let mut words = vec!["container", "exec", id];
    words.extend_from_slice(args);
    let (ok, out, err) = blocking(|| bed.bosun(i, &words));
    (ok, format!("{out}{err}"))
}

/// The addresses `name` resolves to from container `c` (busybox nslookup).
fn resolve(bed: &Bed, c: &Running, name: &str) -> Result<BTreeSet<String>, String> {
    let (ok, out) = exec(bed, c.0, &c.1, &["nslookup", name]);
    if !ok {
        return Err(format!("nslookup {name}: {out}"));
    }
    let answers = out.split_once("Name:").map_or("", |(_, rest)| rest);
    Ok(answers
        .lines()
        .filter(|l| l.trim_start().starts_with("Address"))
        .filter_map(|l| l.split_once(':'))
        .map(|(_, a)| a.split_whitespace().next().unwrap_or_default().to_owned())
        .filter(|a| a.starts_with("10.32."))
        .collect())
}

/// The nftables ruleset in the network namespace of container `c` (read with `nft` through
/// `nsenter`, from outside the container).
fn ruleset(bed: &Bed, c: &Running) -> Result<String, String> {
    let (ok, out) = exec_inspect(bed, c);
    if !ok {
        return Err(out);
    }
    let doc: serde_json::Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    let pid = doc[0]["State"]["Pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("no pid: {out}"))?;
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "nft", "list", "ruleset"])
        .output()
        .map_err(|e| format!("nsenter: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn exec_inspect(bed: &Bed, c: &Running) -> (bool, String) {
    let (ok, out, err) = blocking(|| bed.bosun(c.0, &["container", "inspect", &c.1]));
    (ok, format!("{out}{err}"))
}

/// The chain of the service at `vip` (the name the engine gives it).
fn chain_of(vip: &str) -> String {
    let ip: std::net::Ipv4Addr = vip.parse().unwrap();
    format!("svc-{:08x}", u32::from(ip))
}

/// The backends programmed for the service at `vip` in `rules`: the addresses of its backend
/// map's elements.
fn backends(rules: &str, vip: &str) -> BTreeSet<String> {
    let ip: std::net::Ipv4Addr = vip.parse().unwrap();
    let map = format!("map be-{:08x} {{", u32::from(ip));
    let Some((_, rest)) = rules.split_once(&map) else {
        return BTreeSet::new();
    };
    let body = rest.split_once("\n\t}").map_or(rest, |(b, _)| b);
    let elements = body.split_once("elements").map_or("", |(_, e)| e);
    elements
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}')
        .filter(|t| t.starts_with("10.32."))
        .map(str::to_owned)
        .collect()
}

/// Waits until every client's namespace holds `want` as the backends of `vip`.
async fn backends_everywhere(bed: &Bed, clients: &[Running], vip: &str, want: &BTreeSet<String>) {
    for c in clients {
        wait_until(
            bed,
            "the backends programmed on every node",
            WITHIN,
            || async {
                let rules = ruleset(bed, c)?;
                let got = backends(&rules, vip);
                if got == *want {
                    Ok(())
                } else {
                    Err(format!("node {}: {got:?}, want {want:?}\n{rules}", c.0))
                }
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_vip_spreads_connections_over_its_running_healthy_tasks() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        bed.output(0, &["network", "create", "--driver", "overlay", "front"]);

        // Three web tasks on three nodes, healthy while /sick does not exist.
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "3",
                "--replicas-max-per-node",
                "1",
                "--health-cmd",
                "test ! -e /sick",
                "--health-interval",
                "1s",
                "--health-retries",
                "1",
                "--network",
                "name=front,alias=www",
                IMAGE,
                "sh",
                "-c",
                SERVE,
            ],
        );
        bed.output(
            1,
            &[
                "service",
                "create",
                "--name",
                "client",
                "--mode",
                "global",
                "--network",
                "front",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let webs = wait_until(&bed, "three web tasks with addresses", WITHIN, || async {
            let webs = on_front(&bed, "web");
            match webs.as_slice() {
                [_, _, _] if webs.iter().all(|w| !w.2.is_empty()) => Ok(webs),
                _ => Err(format!("{webs:?}")),
            }
        })
        .await;
        let members: BTreeSet<usize> = webs.iter().map(|w| w.0).collect();
        assert_eq!(members.len(), 3, "one web task per node: {webs:?}");
        let clients = wait_until(&bed, "a client on every node", WITHIN, || async {
            let clients = on_front(&bed, "client");
            if clients.len() == 5 && clients.iter().all(|c| !c.2.is_empty()) {
                Ok(clients)
            } else {
                Err(format!("{clients:?}"))
            }
        })
        .await;

        // The leader gave web one virtual address on front, apart from every task's.
        let vip = wait_until(&bed, "web's virtual address", WITHIN, || async {
            let out = blocking(|| bed.bosun(2, &["service", "inspect", "web"]));
            let doc: serde_json::Value = serde_json::from_str(&out.1).map_err(|e| e.to_string())?;
            let vips = doc[0]["Endpoint"]["VirtualIPs"].clone();
            match vips.as_array().map(Vec::as_slice) {
                Some([one]) => Ok(one["Addr"].as_str().unwrap_or_default().to_owned()),
                _ => Err(format!("{doc}")),
            }
        })
        .await;
        let (vip, prefix) = vip.split_once('/').unwrap();
        assert_eq!(prefix, "20");
        let vip = vip.to_owned();
        let tasks: BTreeSet<String> = webs.iter().map(|w| w.2.clone()).collect();
        assert!(!tasks.contains(&vip), "{vip} is a task's: {tasks:?}");
        assert!(clients.iter().all(|c| c.2 != vip), "{vip} is a client's");

        // Names: the service and its alias answer the VIP alone, tasks.web the tasks.
        let client = clients.iter().find(|c| c.0 == 0).unwrap().clone();
        for (name, want) in [
            ("web", BTreeSet::from([vip.clone()])),
            ("www", BTreeSet::from([vip.clone()])),
            ("tasks.web", tasks.clone()),
        ] {
            wait_until(&bed, "the names answered", WITHIN, || async {
                let got = resolve(&bed, &client, name)?;
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{name} -> {got:?}, want {want:?}"))
                }
            })
            .await;
        }

        // Sixty connections to the name are answered by every web task.
        let mut hostnames = BTreeSet::new();
        for w in &webs {
            let (ok, name) = exec(&bed, w.0, &w.1, &["hostname"]);
            assert!(ok, "{name}");
            hostnames.insert(format!("from-{}", name.trim()));
        }
        backends_everywhere(&bed, &clients, &vip, &tasks).await;
        wait_until(
            &bed,
            "every web task answering through the VIP",
            WITHIN,
            || async {
                let (_, out) = exec(&bed, client.0, &client.1, &["sh", "-c", SIXTY]);
                let answers: Vec<&str> = out.lines().filter(|l| l.starts_with("from-")).collect();
                let seen: BTreeSet<String> = answers.iter().map(|a| a.trim().to_owned()).collect();
                if answers.len() == 60 && seen == hostnames {
                    Ok(())
                } else {
                    Err(format!(
                        "{} answers from {seen:?}, want {hostnames:?}",
                        answers.len()
                    ))
                }
            },
        )
        .await;

        // dnsrr: the name answers the tasks' addresses, and there is no virtual address.
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "rr",
                "--replicas",
                "2",
                "--endpoint-mode",
                "dnsrr",
                "--network",
                "front",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let rr = wait_until(&bed, "two rr tasks", WITHIN, || async {
            let rr = on_front(&bed, "rr");
            match rr.as_slice() {
                [a, b] if !a.2.is_empty() && !b.2.is_empty() => Ok(rr),
                _ => Err(format!("{rr:?}")),
            }
        })
        .await;
        let rr_tasks: BTreeSet<String> = rr.iter().map(|t| t.2.clone()).collect();
        wait_until(&bed, "rr resolved to its tasks", WITHIN, || async {
            let got = resolve(&bed, &client, "rr")?;
            if got == rr_tasks {
                Ok(())
            } else {
                Err(format!("rr -> {got:?}, want {rr_tasks:?}"))
            }
        })
        .await;
        let doc: serde_json::Value =
            serde_json::from_str(&bed.output(1, &["service", "inspect", "rr"])).unwrap();
        assert!(doc[0]["Endpoint"].is_null(), "dnsrr has no VIP: {doc}");
        assert_eq!(doc[0]["service"]["spec"]["endpoint_mode"], "dnsrr", "{doc}");

        // Scaling down: the stopped task leaves the backends on every node.
        bed.output(0, &["service", "scale", "web=2"]);
        let left = wait_until(&bed, "two web tasks left", WITHIN, || async {
            let webs = on_front(&bed, "web");
            match webs.as_slice() {
                [_, _] => Ok(webs),
                _ => Err(format!("{webs:?}")),
            }
        })
        .await;
        let two: BTreeSet<String> = left.iter().map(|w| w.2.clone()).collect();
        backends_everywhere(&bed, &clients, &vip, &two).await;

        // A task failing its healthcheck leaves them too (its replacement comes later with a
        // new address; only the sick one's absence is awaited).
        let sick = left[0].clone();
        let (ok, out) = exec(&bed, sick.0, &sick.1, &["touch", "/sick"]);
        assert!(ok, "{out}");
        for c in &clients {
            wait_until(
                &bed,
                "the unhealthy task out of the backends",
                WITHIN,
                || async {
                    let got = backends(&ruleset(&bed, c)?, &vip);
                    if got.contains(&sick.2) {
                        Err(format!("node {}: {got:?} still has {}", c.0, sick.2))
                    } else {
                        Ok(())
                    }
                },
            )
            .await;
        }

        // Removing the service removes its chain from every namespace on every node.
        bed.output(0, &["service", "rm", "web"]);
        let chain = chain_of(&vip);
        for c in &clients {
            wait_until(&bed, "web's chain removed", WITHIN, || async {
                let rules = ruleset(&bed, c)?;
                if rules.contains(&chain) {
                    Err(format!("node {}: {rules}", c.0))
                } else {
                    Ok(())
                }
            })
            .await;
        }
        wait_until(&bed, "web no longer resolved", WITHIN, || async {
            match resolve(&bed, &client, "web") {
                Ok(got) if got.is_empty() => Ok(()),
                Ok(got) => Err(format!("web -> {got:?}")),
                Err(_) => Ok(()),
            }
        })
        .await;

        bed.output(0, &["service", "rm", "rr", "client"]);
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
