//! Each node's own agent: `bosun agent --foreground` started in the node's namespace with the
//! node's data root (the one its cluster daemon uses), a run root and a cgroup parent of its
//! own, so the node daemon runs its tasks as real containers. A busybox image is imported
//! into each agent from a directory (no registry needed).
//!
//! Stopping an agent removes its containers first (their shims exit with them), then the
//! agent, then whatever it left mounted under its roots and its cgroups; its bridges and
//! nftables table live in the node's namespace and go with the lab.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Bed;

use testkit::teardown;

/// A node's agent.
pub struct NodeAgent {
    child: Child,
    /// Its run root (the socket is `bosun.sock` inside).
    pub run_root: PathBuf,
    /// The cgroup its containers' cgroups go under.
    pub cgroup_parent: String,
}

impl NodeAgent {
    /// The agent's socket.
    pub fn socket(&self) -> PathBuf {
        self.run_root.join("bosun.sock")
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Runs `future` to completion on a runtime of its own (the bed's calls are synchronous and
/// may be made from inside a test's runtime).
pub fn on_runtime<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    })
    .join()
    .expect("the runtime thread")
}

fn answers(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

impl Bed {
    /// The bed's own directory (data roots, run roots, logs).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// Sets the environment that points `bosun` at member `i`'s agent (its run root, so a
    /// node daemon started by `cluster init|join` or [`Bed::restart`] finds the socket).
    pub(super) fn agent_env(&self, i: usize, command: &mut Command) {
        if let Some(agent) = &self.members[i].agent {
            command
                .env("BOSUN_RUN_ROOT", &agent.run_root)
                .env("BOSUN_HOST", format!("unix://{}", agent.socket().display()))
                .env("BOSUN_CGROUP_PARENT", &agent.cgroup_parent);
        }
        if let Some(lab) = &self.lab {
            // The CLI asks a registry run on a node of the lab over plain HTTP, as the agents.
            command.env("BOSUN_INSECURE_REGISTRIES", self.lab_registries(lab));
        }
    }

    /// The lab's addresses, as `BOSUN_INSECURE_REGISTRIES` lists them.
    fn lab_registries(&self, lab: &super::lab::Lab) -> String {
        let addrs: Vec<String> = (0..self.members.len())
            .map(|n| lab.addr(n).to_string())
            .collect();
        addrs.join(",")
    }

    /// Three managers and two workers in their own lab, each with its own agent holding the
    /// busybox image as `image`: the bed of the multi-node tests that run real containers.
    pub fn managers_and_workers_with_agents(bin: &Path, image: &str) -> Bed {
        let mut bed = Bed::new_in_lab(bin, 5);
        bed.start_agents();
        bed.init();
        bed.join(1);
        bed.join(2);
        bed.join_worker(3);
        bed.join_worker(4);
        bed.import_busybox(image);
        bed
    }

    /// Starts every member's agent; call before the members start their cluster daemons.
    pub fn start_agents(&mut self) {
        for i in 0..self.members.len() {
            self.start_agent(i);
        }
    }

    /// Starts member `i`'s agent in its namespace and waits until its socket answers.
    pub fn start_agent(&mut self, i: usize) {
        let root = self.members[i].root.clone();
        let run_root = self.dir().join(format!("run{i}"));
        let tag = self
            .dir()
            .file_name()
            .map(|n| n.to_string_lossy().trim_start_matches('.').to_owned())
            .unwrap_or_default();
        let cgroup_parent = format!("bosun-bed-{tag}-{i}");
        std::fs::create_dir_all(&root).expect("data root");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join(format!("agent{i}.log")))
            .expect("agent log");
        let mut command = Command::new(&self.bin);
        command
            .args(["agent", "--foreground", "--data-root"])
            .arg(&root)
            .arg("--run-root")
            .arg(&run_root)
            .arg("--cgroup-parent")
            .arg(&cgroup_parent)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("agent log"))
            .stderr(log);
        if let Some(lab) = &self.lab {
            // A registry a test runs on a node of the lab speaks plain HTTP.
            command.env("BOSUN_INSECURE_REGISTRIES", self.lab_registries(lab));
        }
        let child = match &self.lab {
            Some(lab) => lab.spawn(i, command),
            None => command.spawn().expect("start bosun agent"),
        };
        let agent = NodeAgent {
            child,
            run_root,
            cgroup_parent,
        };
        let socket = agent.socket();
        self.members[i].agent = Some(agent);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !answers(&socket) {
            assert!(
                Instant::now() < deadline,
                "agent of member {i} did not answer: {}",
                self.agent_log(i)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of member `i`'s agent log.
    pub fn agent_log(&self, i: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir().join(format!("agent{i}.log"))).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text.get(start..).unwrap_or(&text).to_owned()
    }

    /// A busybox root filesystem (every applet linked), made once in the bed's directory.
    pub fn busybox_rootfs(&self) -> PathBuf {
        let root = self.dir().join("busybox-rootfs");
        let bin = root.join("bin");
        if bin.join("sh").exists() {
            return root;
        }
        std::fs::create_dir_all(&bin).expect("rootfs dir");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox");
        let list = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
            }
        }
        root
    }

    /// Imports the busybox root filesystem as `reference` into every member's agent.
    pub fn import_busybox(&self, reference: &str) {
        let rootfs = self.busybox_rootfs().display().to_string();
        let (ok, out, err) = self.bosun(0, &["image", "import", &rootfs, reference]);
        assert!(ok, "image import on member 0: {out}{err}");
        // One import carried to the others, so every node holds the same image (the same
        // digest), as a pull from one registry would give; separate imports differ in their
        // creation time whenever they straddle a second.
        let archive = self.dir().join("busybox-import.tar").display().to_string();
        let (ok, out, err) = self.bosun(0, &["image", "save", "-o", &archive, reference]);
        assert!(ok, "image save on member 0: {out}{err}");
        for i in 1..self.members.len() {
            let (ok, out, err) = self.bosun(i, &["image", "load", "-q", "-i", &archive]);
            assert!(ok, "image load on member {i}: {out}{err}");
        }
        let _ = std::fs::remove_file(&archive);
    }

    /// Member `i`'s containers as its agent lists them (all, with their labels).
    pub fn containers(&self, i: usize) -> Vec<api::agent::ContainerSummary> {
        let socket = self.members[i].agent.as_ref().expect("an agent").socket();
        on_runtime(async move {
            let mut client = api::AgentClient::connect(&socket).await.expect("agent");
            client
                .list(true, Vec::new())
                .await
                .expect("list containers")
        })
    }

    /// Stops member `i`'s agent after removing its containers, and removes what it left in
    /// the kernel outside its namespace (mounts under its roots, its cgroups).
    pub fn stop_agent(&mut self, i: usize) {
        let Some(mut agent) = self.members[i].agent.take() else {
            return;
        };
        let socket = agent.socket();
        if answers(&socket) {
            on_runtime(async move {
                let Ok(mut client) = api::AgentClient::connect(&socket).await else {
                    return;
                };
                for c in client.list(true, Vec::new()).await.unwrap_or_default() {
                    let _ = client.remove_with_volumes(&c.id, true, true).await;
                }
            });
        }
        let pid = Pid::from_raw(agent.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = agent.child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = agent.child.kill();
                let _ = agent.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        teardown::unmount_below(&self.members[i].root);
        teardown::unmount_below(&agent.run_root);
        teardown::remove_cgroups(&agent.cgroup_parent);
    }
}

/// Asserts that a dropped bed left nothing behind: no lab namespace, link or rule tagged `tag`,
/// and no mount under its directory `dir`.
pub fn assert_nothing_left(tag: &str, dir: &Path) {
    assert_eq!(super::lab::leftovers(tag), Vec::<String>::new());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let dir = dir.display().to_string();
    assert!(
        !mounts.lines().any(|l| l.contains(&dir)),
        "mounts left under {dir}"
    );
}
