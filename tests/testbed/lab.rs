//! A private network lab for multi-node tests: one network namespace per node (created with
//! `unshare` and kept by a bind mount under `/run/netns`), each plugged by a veth pair into a
//! lab bridge of its own with an address in `10.213.<x>.0/24`; the host side of the bridge
//! holds `.254`, so the test process reaches every node. Links, addresses and namespaces are
//! made through rtnetlink from Rust (the engine's link helpers).
//!
//! Faults: a node's link down, and drop rules between nodes in an nftables table of the lab's
//! own (family `bridge`, hook `forward`, so traffic between namespaces is cut while the test
//! process still reaches every node). The rules go in through `nft -f -`, one atomic
//! replacement of the table per change. Everything is removed on drop (and labs left behind by
//! a test process that died are swept when the next lab is made); [`leftovers`] lists
//! whatever of a lab is still in the kernel, so a test can check the cleanup.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use engine::network::Netns;
use engine::network::link::Links;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};

/// Where named network namespaces live (as with `ip netns`).
const NETNS_DIR: &str = "/run/netns";
/// One file per live lab: its tag as name, `<owner pid> <nodes>` as content.
const OWNERS_DIR: &str = "/run/bosunlab";
/// First octets of every lab subnet.
const PREFIX: [u8; 2] = [10, 213];
/// Host part of the bridge's own address.
const HOST: u8 = 254;
/// MTU of the lab links.
const MTU: u32 = 1500;

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// The lab of one test.
pub struct Lab {
    tag: String,
    subnet: u8,
    nodes: usize,
    /// Directed pairs (from, to) whose packets are dropped.
    dropped: BTreeSet<(usize, usize)>,
    /// Nodes whose link is down.
    down: BTreeSet<usize>,
}

fn fail(what: impl std::fmt::Display, err: impl std::fmt::Display) -> ! {
    panic!("lab: cannot {what}: {err}")
}

/// A tag unique among the labs of concurrently running tests: pid, sequence and clock mixed.
fn new_tag() -> String {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mixed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(seq.wrapping_mul(40_503))
        .wrapping_add(nanos);
    format!("{:05x}", mixed & 0xf_ffff)
}

/// Runs `f` on a thread inside the namespace at `path` (a spawned process inherits it).
pub fn in_netns<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> T {
    let netns = Netns::open(path).unwrap_or_else(|e| fail("open a lab namespace", e));
    netns
        .run(|| Ok(f()))
        .unwrap_or_else(|e| fail("enter a lab namespace", e))
}

/// Creates the named namespace `name` (bind-mounted at `/run/netns/<name>`).
fn create_netns(name: &str) -> PathBuf {
    let dir = Path::new(NETNS_DIR);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail("create /run/netns", e));
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap_or_else(|e| fail(format!("create {}", path.display()), e));
    let target = path.clone();
    std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    })
    .join()
    .unwrap_or_else(|_| fail("create a namespace", "the thread panicked"))
    .unwrap_or_else(|e| fail(format!("create namespace {name}"), e));
    path
}

fn remove_netns(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

fn nft(script: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("run nft: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| format!("write to nft: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("wait for nft: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn table_name(tag: &str) -> String {
    format!("bosunlab_{tag}")
}

fn netns_name(tag: &str, i: usize) -> String {
    format!("bosunlab-{tag}-{i}")
}

/// What is left of the lab tagged `tag`: namespaces, links, its nftables table, its owner file.
pub fn leftovers(tag: &str) -> Vec<String> {
    let mut left = Vec::new();
    let prefix = format!("bosunlab-{tag}-");
    if let Ok(entries) = std::fs::read_dir(NETNS_DIR) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) {
                left.push(format!("namespace {name}"));
            }
        }
    }
    let links = Links::open()
        .and_then(|mut links| links.list())
        .unwrap_or_else(|e| fail("list links", e));
    let link_prefix = format!("bl{tag}");
    for link in links {
        if link.name.starts_with(&link_prefix) {
            left.push(format!("link {}", link.name));
        }
    }
    let listed = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap_or_else(|e| fail("run nft", e));
    let tables = String::from_utf8_lossy(&listed.stdout);
    if tables
        .lines()
        .any(|l| l.trim() == format!("table bridge {}", table_name(tag)))
    {
        left.push(format!("nftables table {}", table_name(tag)));
    }
    if Path::new(OWNERS_DIR).join(tag).exists() {
        left.push(format!("owner file {OWNERS_DIR}/{tag}"));
    }
    left
}

