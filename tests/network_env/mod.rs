//! A lab for the networking end-to-end tests (root): each test gets a network namespace of its
//! own standing for the host, whose iptables-style `FORWARD` chain has a drop policy (as dockerd
//! leaves a host), an "outside" namespace linked to it by a veth (192.0.2.1 ↔ 192.0.2.2), and
//! its own roots and agent, started inside that namespace by the first `bosun` command. At the
//! end the test checks that nothing of ours is left.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");
pub const IMAGE: &str = "busybox:test";

/// The python interpreter itself, not a launcher (a launcher's child would outlive its
/// kill).
pub fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    text(&out.stdout).trim().to_string()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

use super::test_images::dir as images_dir;

/// Runs a command, returns (success, stdout + stderr).
pub fn sh(args: &[&str]) -> (bool, String) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

fn must(args: &[&str]) -> String {
    let (ok, out) = sh(args);
    assert!(ok, "{args:?}: {out}");
    out
}

/// Names of our links (bridges `bsn-…`, veths `bv…`) in the namespace `ns` (None: the host).
pub fn our_links(ns: Option<&str>) -> Vec<String> {
    let mut args = vec![];
    let path;
    if let Some(ns) = ns {
        path = format!("--net=/run/netns/{ns}");
        args.extend(["nsenter", path.as_str()]);
    }
    args.extend(["ip", "-o", "link", "show"]);
    let out = must(&args);
    out.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with("bsn-") || n.starts_with("bv"))
        .collect()
}

/// One test's namespaces, roots and agent.
pub struct Lab {
    pub tmp: tempfile::TempDir,
    /// The "host" namespace.
    pub ns: String,
    /// The outside client's namespace.
    pub outside: String,
    cgroup_parent: String,
    host_links: Vec<String>,
    finished: bool,
}

impl Lab {
    pub fn new() -> Lab {
        let tmp = tempfile::tempdir().unwrap();
        let tag = tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
            .replace("tmp", "")
            .to_ascii_lowercase();
        let ns = format!("bsnt-{tag}");
        let outside = format!("bsno-{tag}");
        let host_links = our_links(None);
        must(&["ip", "netns", "add", &ns]);
        must(&["ip", "netns", "add", &outside]);
        let lab = Lab {
            tmp,
            cgroup_parent: format!("bosun-nettest-{tag}"),
            ns,
            outside,
            host_links,
            finished: false,
        };
        lab.host(&["ip", "link", "set", "lo", "up"]);
        lab.host(&[
            "ip", "link", "add", "labhost", "type", "veth", "peer", "name", "labpeer",
        ]);
        lab.host(&["ip", "link", "set", "labpeer", "netns", &lab.outside]);
        lab.host(&["ip", "addr", "add", "192.0.2.1/24", "dev", "labhost"]);
        lab.host(&["ip", "link", "set", "labhost", "up"]);
        lab.out(&["ip", "link", "set", "lo", "up"]);
        lab.out(&["ip", "addr", "add", "192.0.2.2/24", "dev", "labpeer"]);
        lab.out(&["ip", "link", "set", "labpeer", "up"]);
        lab.out(&["ip", "route", "add", "default", "via", "192.0.2.1"]);
        // What iptables-nft, and so dockerd, leaves on a host: FORWARD with policy drop.
        let nft = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", lab.ns))
            .args([
                "nft",
                "add table ip filter; add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }",
            ])
            .output()
            .unwrap();
        assert!(nft.status.success(), "nft: {}", text(&nft.stderr));
        lab
    }

    fn in_ns(ns: &str, args: &[&str]) -> (bool, String) {
        let path = format!("--net=/run/netns/{ns}");
        let mut all = vec!["nsenter", path.as_str()];
        all.extend(args);
        sh(&all)
    }

    /// Runs a command in the host namespace and expects success.
    pub fn host(&self, args: &[&str]) -> String {
        let (ok, out) = Self::in_ns(&self.ns, args);
        assert!(ok, "{args:?}: {out}");
        out
    }

    /// Runs a command in the host namespace.
    pub fn try_host(&self, args: &[&str]) -> (bool, String) {
        Self::in_ns(&self.ns, args)
    }

