//! Rolling updates end to end on the multi-node bed (3 managers, 2 workers, real containers):
//! stop-first with parallelism 2 never has more than 2 slots without a running container;
//! `--pause` and `--resume` mid-update; a task whose healthcheck fails pauses the update after
//! the first slot, with the reason in `service inspect`; failure action rollback returns to the
//! previous spec; `--cancel` returns the slots an update reached to the previous spec; a step
//! whose task never becomes healthy ends at the update's deadline; the leader killed
//! mid-update leaves the new leader to finish it, each slot updated once. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{Bed, bin, blocking, leader_index};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cluster_manager::services::proto::{DesiredStateFilter, ListTasksRequest};
use orchestrator::swarm::TaskSlot;
use serde_json::Value;

const IMAGE: &str = "busybox:upd";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);

/// `service inspect NAME`'s `UpdateStatus`, through member `via`.
fn update_status(bed: &Bed, via: usize, name: &str) -> Value {
    let (ok, out, err) = blocking(|| bed.bosun(via, &["service", "inspect", name]));
    if !ok {
        return Value::String(format!("inspect failed: {err}"));
    }
    let records: Value = serde_json::from_str(&out).unwrap();
    records[0]["UpdateStatus"].clone()
}

/// Waits until the update of `name` is in `state`; its status.
async fn wait_state(bed: &Bed, via: usize, name: &str, state: &str) -> Value {
    wait_until(bed, &format!("{name} {state}"), WITHIN, || async {
        let status = update_status(bed, via, name);
        if status["State"] == state {
            Ok(status)
        } else {
            Err(format!("update status {status}"))
        }
    })
    .await
}

/// Every task of `name` (any desired state) as (slot, value of env `key`).
async fn tasks_by_env(bed: &Bed, via: usize, name: &str, key: &str) -> Vec<(u64, Option<String>)> {
    let list = bed
        .services(via)
        .tasks(ListTasksRequest {
            service: name.to_owned(),
            node: String::new(),
            desired_state: DesiredStateFilter::DesiredAny as i32,
        })
        .await
        .unwrap();
    list.tasks
        .iter()
        .map(|t| {
            let slot = match t.task.slot {
                TaskSlot::Slot(n) => n,
                TaskSlot::Node(_) => 0,
            };
            (slot, t.task.spec.env.get(key).cloned())
        })
        .collect()
}

/// How many tasks of each slot run env `key=value`.
async fn per_slot(
    bed: &Bed,
    via: usize,
    name: &str,
    key: &str,
    value: &str,
) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for (slot, v) in tasks_by_env(bed, via, name, key).await {
        if v.as_deref() == Some(value) {
            *counts.entry(slot).or_insert(0) += 1;
        }
    }
    counts
}

/// A shell command that marks the container healthy unless `$BAD` is 1, then sleeps.
const HEALTH_SCRIPT: &str = "if [ \"$BAD\" != 1 ]; then touch /ok; fi; exec sleep 3600";

