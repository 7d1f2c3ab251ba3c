//! A multi-process test bed of `bosun` managers, each with its own data root, either on
//! loopback (own port each) or in a [`lab::Lab`] (own network namespace and address each):
//! start, join, kill (SIGKILL), pause (SIGSTOP), resume and restart managers, and reach each
//! through the manager API with its own certificate. Every process is killed on drop, then the
//! lab is torn down.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code)]

pub mod agents;
pub mod history;
pub mod lab;
pub mod procstat;
pub mod register;
pub mod services;
mod waits;

// Each test binary includes the bed and uses part of it.
#[allow(unused_imports)]
pub use waits::{converged, status_until, wait_certificate_role};

/// The `bosun` binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bosun"))
}

/// Runs blocking test-bed work (processes, waits) from a multi-threaded tokio test.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cluster_manager::ManagerClient;
use cluster_manager::pki::NodeIdentity;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// One manager of the bed.
pub struct Member {
    /// Its data root.
    pub root: PathBuf,
    /// Its API address.
    pub addr: String,
    /// Its current process id.
    pub pid: Option<u32>,
    child: Option<Child>,
    /// The node's agent, once [`Bed::start_agents`] started one.
    pub agent: Option<agents::NodeAgent>,
}

/// The bed.
pub struct Bed {
    bin: PathBuf,
    _dir: tempfile::TempDir,
    /// The managers, in join order (raft id = index + 1).
    pub members: Vec<Member>,
    /// The network lab the managers run in, if not on loopback.
    pub lab: Option<lab::Lab>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Bed {
    /// A bed of `n` not-yet-started managers running `bin`.
    pub fn new(bin: &Path, n: usize) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let members = (0..n)
            .map(|i| Member {
                root: dir.path().join(format!("m{i}")),
                addr: format!("127.0.0.1:{}", free_port()),
                pid: None,
                child: None,
                agent: None,
            })
            .collect();
        Bed {
            bin: bin.to_path_buf(),
            _dir: dir,
            members,
            lab: None,
        }
    }

    /// A bed of `n` not-yet-started managers, each in its own namespace of a new lab,
    /// listening on its lab address.
    pub fn new_in_lab(bin: &Path, n: usize) -> Self {
        let lab = lab::Lab::new(n);
        let mut bed = Bed::new(bin, n);
        for (i, member) in bed.members.iter_mut().enumerate() {
            member.addr = format!("{}:4242", lab.addr(i));
        }
        bed.lab = Some(lab);
        bed
    }

    /// A bed of `n` managers in one cluster, each in its own lab namespace.
    pub fn cluster_in_lab(bin: &Path, n: usize) -> Self {
        let mut bed = Bed::new_in_lab(bin, n);
        bed.init();
        for i in 1..n {
            bed.join(i);
        }
        bed
    }

    /// The lab (panics on a loopback bed).
    pub fn lab(&mut self) -> &mut lab::Lab {
        self.lab.as_mut().expect("a bed in a lab")
    }

    /// The lab, to look at: members' addresses, commands run in a member's namespace.
    pub fn lab_view(&self) -> &lab::Lab {
        self.lab.as_ref().expect("a bed in a lab")
    }

