//! `bosun cluster …`: create, join and leave a cluster, show join tokens and the cluster's
//! status; and the hidden `bosun manager` daemon those commands start in the background (the
//! node's daemon: the manager role, or the worker role on a worker).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cluster_manager::node_daemon::{NodeExit, run_node};
use cluster_manager::{Manager, bench, launch};

/// Default data root.
const DATA_ROOT: &str = "/var/lib/bosun";
/// Default address of the manager API.
const DEFAULT_ADDR: &str = "0.0.0.0:4242";

/// Where the node keeps its state.
#[derive(Debug, Args)]
pub(super) struct DataRootArg {
    /// Where the node's state (raft log, certificates) is kept.
    #[arg(long, env = "BOSUN_DATA_ROOT", default_value = DATA_ROOT, value_name = "DIR", global = true)]
    pub data_root: PathBuf,
}

/// Arguments of `bosun cluster`.
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    #[command(flatten)]
    root: DataRootArg,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Create a cluster with this node as its first manager.
    Init(InitArgs),
    /// Join a cluster as a worker or a manager, as the token says.
    Join(JoinArgs),
    /// Leave the cluster.
    Leave {
        /// Leave even as a manager, or when the managers cannot be reached.
        #[arg(long)]
        force: bool,
    },
    /// Show (or rotate) the command to join a worker or a manager.
    JoinToken {
        /// worker or manager.
        #[arg(value_parser = ["worker", "manager"])]
        role: String,
        /// Replace the token; the old one stops working.
        #[arg(long)]
        rotate: bool,
        /// Print the token only.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Show the managers, the leader, the raft indexes and the failures tolerated now.
    Status {
        /// Output format: table or json.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// Measure committed writes through this manager: writes per second and latency with
    /// concurrent clients, or (with --probe) how long until one write succeeds.
    #[command(hide = true)]
    CheckPerf {
        /// Concurrent clients.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// How long to write.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Retry a single write until it succeeds and print the time it took.
        #[arg(long)]
        probe: bool,
    },
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Address other nodes reach this manager at (host:port).
    #[arg(long)]
    advertise_addr: Option<String>,
    /// Address the manager API listens on.
    #[arg(long, default_value = DEFAULT_ADDR)]
    listen_addr: String,
    /// Rebuild a one-manager cluster from this surviving manager's state.
    #[arg(long)]
    force_new_cluster: bool,
    /// Validity of node certificates (renewed automatically at 50-80 % of it).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    cert_expiry: Option<Duration>,
}

#[derive(Debug, Args)]
struct JoinArgs {
    /// The join token (`bosun cluster join-token`).
    #[arg(long)]
    token: String,
    /// Address of a manager (host:port).
    addr: String,
    /// Address other nodes reach this node at (host:port).
    #[arg(long)]
    advertise_addr: Option<String>,
    /// Address the manager API listens on (a manager, or a worker once promoted).
    #[arg(long, default_value = DEFAULT_ADDR)]
    listen_addr: String,
}

/// Arguments of the hidden `bosun manager` daemon.
#[derive(Debug, Args)]
pub(crate) struct ManagerArgs {
    #[command(flatten)]
    root: DataRootArg,
    /// The run root of this node's agent, whose socket (`bosun.sock`) runs the node's tasks.
    #[arg(
        long,
        env = "BOSUN_RUN_ROOT",
        default_value = "/run/bosun",
        value_name = "DIR"
    )]
    run_root: PathBuf,
}

/// A runtime for the short-lived commands.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// The advertised address: given, or the listen address when it names a host.
fn advertise(given: Option<String>, listen: &str) -> anyhow::Result<String> {
    match given {
        Some(addr) => Ok(addr),
        None if !listen.starts_with("0.0.0.0") && !listen.starts_with("[::]") => {
            Ok(listen.to_owned())
        }
        None => bail!("--advertise-addr is required when listening on all addresses"),
    }
}

/// Starts the manager daemon and waits until its API answers with a leader.
fn start_and_wait(data_root: &Path, manager: &Manager) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the bosun executable")?;
    launch::spawn_background(&exe, data_root).context("cannot start the manager")?;
    let rt = runtime()?;
    let _context = rt.enter();
    let client = manager.client()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    rt.block_on(async {
        loop {
            // Ready once a linearizable read of the cluster record succeeds here: a leader
            // exists, a quorum answers, and this manager holds the cluster's state.
            match client.read("key:cluster/cluster").await {
                Ok((data, _)) if data.len() > 2 => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(_) => bail!("the manager started but the cluster state did not reach it"),
                Err(err) => {
                    return Err(anyhow::Error::from(err)).with_context(|| {
                        format!(
                            "the manager did not come up (see {})",
                            launch::log_file(data_root).display()
                        )
                    });
                }
            }
        }
    })
}

/// Starts a worker's daemon (heartbeats; the manager role once promoted) and checks that it
/// stays up.
fn start_worker(data_root: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the bosun executable")?;
    launch::spawn_background(&exe, data_root).context("cannot start the node daemon")?;
    std::thread::sleep(Duration::from_millis(300));
    if launch::running_pid(data_root).is_none() {
        bail!(
            "the node daemon exited at once (see {})",
            launch::log_file(data_root).display()
        );
    }
    Ok(())
}