fn create_checked(bed: &Bed, name: &str, extra: &[&str]) {
    let mut args = vec![
        "service",
        "create",
        "--name",
        name,
        "--replicas",
        "3",
        "--health-cmd",
        "test -e /ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "--update-monitor",
        "1s",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[IMAGE, "sh", "-c", HEALTH_SCRIPT]);
    let out = bed.output(0, &args);
    assert!(out.contains("3 out of 3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_updates_keep_slots_up_pause_resume_and_stop_on_failure() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();

        // Stop-first, two slots at a time over 6 replicas: sampled throughout, never more
        // than 2 slots without a running container.
        bed.output(
            1,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "6",
                "--update-parallelism",
                "2",
                "--update-monitor",
                "1s",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        bed.output(
            0,
            &["service", "update", "--detach", "--env-add", "V=2", "web"],
        );
        let mut samples = 0;
        let mut fewest = 6;
        loop {
            let up: BTreeSet<u64> = bed
                .running_containers("web")
                .iter()
                .map(|c| c.slot)
                .collect();
            samples += 1;
            fewest = fewest.min(up.len());
            assert!(up.len() >= 4, "more than 2 slots down: running {up:?}");
            let status = update_status(&bed, 0, "web");
            if status["State"] == "completed" {
                break;
            }
            assert!(samples < 2_000, "the update never completed: {status}");
        }
        let updated = per_slot(&bed, 0, "web", "V", "2").await;
        assert_eq!(
            updated,
            (1..=6).map(|s| (s, 1)).collect(),
            "each slot updated once"
        );
        wait_until(&bed, "6 replicas at rest", WITHIN, || {
            bed.one_running_per_slot(0, "web", 6)
        })
        .await;

        // --pause mid-update stops it where it is; --resume finishes it (and waits).
        bed.output(
            0,
            &[
                "service",
                "update",
                "--detach",
                "--update-parallelism",
                "1",
                "--update-monitor",
                "3s",
                "--env-add",
                "V=3",
                "web",
            ],
        );
        wait_until(&bed, "the update under way", WITHIN, || async {
            let status = update_status(&bed, 0, "web");
            if status["SlotsInProgress"].as_u64() >= Some(1) {
                Ok(())
            } else {
                Err(format!("{status}"))
            }
        })
        .await;
        bed.output(0, &["service", "update", "--pause", "web"]);
        let paused = update_status(&bed, 0, "web");
        assert_eq!(paused["State"], "paused", "{paused}");
        let ps = bed.output(0, &["service", "ps", "web"]);
        assert!(ps.contains("web: update paused"), "{ps}");
        let started = per_slot(&bed, 0, "web", "V", "3").await.len();
        assert!(started < 6, "paused before every slot: {started}");
        let out = bed.output(0, &["service", "update", "--resume", "web"]);
        assert!(out.contains("converged"), "{out}");
        assert_eq!(update_status(&bed, 0, "web")["State"], "completed");
        let updated = per_slot(&bed, 0, "web", "V", "3").await;
        assert_eq!(
            updated,
            (1..=6).map(|s| (s, 1)).collect(),
            "each slot updated once"
        );

        // A new spec whose healthcheck fails: the first slot's task never becomes healthy,
        // the update pauses after it with the reason, the other slots keep the old spec.
        create_checked(&bed, "hc", &[]);
        let (ok, out, err) =
            blocking(|| bed.bosun(0, &["service", "update", "--env-add", "BAD=1", "hc"]));
        assert!(!ok, "a paused update fails the command: {out}{err}");
        assert!(err.contains("update of service hc paused"), "{err}");
        let status = update_status(&bed, 0, "hc");
        assert_eq!(status["State"], "paused", "{status}");
        let message = status["Message"].as_str().unwrap();
        assert!(
            message.contains("update paused due to failure of task")
                && message.contains("unhealthy container"),
            "{message}"
        );
        let bad_slots = per_slot(&bed, 0, "hc", "BAD", "1").await;
        assert_eq!(
            bad_slots.len(),
            1,
            "only the first slot was tried: {bad_slots:?}"
        );

        // The same with failure action rollback: back on the previous spec.
        create_checked(&bed, "rb", &["--update-failure-action", "rollback"]);
        let (ok, _, err) =
            blocking(|| bed.bosun(0, &["service", "update", "--env-add", "BAD=1", "rb"]));
        assert!(!ok, "a rolled back update fails the command");
        assert!(err.contains("rolled back"), "{err}");
        let status = wait_state(&bed, 0, "rb", "rollback_completed").await;
        assert!(
            status["Message"]
                .as_str()
                .unwrap()
                .contains("unhealthy container"),
            "{status}"
        );
        wait_until(&bed, "rb back on its old spec", WITHIN, || async {
            let running = bed.desired_tasks(0, "rb").await?;
            let bad = running
                .tasks
                .iter()
                .filter(|t| t.task.spec.env.contains_key("BAD"))
                .count();
            if running.tasks.len() == 3 && bad == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{} wanted, {bad} on the new spec",
                    running.tasks.len()
                ))
            }
        })
        .await;
        wait_until(&bed, "rb at rest", WITHIN, || {
            bed.one_running_per_slot(0, "rb", 3)
        })
        .await;

        // --cancel mid-update: the update stops and the slots it reached go back to the
        // previous spec (V=3).
        bed.output(
            0,
            &[
                "service",
                "update",
                "--detach",
                "--update-monitor",
                "3s",
                "--env-add",
                "V=4",
                "web",
            ],
        );
        wait_until(&bed, "a slot on V=4", WITHIN, || async {
            match per_slot(&bed, 0, "web", "V", "4").await.len() {
                0 => Err("no slot reached yet".to_owned()),
                n => Ok(n),
            }
        })
        .await;
        bed.output(0, &["service", "update", "--cancel", "web"]);
        assert_eq!(update_status(&bed, 0, "web")["State"], "cancelled");
        wait_until(&bed, "web back on V=3", WITHIN, || async {
            let wanted = bed.desired_tasks(0, "web").await?;
            let on_v4 = wanted
                .tasks
                .iter()
                .filter(|t| t.task.spec.env.get("V").map(String::as_str) == Some("4"))
                .count();
            match (wanted.tasks.len(), on_v4) {
                (6, 0) => Ok(()),
                (n, v4) => Err(format!("{n} wanted, {v4} on V=4")),
            }
        })
        .await;
        wait_until(&bed, "web at rest after the cancel", WITHIN, || {
            bed.one_running_per_slot(0, "web", 6)
        })
        .await;

        // A new spec whose task stays "starting" (its check fails within a long start
        // period, so it is never unhealthy either): the step ends at its deadline and the
        // update pauses with that reason instead of waiting forever.
        create_checked(
            &bed,
            "dl",
            &["--update-deadline", "5s", "--health-start-period", "1h"],
        );
        let (ok, out, err) =
            blocking(|| bed.bosun(0, &["service", "update", "--env-add", "BAD=1", "dl"]));
        assert!(!ok, "an update paused at its deadline fails: {out}{err}");
        assert!(
            err.contains("update of service dl paused") && err.contains("the deadline"),
            "{err}"
        );
        let status = update_status(&bed, 0, "dl");
        assert_eq!(status["State"], "paused", "{status}");

        for name in ["web", "hc", "rb", "dl"] {
            bed.output(0, &["service", "rm", name]);
        }
        wait_until(&bed, "every container gone", WITHIN, || async {
            let left: usize = ["web", "hc", "rb", "dl"]
                .iter()
                .map(|n| bed.running_containers(n).len())
                .sum();
            if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} running"))
            }
        })
        .await;
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_killed_mid_update_leaves_the_next_to_finish_each_slot_once() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let leader = leader_index(&bed, 0).await;
        let via = (leader + 1) % 3;
        // On the workers only, so the killed manager takes no task with it.
        bed.output(
            via,
            &[
                "service",
                "create",
                "--name",
                "web",
                "--replicas",
                "6",
                "--constraint",
                "node.role==worker",
                "--update-monitor",
                "2s",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        bed.output(
            via,
            &["service", "update", "--detach", "--env-add", "V=2", "web"],
        );
        wait_until(&bed, "two slots updated", WITHIN, || async {
            let status = update_status(&bed, via, "web");
            if status["SlotsDone"].as_u64() >= Some(2) {
                Ok(())
            } else {
                Err(format!("{status}"))
            }
        })
        .await;
        blocking(|| bed.kill(leader));
        wait_until(&bed, "a new leader", WITHIN, || async {
            match leader_index(&bed, via).await {
                l if l == leader => Err(format!("member {l} still leads")),
                _ => Ok(()),
            }
        })
        .await;
        let status = wait_state(&bed, via, "web", "completed").await;
        assert_eq!(status["SlotsDone"], 6, "{status}");
        let updated = per_slot(&bed, via, "web", "V", "2").await;
        assert_eq!(
            updated,
            (1..=6).map(|s| (s, 1)).collect(),
            "each slot updated once: {}",
            bed.output(via, &["service", "ps", "--no-trunc", "web"])
        );
        wait_until(&bed, "6 replicas at rest", WITHIN, || {
            bed.one_running_per_slot(via, "web", 6)
        })
        .await;
        blocking(|| bed.restart(leader));
        bed.output(via, &["service", "rm", "web"]);
        wait_until(&bed, "every container gone", WITHIN, || async {
            match bed.running_containers("web").len() {
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
