//! The manager daemon over a data root: creating a cluster, joining one, rebuilding one from a
//! surviving manager, and serving the API until shutdown or removal.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tonic::transport::Server;

use super::blobs::{BlobsServer, BlobsService};
use super::dispatcher::proto::dispatcher_server::DispatcherServer;
use super::dispatcher::sets::AllSets;
use super::dispatcher::{self, DispatcherService};
use super::driver::{self, Exit};
use super::logs::{LogsServer, LogsService};
use super::peers::Peers;
use super::proto::manager_server::ManagerServer;
use super::service::ManagerService;
use super::services::{ServicesApi, ServicesServer};
use super::state::{LocalState, cluster_dir};
use super::{ManagerClient, ManagerError, tls, workers};
use crate::pki::{ClusterCa, NODE_VALIDITY, NodeIdentity, new_key_and_csr, new_secret};
use cluster_raft::{NodeConfig, RaftNode};
use cluster_state::{
    Availability, Batch, ClusterInfo, Command, Kind, Meta, Node, NodeRole, NodeState, Record,
    SealKey,
};

/// Records a new cluster's first manager proposes once it leads.
const BOOTSTRAP_FILE: &str = "bootstrap.json";
/// Marks a cluster rebuilt with `--force-new-cluster` whose old managers are still recorded.
const FORCED_FILE: &str = "force-new-cluster";

/// A manager's data root and local state.
#[derive(Debug, Clone)]
pub struct Manager {
    data_root: PathBuf,
    state: LocalState,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ManagerError + '_ {
    move |source| ManagerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn seal_err(err: cluster_state::SealError) -> ManagerError {
    ManagerError::State(err.to_string())
}

fn refuse_if_member(data_root: &Path) -> Result<(), ManagerError> {
    if LocalState::exists(data_root) {
        return Err(ManagerError::State(format!(
            "this node is already part of a cluster ({}); leave it first",
            cluster_dir(data_root).display()
        )));
    }
    Ok(())
}

/// Writes `data` to `path`, readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> Result<(), ManagerError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(data).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

fn new_node_id() -> String {
    let mut bytes = [0u8; 12];
    crate::pki::secure_random(&mut bytes);
    hex::encode(bytes)
}

impl Manager {
    /// The manager at `data_root`.
    pub fn open(data_root: &Path) -> Result<Self, ManagerError> {
        Ok(Manager {
            data_root: data_root.to_path_buf(),
            state: LocalState::load(data_root)?,
        })
    }

    /// Local state.
    pub fn state(&self) -> &LocalState {
        &self.state
    }

    /// Creates a new cluster with this node as its only manager: the root CA, this node's
    /// certificate, join secrets, and raft storage bootstrapped with raft id 1. Node
    /// certificates are valid for `cert_validity` (default [`NODE_VALIDITY`]).
    pub fn init(
        data_root: &Path,
        listen_addr: &str,
        advertise_addr: &str,
        hostname: &str,
        cert_validity: Option<Duration>,
    ) -> Result<Self, ManagerError> {
        refuse_if_member(data_root)?;
        let dir = cluster_dir(data_root);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let ca = ClusterCa::generate()?;
        let node_id = new_node_id();
        let (key_pem, csr) = new_key_and_csr()?;
        let validity = cert_validity.unwrap_or(NODE_VALIDITY);
        let cert_pem = ca.sign(&csr, &node_id, NodeRole::Manager, validity)?;
        NodeIdentity {
            ca_pem: ca.cert_pem.clone(),
            cert_pem,
            key_pem,
        }
        .save(&dir)?;
        let seal = SealKey::generate();
        seal.save(&dir).map_err(seal_err)?;
        drop(RaftNode::bootstrap(NodeConfig::new(1), &dir, &[1])?);
        let info = ClusterInfo {
            meta: Meta {
                id: ClusterInfo::ID.to_owned(),
                ..Meta::default()
            },
            ca_cert_pem: ca.cert_pem,
            ca_key_pem: ca.key_pem,
            worker_secret: new_secret(),
            manager_secret: new_secret(),
            next_raft_id: 2,
            cert_validity_secs: validity.as_secs().max(1),
            removed_nodes: Default::default(),
        };
        let node = Node {
            meta: Meta {
                id: node_id.clone(),
                ..Meta::default()
            },
            hostname: hostname.to_owned(),
            addr: advertise_addr.to_owned(),
            role: NodeRole::Manager,
            raft_id: Some(1),
            availability: Availability::Active,
            state: NodeState::Ready,
            desired_role: None,
            demoted_at_ms: None,
            platform: Default::default(),
            resources: Default::default(),
        };
        let mut batch = Batch::new(
            0,
            vec![
                Command::Create(Record::Cluster(info)),
                Command::Create(Record::Node(node)),
            ],
        );
        // The CA key is sealed before it touches the disk, as it is in the log.
        seal.seal_batch(&mut batch);
        let path = dir.join(BOOTSTRAP_FILE);
        let data = batch.encode().map_err(|e| ManagerError::Decode {
            what: "bootstrap batch".into(),
            message: e.to_string(),
        })?;
        write_private(&path, &data)?;
        let state = LocalState {
            node_id,
            role: NodeRole::Manager,
            raft_id: Some(1),
            listen_addr: listen_addr.to_owned(),
            advertise_addr: advertise_addr.to_owned(),
            peers: Default::default(),
        };
        state.save(data_root)?;
        Manager::open(data_root)
    }

