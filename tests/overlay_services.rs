//! Services on a cluster overlay network, end to end: 3 managers and 2 workers, each node with
//! its own `bosun agent` and node daemon in its own network namespace and data root, all on
//! the lab's underlay. An overlay created on a manager gets its VXLAN identifier and subnet
//! from the managers; two replicas of `web` (on the workers) and a `client` (on a manager)
//! join it in `dnsrr` endpoint mode (VIPs are tests/overlay_vip.rs's); from the client's
//! container, each web task answers by address and by the service's name through the
//! embedded DNS (`web` and `tasks.web` give the running tasks);
//! scaling web down withdraws the stopped task from the other nodes, and so does losing the
//! node of the last one (its replacement takes its place); the network cannot be
//! removed while a service uses it, and once the services and the network are gone no node
//! keeps a VXLAN link. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:ovsvc";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
/// The web service's command: a TCP server on port 8080 answering each connection with its
/// container's host name (busybox `nc`, as tests/network_e2e.rs; the static busybox's `wget`
/// crashes).
const SERVE: &str = "printf '#!/bin/sh\\necho from-%s\\n' \"$(hostname)\" > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 8080 -e /srv.sh";

/// The running containers of service `name`: (member, container id, address on `network`).
fn on_network(bed: &Bed, name: &str, network: &str) -> Vec<(usize, String, String)> {
    bed.running_containers(name)
        .into_iter()
        .map(|c| {
            let ip = c.addresses.get(network).cloned().unwrap_or_default();
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

/// The VXLAN links of bosun networks in member `i`'s namespace.
fn vxlan_links(bed: &mut Bed, i: usize) -> Vec<String> {
    let mut command = Command::new("ip");
    command.args(["-o", "link", "show", "type", "vxlan"]);
    let out = blocking(|| bed.lab().output(i, command));
    assert!(out.status.success(), "ip link: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        .filter(|name| name.starts_with("bsn-"))
        .collect()
}

/// The addresses `name` resolves to from the client's container (busybox nslookup).
fn resolve(
    bed: &Bed,
    client: &(usize, String, String),
    name: &str,
) -> Result<BTreeSet<String>, String> {
    let (ok, out) = exec(bed, client.0, &client.1, &["nslookup", name]);
    if !ok {
        return Err(format!("nslookup {name}: {out}"));
    }
    // The answer section follows the "Name:" line; the server's own address comes before it.
    let answers = out.split_once("Name:").map_or("", |(_, rest)| rest);
    Ok(answers
        .lines()
        .filter(|l| l.trim_start().starts_with("Address"))
        .filter_map(|l| l.split_once(':'))
        .map(|(_, a)| a.split_whitespace().next().unwrap_or_default().to_owned())
        .filter(|a| a.starts_with("10.32."))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn services_on_an_overlay_reach_each_other_across_nodes_by_address_and_name() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();

        // The managers allocate the identifier and the subnet; every manager shows it.
        let id = bed.output(0, &["network", "create", "--driver", "overlay", "front"]);
        assert_eq!(id.trim().len(), 24, "{id}");
        let listed = bed.output(1, &["network", "ls"]);
        let row = listed
            .lines()
            .find(|l| l.contains(" front "))
            .unwrap_or_else(|| panic!("front not listed: {listed}"));
        assert!(row.contains("overlay") && row.contains("swarm"), "{row}");
        let doc: serde_json::Value =
            serde_json::from_str(&bed.output(2, &["network", "inspect", "front"])).unwrap();
        assert_eq!(
            doc[0]["IPAM"]["Config"][0]["Subnet"], "10.32.0.0/20",
            "{doc}"
        );
        assert_eq!(
            doc[0]["Options"]["com.docker.network.driver.overlay.vxlanid_list"],
            "4096"
        );
        let (ok, _, err) =
            blocking(|| bed.bosun(3, &["network", "create", "--driver", "overlay", "back"]));
        assert!(!ok && err.contains("cluster worker"), "{err}");

        // Two web tasks on the workers, a client on a manager.
        let web_args = [
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
            "--network",
            "front",
            "--endpoint-mode",
            "dnsrr",
            IMAGE,
            "sh",
            "-c",
            SERVE,
        ];
        bed.output(0, &web_args);
        bed.output(
            1,
            &[
                "service",
                "create",
                "--name",
                "client",
                "--constraint",
                "node.role==manager",
                "--network",
                "name=front,alias=probe",
                "--endpoint-mode",
                "dnsrr",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let webs = wait_until(&bed, "two web tasks with addresses", WITHIN, || async {
            let webs = on_network(&bed, "web", "front");
            match webs.as_slice() {
                [a, b] if !a.2.is_empty() && !b.2.is_empty() => Ok(webs),
                _ => Err(format!("{webs:?}")),
            }
        })
        .await;
        let client = wait_until(&bed, "the client task", WITHIN, || async {
            match on_network(&bed, "client", "front").as_slice() {
                [c] if !c.2.is_empty() => Ok(c.clone()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert!(client.0 < 3, "the client runs on a manager: {client:?}");
        let members: BTreeSet<usize> = webs.iter().map(|w| w.0).collect();
        assert_eq!(members, [3, 4].into(), "{webs:?}");
        let mut addresses: Vec<&str> = webs.iter().map(|w| w.2.as_str()).collect();
        addresses.push(&client.2);
        assert!(
            addresses.iter().all(|a| a.starts_with("10.32.0.")),
            "{addresses:?}"
        );
        assert_eq!(
            addresses.iter().collect::<BTreeSet<_>>().len(),
            3,
            "one address each: {addresses:?}"
        );

        // By address: each web task answers with its own host name, across nodes.
        for web in &webs {
            let (ok, name) = exec(&bed, web.0, &web.1, &["hostname"]);
            assert!(ok, "{name}");
            let ask = format!("nc -w 3 {} 8080 </dev/null", web.2);
            let answer = wait_until(&bed, "a web task reached by address", WITHIN, || async {
                match exec(&bed, client.0, &client.1, &["sh", "-c", &ask]) {
                    (true, body) if !body.trim().is_empty() => Ok(body),
                    (_, out) => Err(out),
                }
            })
            .await;
            assert_eq!(answer.trim(), format!("from-{}", name.trim()));
            let (ok, out) = exec(
                &bed,
                client.0,
                &client.1,
                &["ping", "-c", "1", "-W", "3", &web.2],
            );
            assert!(ok, "ping {}: {out}", web.2);
        }

        // By name: the embedded DNS gives every running task for the service's name and for
        // tasks.<service>; the service's alias works too, from the web side.
        let both: BTreeSet<String> = webs.iter().map(|w| w.2.clone()).collect();
        for name in ["web", "tasks.web"] {
            wait_until(
                &bed,
                "the service's name resolved to its tasks",
                WITHIN,
                || async {
                    let got = resolve(&bed, &client, name)?;
                    if got == both {
                        Ok(())
                    } else {
                        Err(format!("{name} -> {got:?}, expected {both:?}"))
                    }
                },
            )
            .await;
        }
        let (ok, out) = exec(
            &bed,
            client.0,
            &client.1,
            &["sh", "-c", "nc -w 3 web 8080 </dev/null"],
        );
        assert!(ok && out.starts_with("from-"), "web by name: {out}");
        let (ok, out) = exec(
            &bed,
            client.0,
            &client.1,
            &["ping", "-c", "1", "-W", "3", "tasks.web"],
        );
        assert!(ok, "ping tasks.web: {out}");
        let probe = resolve(&bed, &webs[0], "probe").unwrap();
        assert_eq!(probe, [client.2.clone()].into(), "the client's alias");

        // Scaling web down withdraws the stopped task's address from the other nodes.
        bed.output(0, &["service", "scale", "web=1"]);
        let left = wait_until(&bed, "one web task left", WITHIN, || async {
            match on_network(&bed, "web", "front").as_slice() {
                [w] => Ok(w.clone()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        let gone = webs.iter().find(|w| w.2 != left.2).unwrap().2.clone();
        wait_until(&bed, "the stopped task withdrawn", WITHIN, || async {
            let got = resolve(&bed, &client, "tasks.web")?;
            if got == [left.2.clone()].into() {
                Ok(())
            } else {
                Err(format!("tasks.web -> {got:?}"))
            }
        })
        .await;
        let (reached, out) = exec(
            &bed,
            client.0,
            &client.1,
            &["ping", "-c", "1", "-W", "2", &gone],
        );
        assert!(!reached, "the stopped task's address still answers: {out}");

        // The last web task's node goes down: its address is withdrawn from the other nodes
        // and the replacement on the other worker takes its place in the names.
        blocking(|| bed.lab().set_link(left.0, false));
        let replaced = wait_until(
            &bed,
            "the lost node's task replaced in the names",
            WITHIN,
            || async {
                let got = resolve(&bed, &client, "tasks.web")?;
                match got.iter().collect::<Vec<_>>().as_slice() {
                    [one] if **one != left.2 => Ok((*one).clone()),
                    _ => Err(format!("tasks.web -> {got:?} (lost: {})", left.2)),
                }
            },
        )
        .await;
        let ask = format!("nc -w 3 {replaced} 8080 </dev/null");
        wait_until(&bed, "the replacement answers", WITHIN, || async {
            match exec(&bed, client.0, &client.1, &["sh", "-c", &ask]) {
                (true, out) if out.starts_with("from-") => Ok(()),
                (_, out) => Err(out),
            }
        })
        .await;
        blocking(|| bed.lab().set_link(left.0, true));

        // Removal is refused while services use the network, then works.
        let (ok, _, err) = blocking(|| bed.bosun(1, &["network", "rm", "front"]));
        assert!(!ok, "removed while in use");
        assert!(
            err.contains("in use by services client, web"),
            "the services are named: {err}"
        );
        bed.output(0, &["service", "rm", "web", "client"]);
        bed.output(2, &["network", "rm", "front"]);
        let listed = bed.output(0, &["network", "ls"]);
        assert!(!listed.contains(" front "), "{listed}");
        for i in 0..bed.members.len() {
            let deadline = std::time::Instant::now() + WITHIN;
            loop {
                let links = vxlan_links(&mut bed, i);
                if links.is_empty() {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "node {i} keeps {links:?}\n{}",
                    bed.logs()
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
