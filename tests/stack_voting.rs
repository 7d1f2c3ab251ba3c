//! The voting app of `examples/voting-app`, unchanged, as a stack on the multi-node test bed
//! (3 managers and 2 workers, each node with its own `bosun agent` and node daemon in its own
//! network namespace and data root): `stack deploy` brings its five services up in
//! `depends_on` order on the stack's default overlay; a vote cast through the routing mesh on
//! every node (each node's own address, port 8080) is counted by the worker and read back
//! through the mesh on every node (port 8081). `stack rm` takes everything away. Needs root
//! and redis-server (the images are built from the host's packages as `setup.sh` does).

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{Bed, bin, blocking};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = "busybox:test";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(120);

/// `redis:test` on every node, built as the example's `setup.sh` builds it: imported once,
/// carried to the others so that every node holds the same digest.
fn import_redis(bed: &Bed, dir: &Path) {
    let images = dir.join("images");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-test-images.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg(&images)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build-test-images.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let redis = images.join("redis.tar");
    assert!(redis.exists(), "no redis.tar: is redis-server installed?");
    let redis = redis.display().to_string();
    bed.bosun_ok(
        0,
        &[
            "image",
            "import",
            &redis,
            "redis:test",
            "--change",
            "ENTRYPOINT [\"/usr/bin/redis-server\"]",
            "--change",
            "CMD [\"--protected-mode\", \"no\"]",
            "--change",
            "EXPOSE 6379",
            "--change",
            "VOLUME /data",
            "--change",
            "WORKDIR /data",
        ],
    );
    let archive = images.join("redis-image.tar").display().to_string();
    bed.bosun_ok(0, &["image", "save", "-o", &archive, "redis:test"]);
    for i in 1..bed.members.len() {
        bed.bosun_ok(i, &["image", "load", "-q", "-i", &archive]);
    }
}

/// The images on every node and the example copied under `dir`: its compose file.
fn prepare(bed: &Bed, dir: &Path) -> String {
    import_redis(bed, dir);
    let project = dir.join("voting-app");
    testkit::fs::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/voting-app"),
        &project,
    );
    project.join("compose.yaml").display().to_string()
}

/// Waits until no container of the voting stack runs on any node.
async fn stack_gone(bed: &Bed) {
    wait_until(bed, "the stack's containers gone", WITHIN, || async {
        let left: usize = ["vote", "redis", "worker", "db", "result"]
            .iter()
            .map(|s| bed.running_containers(&format!("voting_{s}")).len())
            .sum();
        match left {
            0 => Ok(()),
            n => Err(format!("{n} running")),
        }
    })
    .await;
}

/// What a failed request through the mesh on member `i` is explained by: the published
/// ports as the managers recorded them and the nftables rules in member `i`'s namespace.
fn mesh_state(bed: &Bed, i: usize) -> String {
    let (_, inspect, _) = bed.bosun(0, &["service", "inspect", "voting_vote"]);
    let endpoint = serde_json::from_str::<serde_json::Value>(&inspect)
        .map(|doc| doc[0]["Endpoint"].to_string())
        .unwrap_or(inspect);
    let mut nft = Command::new("nft");
    nft.args(["list", "ruleset"]);
    let rules = bed.lab_view().output(i, nft);
    format!(
        "endpoint: {endpoint}\nmember {i}'s rules:\n{}",
        String::from_utf8_lossy(&rules.stdout)
    )
}