impl Lab {
    /// A lab of `nodes` namespaces on a fresh bridge and subnet.
    pub fn new(nodes: usize) -> Self {
        assert!(nodes < usize::from(HOST), "too many lab nodes");
        sweep_stale();
        let tag = new_tag();
        std::fs::create_dir_all(OWNERS_DIR).unwrap_or_else(|e| fail("create /run/bosunlab", e));
        let owner = format!("{} {nodes}\n", std::process::id());
        std::fs::write(Path::new(OWNERS_DIR).join(&tag), owner)
            .unwrap_or_else(|e| fail("record the lab's owner", e));
        let mut links = Links::open().unwrap_or_else(|e| fail("open rtnetlink", e));
        let taken = links
            .routed_subnets()
            .unwrap_or_else(|e| fail("read the routes", e));
        let start = u8::from_str_radix(&tag[3..], 16).unwrap_or(1);
        let subnet = (0..=255u8)
            .map(|k| start.wrapping_add(k))
            .filter(|x| *x != 0 && *x != 255)
            .find(|x| {
                let ours = Ipv4Addr::new(PREFIX[0], PREFIX[1], *x, 0);
                !taken.iter().any(|t| {
                    let inner = t.network().octets();
                    t.contains(&ours) || inner[..3] == [PREFIX[0], PREFIX[1], *x]
                })
            })
            .unwrap_or_else(|| fail("find a free 10.213.x.0/24", "every one is routed"));
        let mut lab = Lab {
            tag,
            subnet,
            nodes: 0,
            dropped: BTreeSet::new(),
            down: BTreeSet::new(),
        };
        let bridge = links
            .create_bridge(&lab.bridge(), MTU)
            .unwrap_or_else(|e| fail("create the lab bridge", e));
        links
            .add_address(bridge, lab.gateway(), 24)
            .unwrap_or_else(|e| fail("address the lab bridge", e));
        links
            .up(bridge)
            .unwrap_or_else(|e| fail("bring the bridge up", e));
        for i in 0..nodes {
            lab.nodes += 1;
            lab.plug(&mut links, bridge, i);
        }
        lab.apply_rules();
        lab
    }

    fn plug(&self, links: &mut Links, bridge: u32, i: usize) {
        let path = create_netns(&netns_name(&self.tag, i));
        let (host, peer) = (self.veth(i), format!("bl{}p{i}", self.tag));
        let host_index = links
            .create_veth(&host, &peer, MTU)
            .unwrap_or_else(|e| fail(format!("create veth {host}"), e));
        let peer_index = links
            .find(&peer)
            .ok()
            .flatten()
            .map(|l| l.index)
            .unwrap_or_else(|| fail(format!("find veth {peer}"), "it vanished"));
        let netns = Netns::open(&path).unwrap_or_else(|e| fail("open a namespace", e));
        links
            .move_to_netns(peer_index, netns.raw_fd())
            .unwrap_or_else(|e| fail(format!("move {peer} into its namespace"), e));
        links
            .set_master(host_index, bridge)
            .unwrap_or_else(|e| fail(format!("plug {host} into the bridge"), e));
        links
            .up(host_index)
            .unwrap_or_else(|e| fail(format!("bring {host} up"), e));
        let addr = self.addr(i);
        netns
            .run(move || {
                let mut inner = Links::open()?;
                inner.up_by_name("lo")?;
                let index = inner.find(&peer)?.map(|l| l.index).unwrap_or_default();
                inner.add_address(index, addr, 24)?;
                inner.up(index)
            })
            .unwrap_or_else(|e| fail(format!("address node {i}"), e));
    }

    /// The lab's unique tag (part of every name it creates).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The bridge's name.
    pub fn bridge(&self) -> String {
        format!("bl{}", self.tag)
    }

