//! `bosun agent`: the node daemon. In the foreground (for systemd) it serves until SIGTERM;
//! otherwise it starts one in the background and returns once its socket answers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agent::daemon::{Daemon, shutdown_signal};
use agent::{AgentClient, AgentConfig, launch};
use anyhow::Context;
use clap::Args;

/// Default data root.
const DATA_ROOT: &str = "/var/lib/bosun";
/// Default run root.
const RUN_ROOT: &str = "/run/bosun";

/// Arguments of `bosun agent`.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// Stay in the foreground and log to stderr (for systemd).
    #[arg(long)]
    pub foreground: bool,
    /// Where containers and agent state are kept.
    #[arg(long, env = "BOSUN_DATA_ROOT", default_value = DATA_ROOT, value_name = "DIR")]
    pub data_root: PathBuf,
    /// Where the socket, the pid file and runtime state are kept.
    #[arg(long, env = "BOSUN_RUN_ROOT", default_value = RUN_ROOT, value_name = "DIR")]
    pub run_root: PathBuf,
    /// The cgroup under which containers' cgroups are created, in every hierarchy.
    #[arg(
        long,
        env = "BOSUN_CGROUP_PARENT",
        default_value = "bosun",
        value_name = "NAME"
    )]
    pub cgroup_parent: String,
    /// Also serve the Docker Engine API on this unix socket (for the docker CLI, docker-compose
    /// and other Docker clients; same access rule as the agent's socket). Off by default.
    #[arg(long, env = "BOSUN_DOCKER_SOCKET", value_name = "PATH")]
    pub docker_socket: Option<PathBuf>,
}

/// The roots from `BOSUN_DATA_ROOT` and `BOSUN_RUN_ROOT`, or the defaults.
pub(super) fn default_config() -> AgentConfig {
    let root = |var: &str, default: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(default), PathBuf::from)
    };
    let mut config = AgentConfig::new(
        root("BOSUN_DATA_ROOT", DATA_ROOT),
        root("BOSUN_RUN_ROOT", RUN_ROOT),
    );
    // An agent the CLI starts in the background serves the Docker API as `bosun agent` would.
    config.docker_socket = std::env::var_os("BOSUN_DOCKER_SOCKET")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    config
}

/// Runs `bosun agent`.
pub(super) fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let mut config = AgentConfig::new(&args.data_root, &args.run_root);
    config.cgroup_parent = args.cgroup_parent;
    config.docker_socket = args.docker_socket.filter(|p| !p.as_os_str().is_empty());
    if args.foreground {
        foreground(config)
    } else {
        background(config)
    }
}

fn foreground(config: AgentConfig) -> anyhow::Result<ExitCode> {
    init_logging();
    engine::failpoint::setup_from_env();
    let daemon = Daemon::prepare(config).context("cannot start the bosun agent")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(daemon.run(shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

fn background(config: AgentConfig) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let socket = config.socket();
        if let Ok(mut client) = AgentClient::connect(&socket).await {
            let v = client.version().await?;
            println!(
                "bosun agent is already running (pid {}, {})",
                v.pid,
                socket.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let exe = std::env::current_exe().context("cannot find the bosun executable")?;
        let pid =
            launch::spawn_background(&exe, &config).context("cannot start the bosun agent")?;
        launch::wait_ready(&socket, Duration::from_secs(15))
            .await
            .with_context(|| {
                format!(
                    "the bosun agent did not come up (see {})",
                    config.log_file().display()
                )
            })?;
        println!("bosun agent started (pid {pid}, {})", socket.display());
        Ok(ExitCode::SUCCESS)
    })
}

/// Logs to stderr; `BOSUN_LOG` sets the filter (default `info`).
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