/// `GET path` on member `i`'s own address at `port`, from inside member `i`'s namespace
/// (HTTP/1.0, so the server closes the connection after the body): the body of a 200 answer.
fn get(bed: &Bed, i: usize, port: u16, path: &str) -> Result<String, String> {
    let lab = bed.lab_view();
    let to = SocketAddr::from((lab.addr(i), port));
    let answer = testbed::lab::in_netns(&lab.netns(i), || {
        let mut stream =
            TcpStream::connect_timeout(&to, Duration::from_secs(3)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {to}\r\n\r\n").map_err(|e| e.to_string())?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(answer)
    })
    .map_err(|e| format!("http://{to}{path}: {e}"))?;
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_owned())
        }
        _ => Err(format!("http://{to}{path}: {answer:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_voting_app_runs_as_a_stack_and_counts_votes_through_the_routing_mesh() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let file = blocking(|| prepare(&bed, &dir));

        let (out, err) = blocking(|| bed.bosun_ok(0, &["stack", "deploy", "-c", &file, "voting"]));
        for service in ["vote", "redis", "worker", "db", "result"] {
            assert!(
                out.contains(&format!("Creating service voting_{service}")),
                "{out}{err}"
            );
        }

        // Every node answers on both published ports, whether it runs a task or not.
        for i in 0..5 {
            for port in [8080, 8081] {
                let page = wait_until(&bed, "the page through the mesh", WITHIN, || async {
                    get(&bed, i, port, "/").map_err(|e| format!("{e}\n{}", mesh_state(&bed, i)))
                })
                .await;
                assert!(!page.is_empty(), "member {i} port {port}");
            }
        }

        // A vote through each node: a (cats) on the managers, b (dogs) on the workers.
        for i in 0..5 {
            let choice = if i < 3 { "a" } else { "b" };
            let path = format!("/cgi-bin/vote?{choice}");
            let answer = wait_until(&bed, "a vote queued", WITHIN, || async {
                match get(&bed, i, 8080, &path) {
                    Ok(body) if body.contains("queued") && !body.contains("(?") => Ok(body),
                    other => Err(format!("{other:?}")),
                }
            })
            .await;
            assert!(
                answer.starts_with(&format!("vote for {choice} queued")),
                "{answer}"
            );
        }
        for i in 0..5 {
            wait_until(&bed, "the tallies through the mesh", WITHIN, || async {
                match get(&bed, i, 8081, "/cgi-bin/results") {
                    Ok(body) if body == "cats: 3\ndogs: 2\n" => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            })
            .await;
        }

        blocking(|| bed.bosun_ok(0, &["stack", "rm", "voting"]));
        stack_gone(&bed).await;
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

/// Benchmark (ignored; `bench/stack_deploy.sh`): `stack deploy` of the voting app until the
/// command returns (every service converged, healthy where it has a healthcheck) and until
/// the result page answers through the mesh on node 0; `BOSUN_BENCH_RUNS` deploys (default
/// 3), the stack removed between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored (bench/stack_deploy.sh)"]
async fn voting_stack_deploy_until_healthy() {
    let runs: u32 = std::env::var("BOSUN_BENCH_RUNS").ok().map_or(3, |v| {
        v.parse().expect("BOSUN_BENCH_RUNS is a whole number")
    });
    let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    let dir = bed.dir().to_path_buf();
    let file = blocking(|| prepare(&bed, &dir));
    let mut samples = Vec::new();
    for run in 1..=runs {
        let start = std::time::Instant::now();
        blocking(|| bed.bosun_ok(0, &["stack", "deploy", "-c", &file, "voting"]));
        let deployed = start.elapsed();
        wait_until(&bed, "the result page through the mesh", WITHIN, || async {
            get(&bed, 0, 8081, "/cgi-bin/results")
        })
        .await;
        let answering = start.elapsed();
        println!(
            "deploy {run}: stack deploy returned after {} ms, the result page answered after {} ms",
            deployed.as_millis(),
            answering.as_millis()
        );
        samples.push(deployed);
        blocking(|| bed.bosun_ok(0, &["stack", "rm", "voting"]));
        stack_gone(&bed).await;
    }
    samples.sort();
    println!(
        "stack deploy of the voting app (5 services, 3 managers + 2 workers), runs={runs}: min={} ms median={} ms max={} ms",
        samples[0].as_millis(),
        samples[samples.len() / 2].as_millis(),
        samples[samples.len() - 1].as_millis()
    );
    blocking(|| drop(bed));
}