    fn veth(&self, i: usize) -> String {
        format!("bl{}h{i}", self.tag)
    }

    /// The host's address on the lab bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(PREFIX[0], PREFIX[1], self.subnet, HOST)
    }

    /// Node `i`'s address.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(PREFIX[0], PREFIX[1], self.subnet, i as u8 + 1)
    }

    /// Node `i`'s namespace.
    pub fn netns(&self, i: usize) -> PathBuf {
        Path::new(NETNS_DIR).join(netns_name(&self.tag, i))
    }

    /// Starts `command` inside node `i`'s namespace.
    pub fn spawn(&self, i: usize, mut command: Command) -> Child {
        in_netns(&self.netns(i), move || command.spawn())
            .unwrap_or_else(|e| fail(format!("start a process on node {i}"), e))
    }

    /// Runs `command` inside node `i`'s namespace to completion.
    pub fn output(&self, i: usize, mut command: Command) -> Output {
        in_netns(&self.netns(i), move || command.output())
            .unwrap_or_else(|e| fail(format!("run a process on node {i}"), e))
    }

    /// Drops every packet between the groups `a` and `b`, both ways.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.dropped.insert((x, y));
                self.dropped.insert((y, x));
            }
        }
        self.apply_rules();
    }

    /// Drops packets from `from` to `to` only.
    pub fn drop_one_way(&mut self, from: usize, to: usize) {
        self.dropped.insert((from, to));
        self.apply_rules();
    }

    /// Removes every drop rule and brings every link up.
    pub fn heal(&mut self) {
        self.dropped.clear();
        self.apply_rules();
        for i in std::mem::take(&mut self.down) {
            self.set_link(i, true);
        }
    }

    /// Takes node `i`'s link down (`false`) or up (`true`), as a pulled cable would.
    pub fn set_link(&mut self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        let status = Command::new("ip")
            .args(["link", "set", "dev", &self.veth(i), state])
            .status()
            .unwrap_or_else(|e| fail("run ip", e));
        assert!(status.success(), "lab: cannot set {} {state}", self.veth(i));
        if up {
            self.down.remove(&i);
        } else {
            self.down.insert(i);
        }
    }

    /// Replaces the lab's table with the current drop rules in one transaction.
    fn apply_rules(&self) {
        let table = table_name(&self.tag);
        let mut script = format!(
            "table bridge {table} {{}}\ndelete table bridge {table}\ntable bridge {table} {{\n chain lab {{\n  type filter hook forward priority 0; policy accept;\n"
        );
        for (from, to) in &self.dropped {
            script.push_str(&format!(
                "  ip saddr {} ip daddr {} drop\n",
                self.addr(*from),
                self.addr(*to)
            ));
        }
        script.push_str(" }\n}\n");
        nft(&script).unwrap_or_else(|e| fail(format!("install table {table}"), e));
    }
}

/// Removes everything of the lab tagged `tag` with `nodes` nodes, and its owner file.
fn teardown(tag: &str, nodes: usize) {
    let _ = nft(&format!("delete table bridge {}\n", table_name(tag)));
    if let Ok(mut links) = Links::open() {
        for i in 0..nodes {
            let _ = links.delete(&format!("bl{tag}h{i}"));
        }
        let _ = links.delete(&format!("bl{tag}"));
    }
    for i in 0..nodes {
        remove_netns(&Path::new(NETNS_DIR).join(netns_name(tag, i)));
    }
    let _ = std::fs::remove_file(Path::new(OWNERS_DIR).join(tag));
}

/// Tears down the labs whose owning test process died without cleaning up (killed by a
/// timeout, say): each lab records its owner's pid and size in [`OWNERS_DIR`].
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(OWNERS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let tag = entry.file_name().to_string_lossy().into_owned();
        let owner = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut fields = owner.split_whitespace().map(str::parse::<usize>);
        let (Some(Ok(pid)), Some(Ok(nodes))) = (fields.next(), fields.next()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            teardown(&tag, nodes);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        teardown(&self.tag, self.nodes);
    }
}
