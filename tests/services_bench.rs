//! Benchmarks of services on the multi-node test bed (3 managers and 2 workers, each node
//! with its own `bosun agent` and node daemon in its own network namespace and data root,
//! real containers). They measure and print figures; they assert what they measure is right
//! (exactly N replicas running, one per slot, where the store says) but never how long it
//! took. Ignored by default; run through `bench/services.sh`, or:
//!
//! ```sh
//! cargo test --release --test services_bench <case> -- --ignored --nocapture
//! ```
//!
//! - `create_100_replicas_over_5_nodes`: `service create --replicas 100 -d`, then the time
//!   until the store has every task reported running and the agents run exactly them
//!   (`BOSUN_BENCH_RUNS` runs, default 3, the service removed between runs).
//! - `node_loss`: 20 replicas; a worker's link goes down, time until every task is reported
//!   running on the other nodes; the link comes back, the cluster rests at an even spread
//!   again; `BOSUN_BENCH_LOSSES` times (default 10, the two workers in turn). Every sample,
//!   p50, p99, max.
//! - `update_20_replicas`: 20 replicas at rest, then `service update --detach --env-add`
//!   with parallelism 2, start-first, monitor 1s and no delay; the time until the update is
//!   `completed` with every slot on the new spec (`BOSUN_BENCH_RUNS` updates, default 3).
//! - `idle_managers_with_200_tasks`: 200 replicas running over the 5 nodes, then each
//!   daemon's and agent's CPU time over `BOSUN_BENCH_IDLE_SECS` (default 30) of idling and
//!   resident memory at the end.
//!
//! Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::procstat::{self, ProcSample};
use testbed::services::wait_until;
use testbed::{Bed, bin, blocking};

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use orchestrator::swarm::{TaskSlot, TaskState};

const IMAGE: &str = "busybox:svc";
/// The manager every look at the store goes through (never cut off).
const VIA: usize = 0;
/// Time between two looks at the store while timing.
const POLL: Duration = Duration::from_millis(50);
/// Time allowed for the cluster to get where a benchmark waits for it.
const WITHIN: Duration = Duration::from_secs(300);
/// The workers, taking turns at being lost.
const WORKERS: [usize; 2] = [3, 4];

/// A number from environment variable `name`, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Creates replicated service `name` with `replicas` (detached: returns once committed).
fn create(bed: &Bed, name: &str, replicas: u64) {
    let replicas = replicas.to_string();
    bed.output(
        VIA,
        &[
            "service",
            "create",
            "--detach",
            "--name",
            name,
            "--replicas",
            &replicas,
            IMAGE,
            "sleep",
            "3600",
        ],
    );
}

/// The member index of each node id.
fn members_by_node(bed: &Bed) -> BTreeMap<String, usize> {
    (0..bed.members.len())
        .map(|i| (bed.node_id(i), i))
        .collect()
}

/// Whether the store (through [`VIA`]) wants `n` tasks of `name` in `n` slots, each reported
/// running on a member other than `lost`; per member, how many. Otherwise what it wants.
async fn reported_running(
    bed: &Bed,
    members: &BTreeMap<String, usize>,
    name: &str,
    n: usize,
    lost: Option<usize>,
) -> Result<BTreeMap<usize, usize>, String> {
    let list = bed.desired_tasks(VIA, name).await?;
    let mut per_member = BTreeMap::new();
    let mut slots = BTreeSet::new();
    for t in &list.tasks {
        let member = t
            .task
            .node
            .as_ref()
            .and_then(|node| members.get(node.as_str()).copied());
        let placed = match member {
            Some(m) if t.task.status.state == TaskState::Running && Some(m) != lost => m,
            _ => {
                return Err(format!(
                    "{} of {} tasks; slot {:?} is {} on {:?}",
                    list.tasks.len(),
                    n,
                    t.task.slot,
                    t.task.status.state,
                    member
                ));
            }
        };
        if let TaskSlot::Slot(slot) = t.task.slot {
            slots.insert(slot);
        }
        *per_member.entry(placed).or_insert(0) += 1;
    }
    if list.tasks.len() != n || slots.len() != n {
        return Err(format!(
            "{} tasks in {} slots, {n} wanted",
            list.tasks.len(),
            slots.len()
        ));
    }
    Ok(per_member)
}