    /// Runs a command in the outside namespace and expects success.
    pub fn out(&self, args: &[&str]) -> String {
        let (ok, out) = Self::in_ns(&self.outside, args);
        assert!(ok, "{args:?}: {out}");
        out
    }

    /// Runs a command in the outside namespace.
    pub fn try_out(&self, args: &[&str]) -> (bool, String) {
        Self::in_ns(&self.outside, args)
    }

    pub fn data_root(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn run_root(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// `bosun <args…>` inside the host namespace with this test's roots (the first call
    /// starts the agent there).
    pub fn bosun(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .arg(BOSUN)
            .args(args)
            .env("BOSUN_DATA_ROOT", self.data_root())
            .env("BOSUN_RUN_ROOT", self.run_root())
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env("BOSUN_CONFIG", self.tmp.path().join("config"))
            .env_remove("BOSUN_HOST")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            out.status.success(),
            "bosun {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            !out.status.success(),
            "bosun {args:?} succeeded: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    /// Imports the busybox test image as [`IMAGE`].
    pub fn image(&self) {
        let tar = images_dir().join("busybox.tar");
        self.ok(&[
            "image",
            "import",
            "-c",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            IMAGE,
        ]);
    }

    /// Starts a detached container from [`IMAGE`] with `flags`, running `script` in sh.
    pub fn run(&self, name: &str, flags: &[&str], script: &str) {
        let mut args = vec!["container", "run", "-d", "--name", name];
        args.extend(flags);
        args.extend([IMAGE, "sh", "-c", script]);
        self.ok(&args);
    }

    /// Runs `script` in a running container; returns (success, stdout + stderr).
    pub fn exec(&self, container: &str, script: &str) -> (bool, String) {
        let out = self.bosun(&["container", "exec", container, "sh", "-c", script]);
        (out.status.success(), text(&out.stdout) + &text(&out.stderr))
    }

    /// Polls `script` in a container until it succeeds (servers take a moment to listen).
    pub fn exec_until(&self, container: &str, script: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (ok, out) = self.exec(container, script);
            if ok {
                return out;
            }
            assert!(Instant::now() < deadline, "{container}: {script}: {out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The container's address on `network`.
    pub fn ip(&self, container: &str, network: &str) -> String {
        let doc: serde_json::Value =
            serde_json::from_str(&self.ok(&["network", "inspect", network])).unwrap();
        let ep = &doc[0]["Containers"][container];
        let cidr = ep["IPv4Address"]
            .as_str()
            .unwrap_or_else(|| panic!("{container} not on {network}: {doc}"));
        cidr.split('/').next().unwrap().to_string()
    }

    /// Gives the link to the outside IPv6 too: host 2001:db8::1/64, outside 2001:db8::2/64
    /// (without duplicate address detection; default route via the host).
    pub fn ipv6_outside(&self) {
        self.host(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "labhost",
            "nodad",
        ]);
        self.out(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8::2/64",
            "dev",
            "labpeer",
            "nodad",
        ]);
        self.out(&["ip", "-6", "route", "add", "default", "via", "2001:db8::1"]);
    }

    /// Makes sure the host namespace's loopback has `::1` (a host whose IPv6 is disabled by
    /// default gives a new namespace none), turning IPv6 on in both test namespaces and saying
    /// so when it had to. Returns false when the kernel has no IPv6 at all.
    pub fn ipv6_loopback(&self) -> bool {
        if !Path::new("/proc/sys/net/ipv6").exists() {
            return false;
        }
        let has = |lab: &Lab| {
            lab.host(&["ip", "-6", "addr", "show", "lo"])
                .contains("::1")
        };
        if !has(self) {
            eprintln!("note: IPv6 is off in the test namespaces; turning it on there");
            for ns in [&self.ns, &self.outside] {
                for conf in ["all", "default", "lo"] {
                    let setting = format!("net.ipv6.conf.{conf}.disable_ipv6=0");
                    let (ok, out) = Self::in_ns(ns, &["sysctl", "-qw", &setting]);
                    assert!(ok, "{ns}: {setting}: {out}");
                }
            }
        }
        has(self)
    }

    /// Stops the agent (SIGTERM; containers keep running); the next `bosun` command starts it
    /// again.
    pub fn restart_agent(&self) {
        self.stop_agent();
        self.ok(&["container", "ls"]);
    }

    /// The MAC address of the host-side veth of a running container's `eth0`.
    pub fn host_veth_mac(&self, container: &str) -> String {
        let pid = self.pid(container).to_string();
        let (ok, link) = sh(&[
            "nsenter", "-t", &pid, "-n", "ip", "-o", "link", "show", "eth0",
        ]);
        assert!(ok, "{container}: {link}");
        let peer = link
            .split_once("@if")
            .and_then(|(_, rest)| rest.split(':').next())
            .unwrap_or_else(|| panic!("{container}: no veth peer in {link}"))
            .to_string();
        let links = self.host(&["ip", "-o", "link", "show"]);
        let line = links
            .lines()
            .find(|l| l.split(':').next() == Some(peer.as_str()))
            .unwrap_or_else(|| panic!("{container}: no host link {peer} in {links}"));
        line.split("link/ether ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{container}: no MAC in {line}"))
            .to_string()
    }

    /// The host pid of a running container's init.
    pub fn pid(&self, container: &str) -> i32 {
        let doc: serde_json::Value =
            serde_json::from_str(&self.ok(&["container", "inspect", container])).unwrap();
        doc[0]["State"]["Pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("no pid: {doc}")) as i32
    }

    fn agent_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.run_root().join("bosun.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn stop_agent(&self) {
        if let Some(pid) = self.agent_pid() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ")
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Removes every container and user network, and checks that only the default network's
    /// bridge is left in the host namespace, with no veth; then stops the agent, deletes the
    /// namespaces and checks that the real host got nothing of ours.
    pub fn finish(mut self) {
        // Every bridge this lab made (the default network's too) must be gone from the real
        // host afterwards; other processes' links there are not ours to judge.
        let ours: Vec<String> = text(&self.bosun(&["network", "ls", "-q"]).stdout)
            .lines()
            .map(|id| format!("bsn-{}", &id[..8.min(id.len())]))
            .chain(our_links(Some(&self.ns)))
            .collect();
        self.clean();
        let left = our_links(Some(&self.ns));
        assert!(
            left.iter().all(|l| l.starts_with("bsn-")) && left.len() <= 1,
            "links left besides the default bridge: {left:?}"
        );
        let table = engine::network::table_name(&self.data_root());
        let ruleset = self.host(&["nft", "list", "table", "ip", &table]);
        assert!(
            !ruleset.contains("dnat to"),
            "published ports left: {ruleset}"
        );
        let forward = self.host(&["nft", "list", "chain", "ip", "filter", "FORWARD"]);
        assert!(forward.contains("policy drop"), "{forward}");
        self.teardown();
        let (_, netns) = sh(&["ip", "netns", "list"]);
        assert!(
            !netns.contains(&self.ns) && !netns.contains(&self.outside),
            "{netns}"
        );
        let mut now = our_links(None);
        now.retain(|l| ours.contains(l));
        assert_eq!(now, Vec::<String>::new(), "links of ours on the host");
        self.finished = true;
    }

    fn clean(&self) {
        if self.agent_pid().is_some() {
            let ids = self.bosun(&["container", "ls", "-aq", "--no-trunc"]);
            for id in text(&ids.stdout).lines() {
                let _ = self.bosun(&["container", "rm", "-f", id]);
            }
            let nets = self.bosun(&["network", "ls", "-q", "--filter", "type=custom"]);
            for id in text(&nets.stdout).lines() {
                let _ = self.bosun(&["network", "rm", id]);
            }
        }
    }

    fn teardown(&self) {
        self.stop_agent();
        let _ = sh(&["ip", "netns", "del", &self.ns]);
        let _ = sh(&["ip", "netns", "del", &self.outside]);
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.cgroup_parent));
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                let _ = std::fs::remove_dir(h.path().join(&self.cgroup_parent));
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.finished {
            self.clean();
            self.teardown();
        }
    }
}
