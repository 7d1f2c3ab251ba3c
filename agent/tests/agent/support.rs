//! Test helpers: a busybox rootfs, and a per-test agent (own data root, run root and cgroup
//! parent) serving on a temp socket, torn down even when the test fails.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agent::peer::PeerPolicy;
use agent::{AgentClient, AgentConfig, Node, serve};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Held by tests that create networks: the nftables table is shared by every data root in
/// the test's network namespace, so only one of them may own it at a time.
pub static NET_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`NET_LOCK`] (a test that failed while holding it does not poison the others).
pub fn net_lock() -> std::sync::MutexGuard<'static, ()> {
    NET_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Moves the test process into a network namespace of its own with loopback up, so that
/// bridges, veths and firewall rules never touch the host. Call first thing in `main`.
pub fn isolate_network() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    engine::network::link::Links::open()
        .unwrap()
        .up_by_name("lo")
        .unwrap();
}

/// Builds a minimal busybox rootfs in `dir`.
pub fn build_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
}

/// The cgroup parent prefix of this test process.
pub fn cgroup_prefix() -> String {
    format!("bosun-agent-test-{}-", std::process::id())
}

/// One test's roots.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub config: AgentConfig,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        build_rootfs(&tmp.path().join("rootfs"));
        let mut config = AgentConfig::new(tmp.path().join("data"), tmp.path().join("run"));
        config.cgroup_parent = format!(
            "{}{}",
            cgroup_prefix(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        std::fs::create_dir_all(&config.run_root).unwrap();
        Env { tmp, config }
    }

    pub fn rootfs(&self) -> String {
        self.tmp.path().join("rootfs").display().to_string()
    }

    pub fn runtime(&self) -> engine::Runtime {
        let mut rc =
            engine::RuntimeConfig::new(&self.config.data_root, &self.config.run_root).unwrap();
        rc.cgroup_parent = self.config.cgroup_parent.clone();
        engine::Runtime::new(rc).unwrap()
    }

    pub fn node(&self) -> Arc<Node> {
        Node::open(
            self.runtime(),
            &self.config.data_root,
            &self.config.run_root,
        )
        .unwrap()
    }

    pub fn socket(&self) -> PathBuf {
        self.config.socket()
    }

    /// Starts the real server on the socket with `policy`; must run inside a tokio runtime.
    pub async fn serve(&self, policy: PeerPolicy) -> (AgentClient, Server) {
        let _ = std::fs::remove_file(self.socket());
        let listener = tokio::net::UnixListener::bind(self.socket()).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let node = self.node();
        let task = tokio::spawn(async move {
            serve(listener, node, policy, async {
                let _ = rx.await;
            })
            .await
            .map_err(|e| e.to_string())
        });
        let client = AgentClient::connect(&self.socket()).await.unwrap();
        (
            client,
            Server {
                stop: Some(tx),
                task,
            },
        )
    }

    /// A container config running `script` with sh, with a loopback-only network.
    pub fn config(&self, script: &str) -> agent::proto::ContainerConfig {
        agent::proto::ContainerConfig {
            rootfs: self.rootfs(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            network_mode: "none".into(),
            ..Default::default()
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let runtime = self.runtime();
        for id in runtime.list().unwrap_or_default() {
            let _ = runtime.remove(&id, true);
        }
        let networks = runtime.networks();
        for net in networks.list().unwrap_or_default() {
            for id in net.endpoints.keys() {
                let _ = networks.detach(&net.id, id);
            }
            let _ = networks.remove(&net.id);
        }
        for root in runtime.layout().hierarchies() {
            let _ = std::fs::remove_dir(root.join(&self.config.cgroup_parent));
        }
    }
}

/// A running server.
pub struct Server {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), String>>,
}

impl Server {
    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) -> Result<(), String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap()
    }
}

/// Cgroup directories this test process left behind.
pub fn leftover_cgroups() -> Vec<PathBuf> {
    let Ok(layout) = engine::cgroups::Layout::probe() else {
        return Vec::new();
    };
    let prefix = cgroup_prefix();
    let mut out = Vec::new();
    for root in layout.hierarchies() {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                out.push(entry.path());
            }
        }
    }
    out
}

/// A multi-threaded runtime with two workers, as the agent uses.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