/// Polls the store every [`POLL`] until [`reported_running`] holds; returns when it first
/// held, counted from `start`, and the spread.
async fn time_until_reported_running(
    bed: &Bed,
    members: &BTreeMap<String, usize>,
    name: &str,
    n: usize,
    lost: Option<usize>,
    start: Instant,
) -> (Duration, BTreeMap<usize, usize>) {
    loop {
        let seen = reported_running(bed, members, name, n, lost).await;
        let elapsed = start.elapsed();
        match seen {
            Ok(spread) => return (elapsed, spread),
            Err(why) if elapsed > WITHIN => {
                panic!(
                    "{n} tasks of {name} running: not within {WITHIN:?}: {why}\n{}",
                    bed.logs()
                )
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Whether the agents of every member but `lost` run exactly the store's running tasks of
/// `name`, each on the member the store gives, one per slot; otherwise why not.
async fn agents_run_what_the_store_says(
    bed: &Bed,
    members: &BTreeMap<String, usize>,
    name: &str,
    lost: Option<usize>,
) -> Result<(), String> {
    let list = bed.desired_tasks(VIA, name).await?;
    let wanted: BTreeSet<(String, Option<usize>)> = list
        .tasks
        .iter()
        .map(|t| {
            let member = t
                .task
                .node
                .as_ref()
                .and_then(|node| members.get(node.as_str()).copied());
            (t.task.id.to_string(), member)
        })
        .collect();
    let running: Vec<(String, Option<usize>)> = bed
        .running_containers(name)
        .into_iter()
        .filter(|c| Some(c.member) != lost)
        .map(|c| (c.task, Some(c.member)))
        .collect();
    let distinct: BTreeSet<_> = running.iter().cloned().collect();
    if distinct.len() == running.len() && distinct == wanted {
        Ok(())
    } else {
        Err(format!(
            "the agents run {} containers, the store wants {} tasks",
            running.len(),
            wanted.len()
        ))
    }
}

/// Whether `name` is at rest with `n` replicas (one running task per slot, the agents
/// running exactly those) spread within one task of even over every member; the spread.
async fn at_rest_evenly(bed: &Bed, name: &str, n: u64) -> Result<BTreeMap<usize, usize>, String> {
    let running = bed.one_running_per_slot(VIA, name, n).await?;
    let mut spread: BTreeMap<usize, usize> = (0..bed.members.len()).map(|i| (i, 0)).collect();
    for c in &running {
        *spread.entry(c.member).or_insert(0) += 1;
    }
    let most = spread.values().max().copied().unwrap_or(0);
    let least = spread.values().min().copied().unwrap_or(0);
    if most - least <= 1 {
        Ok(spread)
    } else {
        Err(format!("spread unevenly: {spread:?}"))
    }
}

/// Nearest-rank percentile `p` of `sorted` (ascending, not empty).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// `kib` KiB shown in MiB.
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored (bench/services.sh)"]
async fn create_100_replicas_over_5_nodes() {
    const REPLICAS: u64 = 100;
    let runs = setting("BOSUN_BENCH_RUNS", 3);
    let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let members = members_by_node(&bed);
    let mut samples = Vec::new();
    for run in 1..=runs {
        let name = format!("web{run}");
        let start = Instant::now();
        blocking(|| create(&bed, &name, REPLICAS));
        let committed = start.elapsed();
        let (reported, spread) =
            time_until_reported_running(&bed, &members, &name, REPLICAS as usize, None, start)
                .await;
        let running = wait_until(&bed, "the agents run the 100 tasks", WITHIN, || {
            bed.one_running_per_slot(VIA, &name, REPLICAS)
        })
        .await;
        assert_eq!(running.len(), REPLICAS as usize);
        println!(
            "run {run}: create committed after {} ms, {REPLICAS} replicas reported running after {} ms, per node {spread:?}",
            ms(committed),
            ms(reported)
        );
        samples.push(reported);
        bed.output(VIA, &["service", "rm", &name]);
        wait_until(&bed, "the containers removed", WITHIN, || async {
            match bed.running_containers(&name).len() {
                0 => Ok(()),
                left => Err(format!("{left} still run")),
            }
        })
        .await;
    }
    samples.sort();
    println!(
        "create --replicas {REPLICAS} over 5 nodes, runs={runs}: all running min={} ms median={} ms max={} ms",
        ms(samples[0]),
        ms(percentile(&samples, 50)),
        ms(samples[samples.len() - 1])
    );
    blocking(|| drop(bed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored (bench/services.sh)"]
async fn node_loss() {
    const REPLICAS: u64 = 20;
    let losses = setting("BOSUN_BENCH_LOSSES", 10);
    let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let members = members_by_node(&bed);
    blocking(|| create(&bed, "web", REPLICAS));
    wait_until(&bed, "20 replicas at rest, spread evenly", WITHIN, || {
        at_rest_evenly(&bed, "web", REPLICAS)
    })
    .await;
    let mut samples = Vec::new();
    for loss in 1..=losses {
        let lost = WORKERS[(loss as usize - 1) % WORKERS.len()];
        let held = bed
            .running_containers("web")
            .into_iter()
            .filter(|c| c.member == lost)
            .count();
        assert!(held > 0, "worker {lost} runs no replica");

        blocking(|| bed.lab().set_link(lost, false));
        let start = Instant::now();
        let (elsewhere, spread) = time_until_reported_running(
            &bed,
            &members,
            "web",
            REPLICAS as usize,
            Some(lost),
            start,
        )
        .await;
        wait_until(&bed, "the agents run the moved tasks", WITHIN, || {
            agents_run_what_the_store_says(&bed, &members, "web", Some(lost))
        })
        .await;
        samples.push(elsewhere);

        blocking(|| bed.lab().set_link(lost, true));
        let back = Instant::now();
        let rested = wait_until(&bed, "at rest again, spread evenly", WITHIN, || {
            at_rest_evenly(&bed, "web", REPLICAS)
        })
        .await;
        println!(
            "loss {loss}: worker {lost} ({held} replicas) cut off, all {REPLICAS} running elsewhere after {} ms {spread:?}; back, at rest evenly after {} ms {rested:?}",
            ms(elsewhere),
            ms(back.elapsed())
        );
    }
    samples.sort();
    println!(
        "node loss, replicas={REPLICAS} losses={losses}: running elsewhere p50={} ms p99={} ms max={} ms",
        ms(percentile(&samples, 50)),
        ms(percentile(&samples, 99)),
        ms(samples[samples.len() - 1])
    );
    blocking(|| drop(bed));
}

/// Each process watched: what it is and its pid.
fn watched(bed: &Bed) -> Vec<(String, u32)> {
    let mut processes = Vec::new();
    for (i, member) in bed.members.iter().enumerate() {
        let role = if WORKERS.contains(&i) {
            "worker"
        } else {
            "manager"
        };
        processes.push((
            format!("node {i} {role} daemon"),
            member.pid.expect("a daemon"),
        ));
    }
    for (i, member) in bed.members.iter().enumerate() {
        let agent = member.agent.as_ref().expect("an agent");
        processes.push((format!("node {i} agent"), agent.pid()));
    }
    processes
}

fn samples_of(processes: &[(String, u32)]) -> Vec<ProcSample> {
    processes
        .iter()
        .map(|(what, pid)| procstat::sample(*pid).unwrap_or_else(|e| panic!("{what}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored (bench/services.sh)"]
async fn idle_managers_with_200_tasks() {
    const REPLICAS: u64 = 200;
    let idle = Duration::from_secs(setting("BOSUN_BENCH_IDLE_SECS", 30));
    let ticks = procstat::clock_ticks_per_second().unwrap();
    let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let members = members_by_node(&bed);
    blocking(|| create(&bed, "web", REPLICAS));
    let start = Instant::now();
    let (reported, spread) =
        time_until_reported_running(&bed, &members, "web", REPLICAS as usize, None, start).await;
    let before = wait_until(&bed, "200 replicas at rest", WITHIN, || {
        bed.one_running_per_slot(VIA, "web", REPLICAS)
    })
    .await;
    println!(
        "{REPLICAS} replicas reported running after {} ms, per node {spread:?}",
        ms(reported)
    );
    // Let the start-up settle (reports, status batches) before watching.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let processes = watched(&bed);
    let first = samples_of(&processes);
    let watch = Instant::now();
    tokio::time::sleep(idle).await;
    let last = samples_of(&processes);
    let wall = watch.elapsed();

    let after = bed
        .one_running_per_slot(VIA, "web", REPLICAS)
        .await
        .unwrap();
    let tasks = |running: &[testbed::services::RunningContainer]| -> Vec<String> {
        running.iter().map(|c| c.task.clone()).collect()
    };
    assert_eq!(
        tasks(&after),
        tasks(&before),
        "the running tasks changed while idle"
    );

    println!(
        "idle {:.1} s with {REPLICAS} tasks over 5 nodes:",
        wall.as_secs_f64()
    );
    let mut managers = (Duration::ZERO, 0u64);
    for (((what, pid), a), b) in processes.iter().zip(&first).zip(&last) {
        let cpu = procstat::cpu_time(b.cpu_ticks.saturating_sub(a.cpu_ticks), ticks);
        let share = 100.0 * cpu.as_secs_f64() / wall.as_secs_f64();
        println!(
            "  {what} (pid {pid}): cpu {} ms ({share:.2} % of one core), rss {}",
            ms(cpu),
            mib(b.rss_kib)
        );
        if what.contains("manager") {
            managers.0 += cpu;
            managers.1 += b.rss_kib;
        }
    }
    println!(
        "  3 manager daemons: cpu {} ms ({:.2} % of one core), rss {}",
        ms(managers.0),
        100.0 * managers.0.as_secs_f64() / wall.as_secs_f64(),
        mib(managers.1)
    );
    blocking(|| drop(bed));
}

/// The update state of `name` (`service inspect`'s `UpdateStatus.State`), through [`VIA`].
fn update_state(bed: &Bed, name: &str) -> String {
    let (_, out, _) = bed.bosun(VIA, &["service", "inspect", name]);
    serde_json::from_str::<serde_json::Value>(&out)
        .ok()
        .and_then(|doc| doc[0]["UpdateStatus"]["State"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored (bench/services.sh)"]
async fn update_20_replicas() {
    const REPLICAS: u64 = 20;
    let runs = setting("BOSUN_BENCH_RUNS", 3);
    let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let members = members_by_node(&bed);
    blocking(|| create(&bed, "web", REPLICAS));
    wait_until(&bed, "20 replicas at rest, spread evenly", WITHIN, || {
        at_rest_evenly(&bed, "web", REPLICAS)
    })
    .await;
    let mut samples = Vec::new();
    for run in 1..=runs {
        let env = format!("RUN={run}");
        let start = Instant::now();
        blocking(|| {
            bed.output(
                VIA,
                &[
                    "service",
                    "update",
                    "--detach",
                    "--env-add",
                    &env,
                    "--update-parallelism",
                    "2",
                    "--update-order",
                    "start-first",
                    "--update-monitor",
                    "1s",
                    "--update-delay",
                    "0s",
                    "web",
                ],
            )
        });
        loop {
            if blocking(|| update_state(&bed, "web")) == "completed" {
                break;
            }
            assert!(start.elapsed() < WITHIN, "update {run} not completed");
            tokio::time::sleep(POLL).await;
        }
        let took = start.elapsed();
        let (_, spread) = time_until_reported_running(
            &bed,
            &members,
            "web",
            REPLICAS as usize,
            None,
            Instant::now(),
        )
        .await;
        let list = bed.desired_tasks(VIA, "web").await.unwrap();
        let wanted = format!("{run}");
        assert!(
            list.tasks
                .iter()
                .all(|t| t.task.spec.env.get("RUN") == Some(&wanted)),
            "every slot on the new spec after update {run}"
        );
        println!(
            "update {run}: {REPLICAS} replicas, parallelism 2, start-first: completed after {} ms, per node {spread:?}",
            ms(took)
        );
        samples.push(took);
    }
    samples.sort();
    println!(
        "service update of {REPLICAS} replicas (parallelism 2, start-first, monitor 1s), runs={runs}: min={} ms median={} ms max={} ms",
        ms(samples[0]),
        ms(percentile(&samples, 50)),
        ms(samples[samples.len() - 1])
    );
    blocking(|| drop(bed));
}
