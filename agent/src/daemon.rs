//! What a long-lived agent needs around the server: its roots, an exclusive lock on the data
//! root, a pid file, and the socket with its owner, group and mode.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Group, Uid};

use super::node::Node;
use super::peer::PeerPolicy;
use super::server::{ServeError, serve};
use super::{AgentError, SOCKET_NAME};

/// The group whose members may use the socket besides root.
pub const SOCKET_GROUP: &str = "bosun";

/// Mode of the socket: owner and group read/write.
const SOCKET_MODE: u32 = 0o660;

/// Where an agent keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The data root (containers, metadata, the lock).
    pub data_root: PathBuf,
    /// The run root (socket, pid file, per-container runtime dirs).
    pub run_root: PathBuf,
    /// The cgroup parent of the containers (relative to the hierarchy roots).
    pub cgroup_parent: String,
    /// Where to serve the Docker Engine API too (`None`: not served).
    pub docker_socket: Option<PathBuf>,
}

impl AgentConfig {
    /// A config over the two roots with the `bosun` cgroup parent.
    pub fn new(data_root: impl Into<PathBuf>, run_root: impl Into<PathBuf>) -> Self {
        Self {
            data_root: data_root.into(),
            run_root: run_root.into(),
            cgroup_parent: "bosun".into(),
            docker_socket: None,
        }
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.run_root.join(SOCKET_NAME)
    }

    /// The pid file path.
    pub fn pid_file(&self) -> PathBuf {
        self.run_root.join("bosun.pid")
    }

    /// The lock file path.
    pub fn lock_file(&self) -> PathBuf {
        self.data_root.join("agent.lock")
    }

    /// The log file of an agent started in the background.
    pub fn log_file(&self) -> PathBuf {
        self.run_root.join("agent.log")
    }
}

/// Errors of starting or running the agent.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another agent holds the data root.
    #[error("another bosun agent owns the data root {} (lock {} is held)", data_root.display(), lock.display())]
    Locked {
        /// The data root.
        data_root: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The engine could not be set up.
    #[error(transparent)]
    Engine(#[from] engine::Error),
    /// The agent's state could not be loaded.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DaemonError + 'a {
    move |source| DaemonError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// An agent ready to serve: roots locked, pid file written, socket bound.
#[derive(Debug)]
pub struct Daemon {
    config: AgentConfig,
    node: Arc<Node>,
    listener: std::os::unix::net::UnixListener,
    policy: PeerPolicy,
    /// The Docker API's socket, when served.
    docker: Option<std::os::unix::net::UnixListener>,
    _lock: Flock<File>,
}

impl Daemon {
    /// Takes the data root's lock, writes the pid file, opens the engine (re-adopting the
    /// containers found) and binds the socket. Blocking.
    pub fn prepare(config: AgentConfig) -> Result<Daemon, DaemonError> {
        let group = socket_group();
        close_roots(&config, group)?;
        let lock_path = config.lock_file();
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|_| {
            DaemonError::Locked {
                data_root: config.data_root.clone(),
                lock: lock_path.clone(),
            }
        })?;
        let pid_file = config.pid_file();
        engine::atomic::write_atomic(&pid_file, format!("{}\n", std::process::id()).as_bytes())?;

        let mut runtime_config = engine::RuntimeConfig::new(&config.data_root, &config.run_root)?;
        runtime_config.cgroup_parent = config.cgroup_parent.clone();
        let runtime = engine::Runtime::new(runtime_config)?;
        let node = Node::open(runtime, &config.data_root, &config.run_root)?;
        if let Err(err) = node.prepare_networks() {
            tracing::error!(cause = %err, "cannot prepare the networks: containers on them will fail to start");
        }

        let (listener, policy) = bind_socket(&config.socket(), group)?;
        let docker = match &config.docker_socket {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
                }
                Some(bind_socket(path, group)?.0)
            }
            None => None,
        };
        Ok(Daemon {
            config,
            node,
            listener,
            policy,
            docker,
            _lock: lock,
        })
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.config.socket()
    }

    /// Serves until `shutdown` resolves, then removes the socket and the pid file.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        let socket = self.config.socket();
        self.listener
            .set_nonblocking(true)
            .map_err(io("configure", &socket))?;
        let listener =
            tokio::net::UnixListener::from_std(self.listener).map_err(io("listen on", &socket))?;
        tracing::info!(socket = %socket.display(), pid = std::process::id(), "agent listening");
        // Both servers stop together: the agent's shutdown also ends the Docker API's.
        let (stop, stopped) = tokio::sync::watch::channel(());
        let docker = match self.docker.take() {
            Some(docker) => Some(start_docker(docker, &self.config, self.policy, stopped)?),
            None => None,
        };
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(());
        };
        let result = serve(listener, self.node, self.policy, shutdown).await;
        if let Some(docker) = docker {
            let _ = docker.await;
        }
        if let Some(path) = &self.config.docker_socket {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(self.config.pid_file());
        tracing::info!("agent stopped");
        Ok(result?)
    }
}

