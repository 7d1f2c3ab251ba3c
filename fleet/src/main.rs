//! `bosun-fleet`: joins N simulated nodes to a running cluster and then takes commands on
//! its standard input (see `fleet::command`), answering each with one line of JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use fleet::command::{self, Command};
use fleet::{Fleet, FleetConfig};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Simulates a fleet of worker nodes against real managers: each node joins with the worker
/// token, heartbeats, streams its assignments and reports its tasks over the managers' mutual-TLS
/// API, exactly as `bosun manager` on a worker does; only its containers are simulated (a task
/// runs once its start delay passed, until crashed or stopped).
///
/// Once every node joined it prints `{"ready": ...}` and reads commands from standard input,
/// one a line, answering each with one line of JSON:
/// `status`, `wait-running N [TIMEOUT]`, `kill N`, `restore`, `crash N`, `quit`.
/// End of input is `quit`.
#[derive(Debug, Parser)]
#[command(name = "bosun-fleet", version)]
struct Args {
    /// A manager's address (`host:port`); repeat or separate with commas.
    #[arg(long = "manager", required = true, value_delimiter = ',')]
    managers: Vec<String>,
    /// The worker join token (`bosun cluster join-token worker -q`).
    #[arg(long, env = "BOSUN_FLEET_TOKEN", hide_env_values = true)]
    token: String,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// How long a simulated container takes to start.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    start_delay: Duration,
    /// Joins in flight at once at most.
    #[arg(long, default_value_t = 16)]
    join_concurrency: usize,
    /// Directory for the nodes' data roots (made if missing); a tmpfs keeps it cheap.
    #[arg(long)]
    work_dir: PathBuf,
    /// Hostnames are this, a dash and the node's index.
    #[arg(long, default_value = "sim")]
    hostname_prefix: String,
    /// Runtime worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BOSUN_FLEET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bosun-fleet: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bosun-fleet: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = FleetConfig {
        managers: args.managers,
        token: args.token,
        nodes: args.nodes,
        start_delay: args.start_delay,
        join_concurrency: args.join_concurrency,
        work_dir: args.work_dir,
        hostname_prefix: args.hostname_prefix,
    };
    let started = Instant::now();
    let mut fleet = Fleet::join(&config).await?;
    println!(
        "{}",
        json!({"ready": config.nodes, "join_ms": started.elapsed().as_millis()})
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line?,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(line) = line else { break };
        let answer = match command::parse(&line) {
            Ok(None) => continue,
            Ok(Some(Command::Quit)) => break,
            Ok(Some(command)) => answer(&mut fleet, command).await,
            Err(message) => json!({ "error": message }),
        };
        println!("{answer}");
    }
    fleet.stop().await;
    Ok(())
}

fn census_json(census: &fleet::fleet::Census) -> serde_json::Value {
    json!({
        "up": census.up,
        "down": census.down,
        "running": census.running,
        "min_per_node": census.min_per_node,
        "max_per_node": census.max_per_node,
        "doubled": census.doubled,
        "fingerprint": format!("{:016x}", census.fingerprint),
    })
}

async fn answer(fleet: &mut Fleet, command: Command) -> serde_json::Value {
    match command {
        Command::Status => {
            let mut value = census_json(&fleet.census());
            value["ended"] = json!(fleet.ended());
            value
        }
        Command::WaitRunning { tasks, timeout } => match fleet.wait_running(tasks, timeout).await {
            Ok(took) => json!({ "running": tasks, "elapsed_ms": took.as_millis() }),
            Err(census) => json!({
                "error": format!("{tasks} tasks not running after {}", humantime::format_duration(timeout)),
                "census": census_json(&census),
            }),
        },
        Command::Kill(count) => {
            let started = Instant::now();
            let killed = fleet.kill(count).await;
            json!({ "killed": killed, "elapsed_ms": started.elapsed().as_millis() })
        }
        Command::Restore => json!({ "started": fleet.restore() }),
        Command::Crash(count) => json!({ "crashed": fleet.crash(count) }),
        Command::Quit => json!({}),
    }
}
