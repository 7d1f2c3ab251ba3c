//! Images without a registry, end to end: 3 managers and 2 workers, each node with its own
//! `bosun agent` and node daemon in its own network namespace and data root, and no registry
//! anywhere. An image imported on one manager only is pinned to its manifest digest by
//! `service create`; every other node fetches the blobs it lacks from that manager over the
//! cluster's mutual TLS and runs the task. A pinned image no node holds leaves the tasks
//! rejected with the nodes asked. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::{bin, blocking};

use std::time::{Duration, Instant};

use testbed::Bed;

const IMAGE: &str = "busybox:peer";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(90);

/// The members running a container of service `name`.
fn running_on(bed: &Bed, name: &str) -> Vec<usize> {
    (0..bed.members.len())
        .filter(|i| {
            blocking(|| bed.containers(*i)).into_iter().any(|c| {
                c.labels
                    .get("com.docker.swarm.service.name")
                    .map(String::as_str)
                    == Some(name)
                    && c.state == api::agent::ContainerState::Running as i32
            })
        })
        .collect()
}

/// The manifest digest of `image` on member `i`, if its agent holds it.
fn manifest_digest(bed: &Bed, i: usize, image: &str) -> Option<String> {
    let (ok, out, _) = blocking(|| bed.bosun(i, &["image", "inspect", image]));
    if !ok {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let doc = doc
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or(doc);
    doc["Manifest"]["Digest"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_image_imported_on_one_node_only_runs_on_every_node_with_no_registry() {
    let (tag, dir) = {
        let mut bed = blocking(|| {
            let mut bed = Bed::new_in_lab(bin(), 5);
            bed.start_agents();
            bed.init();
            bed.join(1);
            bed.join(2);
            bed.join_worker(3);
            bed.join_worker(4);
            bed
        });
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let rootfs = blocking(|| bed.busybox_rootfs()).display().to_string();
        bed.output(0, &["image", "import", &rootfs, IMAGE]);
        let digest = manifest_digest(&bed, 0, IMAGE).expect("the image on member 0");
        for i in 1..5 {
            assert_eq!(
                manifest_digest(&bed, i, IMAGE),
                None,
                "member {i} has no copy"
            );
        }

        // One task on every node; the nodes without the image fetch it from member 0.
        let out = bed.output(
            0,
            &[
                "service", "create", "--name", "peer", "--mode", "global", "--detach", IMAGE,
                "sleep", "3600",
            ],
        );
        assert!(!out.trim().is_empty(), "{out}");
        let inspect = bed.output(0, &["service", "inspect", "peer"]);
        let pinned = format!("{IMAGE}@{digest}");
        assert!(inspect.contains(&pinned), "pinned digest: {inspect}");
        let deadline = Instant::now() + WITHIN;
        loop {
            let on = running_on(&bed, "peer");
            if on.len() == 5 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "running on {on:?} only\n{}",
                bed.logs()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        for i in 1..5 {
            assert_eq!(
                manifest_digest(&bed, i, &pinned).as_deref(),
                Some(digest.as_str()),
                "member {i} holds the same image"
            );
        }

        // A pinned image no node holds: its tasks are rejected, naming the nodes asked.
        let absent = format!("busybox:absent@sha256:{}", "0".repeat(64));
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "absent",
                "--replicas",
                "1",
                "--detach",
                &absent,
                "sleep",
                "3600",
            ],
        );
        let deadline = Instant::now() + WITHIN;
        loop {
            let ps = bed.output(0, &["service", "ps", "absent", "--no-trunc"]);
            if ps.contains("not found on any registry or node (asked: ") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "never rejected: {ps}\n{}",
                bed.logs()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        bed.output(0, &["service", "rm", "peer", "absent"]);
        let deadline = Instant::now() + WITHIN;
        while !running_on(&bed, "peer").is_empty() {
            assert!(Instant::now() < deadline, "containers left after rm");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