/// Runs `bosun cluster`.
pub(super) fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let root = args.root.data_root;
    match args.command {
        ClusterCommand::Init(init) => run_init(&root, init),
        ClusterCommand::Join(join) => run_join(&root, join),
        ClusterCommand::Leave { force } => run_leave(&root, force),
        ClusterCommand::JoinToken {
            role,
            rotate,
            quiet,
        } => {
            let manager = Manager::open(&root)?;
            let rt = runtime()?;
            let _context = rt.enter();
            let client = manager.client()?;
            let token = rt.block_on(client.join_token(&role, rotate))?;
            if quiet {
                println!("{token}");
            } else {
                println!(
                    "To add a {role} to this cluster, run the following command:\n\n    bosun cluster join --token {token} {}\n",
                    manager.state().advertise_addr
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Status { format } => super::node::print_status(&root, &format),
        ClusterCommand::CheckPerf {
            clients,
            duration,
            probe,
        } => {
            let manager = Manager::open(&root)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let _context = rt.enter();
            let client = manager.client()?;
            if probe {
                let took = rt.block_on(bench::probe(&client, duration))?;
                println!("ok_after_ms={:.1}", took.as_secs_f64() * 1e3);
            } else {
                println!(
                    "{}",
                    rt.block_on(bench::write_load(&client, clients, duration))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_init(root: &Path, args: InitArgs) -> anyhow::Result<ExitCode> {
    if args.force_new_cluster {
        let manager = Manager::open(root)?;
        launch::stop(root, Duration::from_secs(5));
        manager
            .force_new_cluster()
            .context("cannot rebuild the cluster")?;
        start_and_wait(root, &manager)?;
        println!(
            "Cluster rebuilt: node {} is now its only manager; join other managers again.",
            manager.state().node_id
        );
        return Ok(ExitCode::SUCCESS);
    }
    let advertise = advertise(args.advertise_addr, &args.listen_addr)?;
    let manager = Manager::init(
        root,
        &args.listen_addr,
        &advertise,
        &hostname(),
        args.cert_expiry,
    )
    .context("cannot create the cluster")?;
    start_and_wait(root, &manager)?;
    println!(
        "Cluster initialized: node {} is now a manager.\n\nTo add a worker, run `bosun cluster join-token worker` and follow the instructions.",
        manager.state().node_id
    );
    Ok(ExitCode::SUCCESS)
}

fn run_join(root: &Path, args: JoinArgs) -> anyhow::Result<ExitCode> {
    let advertise = advertise(args.advertise_addr, &args.listen_addr)?;
    let manager = runtime()?
        .block_on(Manager::join(
            root,
            &args.addr,
            &args.token,
            &args.listen_addr,
            &advertise,
            &hostname(),
        ))
        .context("cannot join the cluster")?;
    if manager.state().raft_id.is_some() {
        start_and_wait(root, &manager)?;
        println!("This node joined the cluster as a manager.");
    } else {
        start_worker(root)?;
        println!("This node joined the cluster as a worker.");
    }
    Ok(ExitCode::SUCCESS)
}

fn run_leave(root: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let manager = Manager::open(root)?;
    if manager.state().raft_id.is_some() {
        if !force {
            bail!(
                "this node is a manager: leaving lowers the cluster's fault tolerance; demote it first or use --force"
            );
        }
        let removed = runtime().and_then(|rt| {
            let _context = rt.enter();
            let client = manager.client()?;
            let id = &manager.state().node_id;
            Ok(rt.block_on(client.remove_node(id, true))?)
        });
        match removed {
            Ok(()) => {
                launch::wait_exit(root, Duration::from_secs(5));
            }
            Err(err) => eprintln!("warning: leaving without the cluster's consent: {err:#}"),
        }
    }
    // A worker's daemon just stops; the managers mark the node down.
    launch::stop(root, Duration::from_secs(5));
    // The routing mesh stops answering here (the agent is asked, never started).
    let socket = crate::cli::agent::default_config().socket();
    if socket.exists() {
        let withdrawn = runtime()
            .and_then(|rt| Ok(rt.block_on(cluster_manager::node_daemon::withdraw_mesh(&socket))?));
        if let Err(err) = withdrawn {
            eprintln!("warning: {err:#}");
        }
    }
    manager.wipe()?;
    println!("Node left the cluster.");
    Ok(ExitCode::SUCCESS)
}

/// Runs the node daemon in the foreground until SIGTERM/SIGINT or the node's removal: the
/// manager role on a manager, the worker role on a worker, switching on promotion/demotion.
pub(super) fn run_manager(args: ManagerArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let root = args.root.data_root;
    let socket = args.run_root.join(api::SOCKET_NAME);
    Manager::open(&root)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let exit = runtime.block_on(async {
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        anyhow::Ok(run_node(&root, socket, shutdown).await?)
    })?;
    if exit == NodeExit::Removed {
        tracing::info!("node removed from the cluster: daemon stopped");
    } else {
        tracing::info!("daemon stopped");
    }
    let _ = std::fs::remove_file(launch::pid_file(&root));
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
