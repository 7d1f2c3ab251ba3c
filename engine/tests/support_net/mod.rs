//! A lab for network tests: every test runs on its own thread inside a fresh network namespace
//! (the "host"), with "containers" and an outside client as further namespaces, so the real
//! host's links and tables are never touched. On exit the lab checks that no bridge, veth,
//! nftables table or namespace of ours is left.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use engine::network::link::Links;
use engine::network::{Netns, Networks};
use nix::sched::{CloneFlags, unshare};

/// The test's "host" namespace and data root.
pub(crate) struct Lab {
    pub nets: Networks,
    pub dir: tempfile::TempDir,
    pub host: Netns,
}

/// Runs `body` in a fresh namespace, then checks for leftovers.
pub(crate) fn run(body: impl FnOnce(&Lab) + Send) {
    std::thread::scope(|s| {
        s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).unwrap();
            Links::open().unwrap().up_by_name("lo").unwrap();
            let dir = tempfile::tempdir().unwrap();
            let lab = Lab {
                nets: Networks::new(dir.path()).unwrap(),
                dir,
                host: Netns::current().unwrap(),
            };
            body(&lab);
            for net in lab.nets.list().unwrap() {
                for id in net.endpoints.keys() {
                    lab.nets.detach(&net.id, id).unwrap();
                }
                lab.nets.remove(&net.id).unwrap();
            }
            assert_eq!(
                leftover_links(),
                Vec::<String>::new(),
                "bridges or veths left"
            );
            assert!(
                !nft(&["list", "tables"]).contains("bosun"),
                "nftables table left"
            );
        })
        .join()
        .unwrap();
    });
}

/// Our links in the calling thread's namespace.
pub(crate) fn leftover_links() -> Vec<String> {
    Links::open()
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .filter(|n| n.starts_with("bsn-") || n.starts_with("bv") || n.starts_with("lab"))
        .collect()
}

/// Runs `nft` in the calling thread's namespace (inspection only) and returns its stdout.
pub(crate) fn nft(args: &[&str]) -> String {
    let out = Command::new("nft").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new anonymous namespace with loopback up.
pub(crate) fn netns() -> Netns {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        Links::open().unwrap().up_by_name("lo").unwrap();
        Netns::current().unwrap()
    })
    .join()
    .unwrap()
}

/// The inode of a namespace handle (to check later that nothing holds it).
pub(crate) fn inode(ns: &Netns) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", ns.raw_fd()))
        .unwrap()
        .ino()
}

/// Whether any thread or descriptor of this process still refers to namespace `ino`.
pub(crate) fn netns_referenced(ino: u64) -> bool {
    let want = format!("net:[{ino}]");
    let links = |dir: &str, tail: &str| -> bool {
        std::fs::read_dir(dir).is_ok_and(|d| {
            d.flatten().any(|e| {
                std::fs::read_link(e.path().join(tail)).is_ok_and(|t| t.to_string_lossy() == want)
            })
        })
    };
    links("/proc/self/task", "ns/net") || links("/proc/self/fd", "")
}

/// An outside client namespace linked to the host by a veth: host 192.0.2.1/24, client
/// 192.0.2.2/24 (default route via the host).
pub(crate) fn outside(lab: &Lab) -> Netns {
    let client = netns();
    let mut links = Links::open().unwrap();
    let host = links.create_veth("labhost", "labpeer", 1500).unwrap();
    links
        .add_address(host, Ipv4Addr::new(192, 0, 2, 1), 24)
        .unwrap();
    links.up(host).unwrap();
    let peer = links.find("labpeer").unwrap().unwrap().index;
    links.move_to_netns(peer, client.raw_fd()).unwrap();
    client
        .run(|| {
            let mut l = Links::open().unwrap();
            let idx = l.find("labpeer").unwrap().unwrap().index;
            l.add_address(idx, Ipv4Addr::new(192, 0, 2, 2), 24).unwrap();
            l.up(idx).unwrap();
            l.add_default_route(Ipv4Addr::new(192, 0, 2, 1).into())
                .unwrap();
            Ok(())
        })
        .unwrap();
    let _ = lab;
    client
}

/// Gives the outside link IPv6 too: host 2001:db8::1/64, client 2001:db8::2/64 (default
/// route via the host).
pub(crate) fn outside_v6(client: &Netns) {
    let host: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let mut links = Links::open().unwrap();
    let index = links.find("labhost").unwrap().unwrap().index;
    links.add_address_v6(index, host, 64).unwrap();
    client
        .run(move || {
            let mut l = Links::open().unwrap();
            let idx = l.find("labpeer").unwrap().unwrap().index;
            l.add_address_v6(idx, "2001:db8::2".parse().unwrap(), 64)
                .unwrap();
            l.add_default_route(host.into()).unwrap();
            Ok(())
        })
        .unwrap();
}