    /// Joins the cluster of the manager at `addr` with `token` and stores the identity it
    /// grants. A manager's raft storage starts empty and fills from the leader's snapshot.
    pub async fn join(
        data_root: &Path,
        addr: &str,
        token: &str,
        listen_addr: &str,
        advertise_addr: &str,
        hostname: &str,
    ) -> Result<Self, ManagerError> {
        refuse_if_member(data_root)?;
        let joined = ManagerClient::join(addr, token, hostname, advertise_addr).await?;
        let dir = cluster_dir(data_root);
        joined.identity.save(&dir)?;
        if let Some(key) = joined.seal_key.as_deref().and_then(SealKey::from_bytes) {
            key.save(&dir).map_err(seal_err)?;
        }
        let role = crate::pki::parse_role(&joined.role).unwrap_or(NodeRole::Worker);
        let state = LocalState {
            node_id: joined.node_id,
            role,
            raft_id: joined.raft_id,
            listen_addr: listen_addr.to_owned(),
            advertise_addr: advertise_addr.to_owned(),
            peers: joined.managers,
        };
        state.save(data_root)?;
        Manager::open(data_root)
    }

    /// Rewrites this manager's raft state into a one-manager cluster keeping every record;
    /// once it leads, the other managers' records are marked down and demoted.
    pub fn force_new_cluster(&self) -> Result<(), ManagerError> {
        let raft_id = self.raft_id()?;
        let dir = cluster_dir(&self.data_root);
        drop(RaftNode::force_new_cluster(NodeConfig::new(raft_id), &dir)?);
        let marker = dir.join(FORCED_FILE);
        std::fs::write(&marker, b"").map_err(io(&marker))
    }

    fn raft_id(&self) -> Result<u64, ManagerError> {
        self.state.raft_id.ok_or_else(|| {
            ManagerError::State(format!("node {} is not a manager", self.state.node_id))
        })
    }

    /// A client of this node's manager API, authenticated with this node's certificate.
    pub fn client(&self) -> Result<ManagerClient, ManagerError> {
        let identity = NodeIdentity::load(&cluster_dir(&self.data_root))?;
        ManagerClient::new(&self.state.advertise_addr, &identity)
    }

    /// A client of this node's services API, authenticated with this node's certificate.
    pub fn services_client(&self) -> Result<crate::services::ServicesClient, ManagerError> {
        let identity = NodeIdentity::load(&cluster_dir(&self.data_root))?;
        crate::services::ServicesClient::new(&self.state.advertise_addr, &identity)
    }

    /// A client of this node's logs API, authenticated with this node's certificate.
    pub fn logs_client(&self) -> Result<crate::logs::LogsClient, ManagerError> {
        let identity = NodeIdentity::load(&cluster_dir(&self.data_root))?;
        crate::logs::LogsClient::new(&self.state.advertise_addr, &identity)
    }