/// Starts the Docker API on `listener`: its calls go to the agent's socket, its peers are
/// admitted by the agent's own rule. It stops when `stopped` changes or closes.
fn start_docker(
    listener: std::os::unix::net::UnixListener,
    config: &AgentConfig,
    policy: PeerPolicy,
    mut stopped: tokio::sync::watch::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>, DaemonError> {
    let path = config.docker_socket.clone().unwrap_or_default();
    listener
        .set_nonblocking(true)
        .map_err(io("configure", &path))?;
    let listener = tokio::net::UnixListener::from_std(listener).map_err(io("listen on", &path))?;
    let agent_socket = config.socket();
    tracing::info!(socket = %path.display(), "serving the Docker API");
    Ok(tokio::spawn(async move {
        let channel = match api::client::channel(&agent_socket).await {
            Ok(channel) => channel,
            Err(err) => {
                tracing::error!(cause = %err, "docker API: cannot reach the agent's socket");
                return;
            }
        };
        let admit: dockerapi::Admit =
            std::sync::Arc::new(move |uid, gid, pid| policy.admits(uid, gid, pid));
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        if let Err(err) = dockerapi::serve(listener, channel, admit, shutdown).await {
            tracing::error!(cause = %err, "docker API stopped");
        }
    }))
}

/// Mode of the data root: closed to everybody but root. Containers leave files there that
/// other users must never reach: setuid binaries in volumes and rootfs layers, environments
/// with secrets in their configs, their logs.
const DATA_ROOT_MODE: u32 = 0o700;

/// Mode of the run root: root, and the socket group may pass through to the socket.
const RUN_ROOT_MODE: u32 = 0o710;

/// The run root's directory of the compose commands' project locks.
pub const COMPOSE_LOCKS: &str = "compose-locks";

/// Mode of the lock directory: root and the socket group may create lock files.
const LOCKS_MODE: u32 = 0o770;

/// The socket group's id, when the group exists.
fn socket_group() -> Option<Gid> {
    match Group::from_name(SOCKET_GROUP) {
        Ok(Some(group)) => Some(group.gid),
        Ok(None) => {
            tracing::warn!(
                group = SOCKET_GROUP,
                "group does not exist: the agent socket stays root-only (groupadd {SOCKET_GROUP} to share it)"
            );
            None
        }
        Err(err) => {
            tracing::warn!(group = SOCKET_GROUP, cause = %err, "cannot look up the group: the agent socket stays root-only");
            None
        }
    }
}

/// Creates the roots, or closes existing ones (an install made before the roots were closed
/// gets the same modes): the data root root-only, the run root root and `group` only, its lock
/// directory writable by both.
fn close_roots(config: &AgentConfig, group: Option<Gid>) -> Result<(), DaemonError> {
    // The compose commands' per-project locks: root and the socket group create them.
    let locks = config.run_root.join(COMPOSE_LOCKS);
    for (dir, mode, gid) in [
        (&config.data_root, DATA_ROOT_MODE, None),
        (&config.run_root, RUN_ROOT_MODE, group),
        (&locks, LOCKS_MODE, group),
    ] {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        nix::unistd::chown(
            dir.as_path(),
            Some(Uid::from_raw(0)),
            Some(gid.unwrap_or(Gid::from_raw(0))),
        )
        .map_err(|e| io("chown", dir)(e.into()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(io("chmod", dir))?;
    }
    Ok(())
}

/// Binds the socket (replacing a stale one: the caller holds the lock) as root:`group` 0660, or
/// root:root when the group does not exist.
fn bind_socket(
    path: &Path,
    group: Option<Gid>,
) -> Result<(std::os::unix::net::UnixListener, PeerPolicy), DaemonError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(io("remove stale socket", path)(source)),
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(io("bind", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
        .map_err(io("chmod", path))?;
    nix::unistd::chown(
        path,
        Some(Uid::from_raw(0)),
        Some(group.unwrap_or(Gid::from_raw(0))),
    )
    .map_err(|e| io("chown", path)(e.into()))?;
    Ok((listener, PeerPolicy { group }))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the agent with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