/// The handle of nftables table `family name` in the calling thread's namespace (a table that
/// is replaced gets a new one).
pub(crate) fn table_handle(family: &str, name: &str) -> String {
    let listing = nft(&["-a", "list", "table", family, name]);
    listing
        .lines()
        .next()
        .and_then(|l| l.split("# handle ").nth(1))
        .unwrap_or_else(|| panic!("no table {family} {name}: {listing}"))
        .trim()
        .to_string()
}

/// A TCP or UDP server in a namespace answering `<name> saw <peer ip>`; stopped on drop.
pub(crate) struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn enter(ns: &Netns) -> std::os::fd::OwnedFd {
    use std::os::fd::AsFd;
    ns.as_fd().try_clone_to_owned().unwrap()
}

/// Serves TCP on `port` in `ns` (IPv4).
pub(crate) fn tcp_server(ns: &Netns, port: u16, name: &'static str) -> Server {
    serve_tcp(ns, SocketAddr::from(([0, 0, 0, 0], port)), name)
}

/// Serves TCP on `port` in `ns` (IPv6).
pub(crate) fn tcp_server6(ns: &Netns, port: u16, name: &'static str) -> Server {
    serve_tcp(ns, SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), name)
}

fn serve_tcp(ns: &Netns, addr: SocketAddr, name: &'static str) -> Server {
    let fd = enter(ns);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        drop(fd);
        let l = TcpListener::bind(addr).unwrap();
        l.set_nonblocking(true).unwrap();
        tx.send(()).unwrap();
        while !flag.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut s, peer)) => {
                    let _ = writeln!(s, "{name} saw {}", peer.ip());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    rx.recv().unwrap();
    Server {
        stop,
        thread: Some(thread),
    }
}

/// Serves UDP on `port` in `ns`.
pub(crate) fn udp_server(ns: &Netns, port: u16, name: &'static str) -> Server {
    let fd = enter(ns);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        drop(fd);
        let s = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        while !flag.load(Ordering::SeqCst) {
            if let Ok((_, peer)) = s.recv_from(&mut buf) {
                let _ = s.send_to(format!("{name} saw {}\n", peer.ip()).as_bytes(), peer);
            }
        }
    });
    rx.recv().unwrap();
    Server {
        stop,
        thread: Some(thread),
    }
}

/// Connects over TCP from `ns` and returns the server's line.
pub(crate) fn tcp_ask(ns: &Netns, addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().unwrap();
    let fd = enter(ns);
    std::thread::spawn(move || {
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(1500))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut line = String::new();
        BufReader::new(s)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim().to_string())
    })
    .join()
    .unwrap()
}

/// Sends a UDP datagram from `ns` and returns the answer.
pub(crate) fn udp_ask(ns: &Netns, addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().unwrap();
    let fd = enter(ns);
    std::thread::spawn(move || {
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        s.send_to(b"hi", addr).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let (n, _) = s.recv_from(&mut buf).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&buf[..n]).trim().to_string())
    })
    .join()
    .unwrap()
}

/// Runs a command inside `ns` and returns (success, stdout).
pub(crate) fn cmd_in(ns: &Netns, args: &[&str]) -> (bool, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let fd = enter(ns);
    std::thread::spawn(move || {
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        let out = Command::new(&args[0]).args(&args[1..]).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .join()
    .unwrap()
}

/// Whether busybox (for ping) is installed.
pub(crate) fn have_busybox() -> bool {
    Command::new("busybox")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success())
}

/// Attaches container `id` (its name too) to `network` at `ip`, in namespace `ns`.
pub(crate) fn attach(
    nets: &Networks,
    network: &str,
    id: &str,
    ip: [u8; 4],
    ns: &Netns,
) -> engine::network::Endpoint {
    nets.attach(
        network,
        &engine::network::AttachRequest {
            container_id: id.into(),
            container_name: id.into(),
            aliases: vec![],
            ipv4: Some(Ipv4Addr::from(ip)),
            mac: None,
            ports: vec![],
            netns: ns,
            service_task: false,
        },
    )
    .unwrap()
}

/// The overlay peer that endpoint `ep` on the node at `node` is to the other nodes.
pub(crate) fn peer_of(ep: &engine::network::Endpoint, node: Ipv4Addr) -> engine::network::Peer {
    engine::network::Peer {
        ip: ep.ipv4,
        mac: ep.mac.clone(),
        node,
        names: Vec::new(),
    }
}