    /// Deletes this node's cluster state (after leaving).
    pub fn wipe(self) -> Result<(), ManagerError> {
        let dir = cluster_dir(&self.data_root);
        std::fs::remove_dir_all(&dir).map_err(io(&dir))
    }
}

/// Environment variable: the raft election timeout of this manager (default 1s).
pub(crate) const ELECTION_TIMEOUT_ENV: &str = "BOSUN_RAFT_ELECTION_TIMEOUT";
/// Environment variable: the leader's heartbeat interval on this manager (default 100ms).
pub(crate) const HEARTBEAT_ENV: &str = "BOSUN_RAFT_HEARTBEAT";

/// This manager's raft settings: the defaults, with the election timeout and heartbeat
/// interval taken from [`ELECTION_TIMEOUT_ENV`] and [`HEARTBEAT_ENV`] when set (`1500ms`, `2s`).
fn node_config(raft_id: u64) -> Result<NodeConfig, ManagerError> {
    let defaults = NodeConfig::new(raft_id);
    let read = |name: &str, default: Duration| -> Result<Duration, ManagerError> {
        match std::env::var(name) {
            Ok(text) if !text.is_empty() => humantime::parse_duration(&text)
                .map_err(|e| ManagerError::State(format!("{name}={text:?}: {e}"))),
            _ => Ok(default),
        }
    };
    let election = read(
        ELECTION_TIMEOUT_ENV,
        defaults.tick_interval * defaults.election_ticks as u32,
    )?;
    let heartbeat = read(
        HEARTBEAT_ENV,
        defaults.tick_interval * defaults.heartbeat_ticks as u32,
    )?;
    defaults
        .with_timing(election, heartbeat)
        .map_err(ManagerError::State)
}

/// Runs the manager of `data_root` on `listener` until `shutdown` resolves or this manager
/// is removed from the cluster; it hands other nodes the images of the agent at
/// `agent_socket` ([`crate::blobs`]). Returns how the raft loop ended.
pub async fn serve(
    data_root: &Path,
    listener: TcpListener,
    agent_socket: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<Exit, ManagerError> {
    let manager = Manager::open(data_root)?;
    let raft_id = manager.raft_id()?;
    let dir = cluster_dir(data_root);
    let identity = NodeIdentity::load(&dir)?;
    let certs = tls::CertStore::new(&identity)?;
    let node = RaftNode::open(node_config(raft_id)?, &dir)?;
    let client_config = tls::client_config_for(&certs, &identity)?;
    let runtime = tokio::runtime::Handle::current();
    let peer_config = client_config.clone();
    let seed = manager.state.peers.clone();
    let seal = match SealKey::load(&dir) {
        Ok(key) => Some(key),
        Err(err) => {
            tracing::warn!(cause = %err, "secrets will not be sealed at rest");
            None
        }
    };
    let (raft, mut exit) = driver::spawn(node, seed, seal.clone(), move |handle| {
        Peers::new(runtime, peer_config, handle)
    })
    .map_err(io(&dir))?;
    tokio::spawn(bootstrap(
        raft.clone(),
        dir.clone(),
        manager.state.node_id.clone(),
    ));
    let service = Arc::new(ManagerService::new(raft.clone(), client_config).with_seal_key(seal));
    let liveness = tokio::spawn(workers::watch_liveness(raft.clone(), service.liveness()));
    let (sets_tx, sets) = watch::channel(Arc::new(AllSets::new()));
    let (led_tx, led) = watch::channel(false);
    let leader = tokio::spawn(dispatcher::hub::watch_leader(raft.clone(), led_tx));
    let services = ServicesServer::new(ServicesApi::new(service.clone()));
    let blobs = BlobsServer::new(BlobsService::new(
        service.clone(),
        agent_socket.to_path_buf(),
    ));
    let control = tokio::spawn(super::control::run(raft.clone(), service.liveness()));
    let (ingress_tx, ingress) = watch::channel(Arc::new(dispatcher::hub::AllIngress::new()));
    let (attached_tx, attached) = watch::channel(Arc::new(dispatcher::hub::AllAttached::new()));
    let hub = tokio::spawn(dispatcher::hub::run(
        raft,
        sets_tx,
        (ingress_tx, attached_tx),
    ));
    let (reports, reports_rx) = mpsc::channel(1024);
    let batcher = tokio::spawn(dispatcher::batch::run(service.clone(), reports_rx));
    let (sessions_stop, sessions_stopped) = watch::channel(false);
    let logs = LogsServer::new(LogsService::new(service.clone(), sessions_stopped.clone()));
    let dispatcher = DispatcherService::new(
        service.clone(),
        (sets, ingress, attached),
        reports,
        sessions_stopped,
        led,
    );
    let incoming = tls::incoming(listener, tls::server_config_for(&certs, &identity)?);
    let renewal = tokio::spawn(super::renewal::renew_certificates(
        certs,
        dir.clone(),
        manager.state.advertise_addr.clone(),
    ));
    let mut exit_watch = exit.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = exit_watch.wait_for(|e| *e != Exit::Running) => {}
        }
        // Assignment and log streams never end by themselves: end them, so the server can stop.
        let _ = sessions_stop.send(true);
    };
    let served = Server::builder()
        .add_service(
            ManagerServer::from_arc(service)
                .max_decoding_message_size(tls::MAX_MESSAGE)
                .max_encoding_message_size(tls::MAX_MESSAGE),
        )
        .add_service(DispatcherServer::new(dispatcher))
        .add_service(services)
        .add_service(blobs)
        .add_service(logs)
        .serve_with_incoming_shutdown(incoming, stop)
        .await;
    renewal.abort();
    // Their raft handles must go too, or the raft thread would outlive the server.
    for task in [liveness, leader, hub, batcher, control] {
        task.abort();
        let _ = task.await;
    }
    if let Err(err) = served {
        return Err(ManagerError::State(format!(
            "manager api server failed: {}",
            super::error_chain(&err)
        )));
    }
    // The server dropped the service and with it the last handle: the raft thread stops.
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        exit.wait_for(|e| *e != Exit::Running),
    )
    .await;
    let ended = match result {
        Ok(Ok(exit)) => exit.clone(),
        _ => Exit::Stopped,
    };
    match ended {
        Exit::Failed(message) => Err(ManagerError::State(message)),
        other => Ok(other),
    }
}