    /// Runs `bosun <args>` for member `i`, returning (success, stdout, stderr).
    pub fn bosun(&self, i: usize, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .env("BOSUN_DATA_ROOT", &self.members[i].root);
        self.agent_env(i, &mut command);
        let output = match &self.lab {
            Some(lab) => lab.output(i, command),
            None => command.output().expect("run bosun"),
        };
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs `bosun <args>` for member `i` off the caller's runtime thread and asserts that it
    /// succeeded; returns (stdout, stderr).
    pub fn bosun_ok(&self, i: usize, args: &[&str]) -> (String, String) {
        let (ok, out, err) = blocking(|| self.bosun(i, args));
        assert!(ok, "bosun {args:?} failed: {out}{err}");
        (out, err)
    }

    /// [`Bed::bosun_ok`]'s stdout and stderr together.
    pub fn output(&self, i: usize, args: &[&str]) -> String {
        let (out, err) = self.bosun_ok(i, args);
        format!("{out}{err}")
    }

    /// Records the pid of member `i`'s background manager from its pid file.
    pub fn record_pid(&mut self, i: usize) {
        let pid_file = self.members[i].root.join("cluster/manager.pid");
        let pid = std::fs::read_to_string(pid_file).expect("pid file");
        self.members[i].pid = Some(pid.trim().parse().expect("pid"));
    }

    /// `cluster init` on member 0.
    pub fn init(&mut self) {
        self.init_with(&[]);
    }

    /// `cluster init <extra>` on member 0.
    pub fn init_with(&mut self, extra: &[&str]) {
        let addr = self.members[0].addr.clone();
        let mut args = vec![
            "cluster",
            "init",
            "--listen-addr",
            &addr,
            "--advertise-addr",
            &addr,
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = self.bosun(0, &args);
        if self.members[0].root.join("cluster/manager.pid").exists() {
            self.record_pid(0);
        }
        assert!(ok, "init failed: {out}{err}");
    }

    /// The end of member `i`'s manager log.
    pub fn log(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.members[i].root.join("cluster/manager.log"))
            .unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or(&text).to_owned()
    }

    /// The join token of `role`, asked of member `via`.
    pub fn token(&self, via: usize, role: &str) -> String {
        let (ok, out, err) = self.bosun(via, &["cluster", "join-token", role, "-q"]);
        assert!(ok, "join-token failed: {err}");
        out.trim().to_owned()
    }

    /// Joins member `i` as a manager through member 0.
    pub fn join(&mut self, i: usize) {
        self.join_as(i, "manager");
    }

    /// Joins member `i` as a worker through member 0: its daemon runs the worker role
    /// (heartbeats), and the manager role once promoted.
    pub fn join_worker(&mut self, i: usize) {
        self.join_as(i, "worker");
    }

    /// Joins member `i` through member 0 with the join token of `role`.
    fn join_as(&mut self, i: usize, role: &str) {
        let token = self.token(0, role);
        let (addr, target) = (self.members[i].addr.clone(), self.members[0].addr.clone());
        let (ok, out, err) = self.bosun(
            i,
            &[
                "cluster",
                "join",
                "--token",
                &token,
                &target,
                "--listen-addr",
                &addr,
            ],
        );
        if self.members[i].root.join("cluster/manager.pid").exists() {
            self.record_pid(i);
        }
        assert!(
            ok,
            "{role} join of member {i} failed: {out}{err}
daemon log:
{}",
            self.log(i)
        );
    }

    /// The node id of member `i`.
    pub fn node_id(&self, i: usize) -> String {
        cluster_manager::LocalState::load(&self.members[i].root)
            .expect("local state")
            .node_id
    }

    /// A bed of `n` managers in one cluster.
    pub fn cluster(bin: &Path, n: usize) -> Self {
        let mut bed = Bed::new(bin, n);
        bed.init();
        for i in 1..n {
            bed.join(i);
        }
        bed
    }

    /// Sends `signal` to member `i`.
    pub fn signal(&self, i: usize, signal: Signal) {
        if let Some(pid) = self.members[i].pid {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    /// SIGKILLs member `i` and waits for it to be gone.
    pub fn kill(&mut self, i: usize) {
        self.signal(i, Signal::SIGCONT);
        self.signal(i, Signal::SIGKILL);
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.wait();
        } else if let Some(pid) = self.members[i].pid {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !gone(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.members[i].pid = None;
    }

    /// Starts member `i`'s manager again (`bosun manager`) from its data root.
    pub fn restart(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.members[i].root.join("cluster/manager.log"))
            .expect("log file");
        let mut command = Command::new(&self.bin);
        command
            .args(["manager"])
            .env("BOSUN_DATA_ROOT", &self.members[i].root)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        self.agent_env(i, &mut command);
        let child = match &self.lab {
            Some(lab) => lab.spawn(i, command),
            None => command.spawn().expect("start bosun manager"),
        };
        self.members[i].pid = Some(child.id());
        self.members[i].child = Some(child);
    }

    /// A client of member `i`'s API with member `i`'s certificate.
    pub fn client(&self, i: usize) -> ManagerClient {
        let identity = NodeIdentity::load(&self.members[i].root.join("cluster")).expect("identity");
        ManagerClient::new(&self.members[i].addr, &identity).expect("client")
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        for i in 0..self.members.len() {
            self.stop_agent(i);
        }
    }
}

/// Whether process `pid` has exited (a zombie counts as exited).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits until member `i`'s manager process exits by itself; false on timeout.
pub fn wait_gone(bed: &Bed, i: usize, timeout: Duration) -> bool {
    let Some(pid) = bed.members[i].pid else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A pseudo-random number below `n` (xorshift seeded from the clock), for picking victims.
pub fn random_below(n: usize) -> usize {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x % n.max(1) as u64) as usize
}

/// A batch creating one config record named `id` (the tests' unit of write).
pub fn config(id: &str) -> cluster_state::Batch {
    use cluster_state::{Batch, Blob, Command, Meta, Record};
    Batch::new(
        0,
        vec![Command::Create(Record::Config(Blob {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            name: id.to_owned(),
            data: id.as_bytes().to_vec(),
        }))],
    )
}

/// Retries writing [`config`] `id` until it succeeds or `within` passes; returns the time it
/// took.
pub async fn write_within(client: &ManagerClient, id: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match client.write(&config(id)).await {
            Ok(_) => return start.elapsed(),
            Err(err) if start.elapsed() > within => panic!("write {id} failed: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The leader (bed index) as member `via` reports it.
pub async fn leader_index(bed: &Bed, via: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(status) = bed.client(via).status().await
            && status.leader != 0
        {
            return status.leader as usize - 1;
        }
        assert!(Instant::now() < deadline, "no leader seen by member {via}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
