//! A rolling update behind a service VIP, end to end: 3 managers and 2 workers, each node with
//! its own `bosun agent` and node daemon in its own network namespace and data root. `web`
//! (6 replicas with a healthcheck, serving its host name on port 8080, draining for two
//! seconds on its stop signal as a well-behaved server does) sits behind its virtual address
//! on the overlay `front`; a global `client` on every node asks `web` ten times a second,
//! logging each answer or failure. A start-first update of web to a new image replaces every
//! task, and not one request fails on any node meanwhile. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:updvip";
/// The image web is updated to: the same files under another tag and digest.
const NEXT: &str = "busybox:updvip2";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(90);
/// The web service's command: healthy once its server listens; on SIGTERM it keeps serving
/// for two seconds before it exits (connections routed to it before its backend was
/// withdrawn everywhere are still answered).
const SERVE: &str = "printf '#!/bin/sh\\necho from-%s\\n' \"$(hostname)\" > /srv.sh; chmod +x /srv.sh; \
trap 'sleep 2; exit 0' TERM; nc -ll -p 8080 -e /srv.sh & touch /ready; wait";
/// The client's loop: one request to `web` every 100 ms, `ok` or `FAIL` appended to /log.
const ASK: &str = "while true; do if nc -w 2 web 8080 </dev/null | grep -q from-; \
then echo ok >> /log; else echo \"FAIL $(date +%T)\" >> /log; fi; sleep 0.1; done";

/// `bosun container exec` of `args` in container `id` on member `i`: (success, output).
fn exec(bed: &Bed, i: usize, id: &str, args: &[&str]) -> (bool, String) {
    let mut words = vec!["container", "exec", id];
    words.extend_from_slice(args);
    let (ok, out, err) = blocking(|| bed.bosun(i, &words));
    (ok, format!("{out}{err}"))
}

/// Each client's (member, container id).
fn clients(bed: &Bed) -> Vec<(usize, String)> {
    bed.running_containers("client")
        .into_iter()
        .map(|c| (c.member, c.id))
        .collect()
}

/// Lines of each client's log: (ok, failures).
fn tally(bed: &Bed, clients: &[(usize, String)]) -> (usize, Vec<String>) {
    let mut ok = 0;
    let mut failures = Vec::new();
    for (member, id) in clients {
        let (_, log) = exec(bed, *member, id, &["cat", "/log"]);
        for line in log.lines() {
            match line {
                "ok" => ok += 1,
                other => failures.push(format!("member {member}: {other}")),
            }
        }
    }
    (ok, failures)
}

/// The update state of `web` as `service inspect` shows it.
fn update_state(bed: &Bed) -> String {
    let (_, out, _) = blocking(|| bed.bosun(0, &["service", "inspect", "web"]));
    serde_json::from_str::<serde_json::Value>(&out)
        .ok()
        .and_then(|doc| doc[0]["UpdateStatus"]["State"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_start_first_update_behind_the_vip_fails_no_request() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        // The next image: the same files with another config, on every node.
        let rootfs = bed.busybox_rootfs().display().to_string();
        bed.output(
            0,
            &[
                "image",
                "import",
                "--change",
                "ENV RELEASE=2",
                &rootfs,
                NEXT,
            ],
        );
        let archive = dir.join("next.tar").display().to_string();
        bed.output(0, &["image", "save", "-o", &archive, NEXT]);
        for i in 1..5 {
            bed.output(i, &["image", "load", "-q", "-i", &archive]);
        }

        bed.output(0, &["network", "create", "--driver", "overlay", "front"]);
        bed.output(
            0,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "6",
                "--network",
                "front",
                "--health-cmd",
                "test -e /ready",
                "--health-interval",
                "1s",
                "--health-retries",
                "1",
                "--stop-grace-period",
                "5s",
                "--update-order",
                "start-first",
                "--update-parallelism",
                "2",
                "--update-monitor",
                "1s",
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
                "sh",
                "-c",
                ASK,
            ],
        );

        // Every client is answered before the update starts; then the logs start afresh.
        let clients = wait_until(&bed, "every client answered", WITHIN, || async {
            let clients = clients(&bed);
            if clients.len() != 5 {
                return Err(format!("{} clients", clients.len()));
            }
            for (member, id) in &clients {
                let (_, log) = exec(&bed, *member, id, &["tail", "-n", "3", "/log"]);
                if log.lines().filter(|l| *l == "ok").count() < 3 {
                    return Err(format!("member {member}: {log}"));
                }
            }
            Ok(clients)
        })
        .await;
        for (member, id) in &clients {
            let (ok, out) = exec(&bed, *member, id, &["sh", "-c", ": > /log"]);
            assert!(ok, "{out}");
        }

        let out = bed.output(0, &["service", "update", "--image", NEXT, "web"]);
        assert!(out.contains("6 out of 6"), "{out}");
        wait_until(&bed, "the update completed", WITHIN, || async {
            match update_state(&bed).as_str() {
                "completed" => Ok(()),
                other => Err(other.to_owned()),
            }
        })
        .await;
        // The replaced tasks drain for two seconds, then six are left.
        wait_until(&bed, "six web containers", WITHIN, || async {
            match bed.running_containers("web").len() {
                6 => Ok(()),
                n => Err(format!("{n} running")),
            }
        })
        .await;

        // A few more requests after the last old task went, then the count.
        let (before, _) = tally(&bed, &clients);
        wait_until(&bed, "requests after the update", WITHIN, || async {
            match tally(&bed, &clients) {
                (ok, _) if ok >= before + 25 => Ok(()),
                (ok, failures) => Err(format!("{ok} ok, {failures:?}")),
            }
        })
        .await;
        let (ok, failures) = tally(&bed, &clients);
        assert!(
            failures.is_empty(),
            "{} of {} requests failed: {failures:?}",
            failures.len(),
            ok + failures.len()
        );
        assert!(ok >= 50, "only {ok} requests answered");

        bed.output(0, &["service", "rm", "client", "web"]);
        wait_until(&bed, "every container gone", WITHIN, || async {
            match bed.running_containers("web").len() + bed.running_containers("client").len() {
                0 => Ok(()),
                n => Err(format!("{n} running")),
            }
        })
        .await;
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