/// Proposes the first records of a new cluster, and the cleanup after a forced rebuild, once
/// this manager leads; retries until they are in.
async fn bootstrap(raft: driver::RaftHandle, dir: PathBuf, self_id: String) {
    let path = dir.join(BOOTSTRAP_FILE);
    if let Ok(data) = std::fs::read(&path)
        && let Ok(batch) = Batch::decode(&data)
    {
        loop {
            match raft.write(batch.clone()).await {
                Ok(_) | Err(driver::Refused::Write(cluster_raft::WriteError::Refused(_))) => {
                    let _ = std::fs::remove_file(&path);
                    break;
                }
                Err(driver::Refused::Stopped) => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    let marker = dir.join(FORCED_FILE);
    if !marker.exists() {
        return;
    }
    loop {
        match demote_others(&raft, &self_id).await {
            Ok(()) => {
                let _ = std::fs::remove_file(&marker);
                return;
            }
            Err(driver::Refused::Stopped) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Marks every manager but `self_id` down and demoted (after `--force-new-cluster`).
async fn demote_others(raft: &driver::RaftHandle, self_id: &str) -> Result<(), driver::Refused> {
    let (data, _) = raft.read(driver::Query::Kind(Kind::Node)).await?;
    let records: Vec<Record> = serde_json::from_slice(&data).unwrap_or_default();
    let commands: Vec<Command> = records
        .into_iter()
        .filter_map(|record| match record {
            Record::Node(node) if node.meta.id != self_id && node.raft_id.is_some() => {
                let version = node.meta.version;
                let mut node = node;
                node.role = NodeRole::Worker;
                node.raft_id = None;
                node.state = NodeState::Down;
                node.demoted_at_ms = Some(super::roles::now_ms());
                Some(Command::Update {
                    record: Record::Node(node),
                    expected_version: version,
                })
            }
            _ => None,
        })
        .collect();
    if !commands.is_empty() {
        raft.write(Batch::new(0, commands)).await?;
    }
    Ok(())
}
