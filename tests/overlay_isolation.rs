//! Two cluster overlays isolated from each other, end to end on the bed (3 managers and 2
//! workers, each node with its own `bosun agent` and node daemon in its own network namespace
//! and data root, all on the lab's underlay; FORWARD policy DROP on every node): service `a`
//! on overlay `front` and service `b` on overlay `back`, a task of each on both workers, and
//! `both` on a manager attached to the two. `both` reaches every task of `a` and `b`, and the
//! two tasks of each service reach each other (so the paths exist and the sources can ping); a task of `a` reaches neither task of `b` — the one on its own node, across
//! that node's two bridges, nor the one on the other node, across the VXLAN — and `b` reaches
//! no task of `a`; neither resolves the other's service name. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{Bed, bin, blocking};

use std::time::Duration;

const IMAGE: &str = "busybox:ovisol";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);

/// A running task: (member, container id, address on the network asked for).
type Running = (usize, String, String);

/// The running containers of service `name` with their address on `network`.
fn on(bed: &Bed, name: &str, network: &str) -> Vec<Running> {
    bed.running_containers(name)
        .into_iter()
        .map(|c| {
            let ip = c.addresses.get(network).cloned().unwrap_or_default();
            (c.member, c.id, ip)
        })
        .collect()
}

/// Waits for `count` running tasks of `name`, each with an address on `network`.
async fn tasks(bed: &Bed, name: &str, network: &str, count: usize) -> Vec<Running> {
    wait_until(
        bed,
        "the service's tasks with addresses",
        WITHIN,
        || async {
            let running = on(bed, name, network);
            if running.len() == count && running.iter().all(|r| !r.2.is_empty()) {
                Ok(running)
            } else {
                Err(format!("{name} on {network}: {running:?}"))
            }
        },
    )
    .await
}

/// Whether task `from` gets an answer to one ping of `to` within 2 s.
fn pings(bed: &Bed, from: &Running, to: &str) -> bool {
    let args = [
        "container",
        "exec",
        &from.1,
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        to,
    ];
    blocking(|| bed.bosun(from.0, &args)).0
}

/// Whether `name` resolves to any address from task `from`.
fn resolves(bed: &Bed, from: &Running, name: &str) -> (bool, String) {
    let args = ["container", "exec", &from.1, "nslookup", name];
    let (_, out, err) = blocking(|| bed.bosun(from.0, &args));
    let answered = out
        .split_once("Name:")
        .is_some_and(|(_, rest)| rest.contains("Address"));
    (answered, format!("{out}{err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_overlays_are_isolated_from_each_other_on_one_node_and_across_nodes() {
    let (tag, dir) = {
        let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab_view().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        for network in ["front", "back"] {
            bed.output(0, &["network", "create", "--driver", "overlay", network]);
        }
        for (name, network) in [("a", "front"), ("b", "back")] {
            bed.output(
                0,
                &[
                    "service",
                    "create",
                    "--name",
                    name,
                    "--replicas",
                    "2",
                    "--replicas-max-per-node",
                    "1",
                    "--constraint",
                    "node.role==worker",
                    "--network",
                    network,
                    IMAGE,
                    "sleep",
                    "3600",
                ],
            );
        }
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "both",
                "--constraint",
                "node.role==manager",
                "--network",
                "front",
                "--network",
                "back",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let a = tasks(&bed, "a", "front", 2).await;
        let b = tasks(&bed, "b", "back", 2).await;
        let both = tasks(&bed, "both", "front", 1).await.remove(0);
        assert!(
            a.iter().chain(&b).all(|t| t.0 >= 3) && both.0 < 3,
            "a and b on the workers, both on a manager: {a:?} {b:?} {both:?}"
        );

        // The paths exist: the task on both overlays reaches every task of each.
        for target in a.iter().chain(&b) {
            wait_until(&bed, "both reaching a task", WITHIN, || async {
                if pings(&bed, &both, &target.2) {
                    Ok(())
                } else {
                    Err(format!("both cannot ping {target:?}"))
                }
            })
            .await;
        }

        // Within each overlay, its two tasks reach each other across nodes (so the sources
        // below can ping at all).
        for group in [&a, &b] {
            let (first, second) = (&group[0], &group[1]);
            wait_until(&bed, "a task reaching its sibling", WITHIN, || async {
                if pings(&bed, first, &second.2) {
                    Ok(())
                } else {
                    Err(format!("{first:?} cannot ping {second:?}"))
                }
            })
            .await;
        }

        // Across the overlays, nothing: on the same node and across nodes, both ways.
        for (from, others) in [(&a, &b), (&b, &a)] {
            for source in from {
                for target in others {
                    let where_ = if source.0 == target.0 {
                        "on its own node"
                    } else {
                        "on another node"
                    };
                    assert!(
                        !pings(&bed, source, &target.2),
                        "{source:?} reached {target:?} {where_} across overlays"
                    );
                }
            }
        }
        for (source, other) in [(&a[0], "b"), (&b[0], "a")] {
            let (answered, out) = resolves(&bed, source, other);
            assert!(!answered, "{source:?} resolved {other}: {out}");
        }
        // Within an overlay, the tasks reach each other by name.
        let (answered, out) = resolves(&bed, &a[0], "a");
        assert!(answered, "a does not resolve itself: {out}");

        bed.output(0, &["service", "rm", "a", "b", "both"]);
        for network in ["front", "back"] {
            wait_until(&bed, "the network free", WITHIN, || async {
                match blocking(|| bed.bosun(2, &["network", "rm", network])) {
                    (true, _, _) => Ok(()),
                    (false, out, err) => Err(format!("{out}{err}")),
                }
            })
            .await;
        }
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
