//! Benchmarks of cluster overlays on the multi-node test bed (3 managers and 2 workers, each
//! node with its own `bosun agent` and node daemon in its own network namespace and data root,
//! real busybox containers). They measure and print figures (against the overlay issue's
//! targets where it sets one); they assert what they measure is right (every byte delivered,
//! every connection answered) but never how long it took. Ignored by default; run through
//! `bench/overlay_net.sh`, or:
//!
//! ```sh
//! cargo test --release --test overlay_bench <case> -- --ignored --nocapture
//! ```
//!
//! The measuring ends are the host's `python3` run in the network namespace of a task's
//! container (`nsenter -n`; busybox here has neither a UDP `nc` nor a clock finer than a
//! second) or of a node, so both sides of each comparison pay the same user-space cost.
//!
//! - `throughput_vxlan_vs_underlay`: one TCP stream of `BOSUN_BENCH_MIB` MiB (default 512)
//!   from a task on one worker to a task on the other across the overlay (VXLAN), then the
//!   same between the two workers' own namespaces over the underlay; `BOSUN_BENCH_RUNS` runs
//!   each (default 3), alternating; MiB/s and the ratio of the medians.
//! - `connection_rate_vip_vs_direct`: `BOSUN_BENCH_CONNS` TCP connections (default 2000), one
//!   after the other (connect, read one byte, close), from a task on a manager to the
//!   service's virtual address (two tasks behind it, on the workers) and directly to one
//!   task's address; connections per second, `BOSUN_BENCH_RUNS` runs each.
//! - `dns_latency`: `BOSUN_BENCH_QUERIES` queries (default 500) to the embedded DNS from a
//!   task's namespace, one at a time, for the service's name (its virtual address),
//!   `tasks.<service>` (the tasks' addresses) and a name no network holds (relayed to the
//!   host's resolvers: an external-style miss); p50, p99 and max per name, and how they were
//!   answered.
//! - `time_to_reachable`: a poller in a task's namespace on a manager asks the embedded DNS
//!   for a new service's name and connects to what it answers every 5 ms; the service
//!   (one task, on a worker) is created, and the time from its container's start
//!   (`State.StartedAt`) to the first answer through its name is taken;
//!   `BOSUN_BENCH_RUNS` runs (default 5); target < 1 s.
//!
//! Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{Bed, bin, blocking};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

const IMAGE: &str = "busybox:ovbench";
/// Time allowed for the cluster to get where a benchmark waits for it.
const WITHIN: Duration = Duration::from_secs(120);
/// The port the measuring servers listen on.
const PORT: u16 = 5001;

/// Discards every stream it accepts, closing it at its end.
const SINK: &str = "import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((sys.argv[1],int(sys.argv[2])))\ns.listen(64)\nwhile True:\n c,_=s.accept()\n while c.recv(1<<20): pass\n c.close()";
/// Sends argv[3] MiB to argv[1]:argv[2], waits until the sink closed (everything read), and
/// prints the seconds it took.
const SEND: &str = "import socket,sys,time\nn=int(sys.argv[3])\nb=b'\\0'*(1<<20)\nt=time.monotonic()\nc=socket.create_connection((sys.argv[1],int(sys.argv[2])))\nfor i in range(n): c.sendall(b)\nc.shutdown(socket.SHUT_WR)\nassert c.recv(1)==b''\nprint(time.monotonic()-t)";
/// Answers each connection with one byte and closes it.
const ACCEPT: &str = "import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',int(sys.argv[1])))\ns.listen(1024)\nwhile True:\n c,_=s.accept()\n c.sendall(b'x')\n c.close()";
/// Opens argv[3] connections to argv[1]:argv[2] one after the other, each read to its byte;
/// prints the seconds it took (a connection unanswered fails the run).
const CONNECT: &str = "import socket,sys,struct,time\nn=int(sys.argv[3])\nt=time.monotonic()\nfor i in range(n):\n c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5)\n c.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0))\n assert c.recv(1)==b'x'\n c.close()\nprint(time.monotonic()-t)";
/// DNS queries (A, class IN) over UDP, by hand: `ask(server, name)` → (rcode, answers).
const DNS: &str = "import socket,struct,random,time,sys\ndef ask(server,name,timeout=2.0):\n i=random.randrange(65536)\n q=struct.pack('>HHHHHH',i,0x0100,1,0,0,0)+b''.join(bytes([len(p)])+p.encode() for p in name.split('.') if p)+b'\\0'+struct.pack('>HH',1,1)\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n s.settimeout(timeout)\n s.sendto(q,(server,53))\n try:\n  r=s.recv(2048)\n except socket.timeout:\n  return ('timeout',[])\n finally:\n  s.close()\n rcode=r[3]&15\n an=struct.unpack('>H',r[6:8])[0]\n p=12\n while r[p]: p+=r[p]+1\n p+=5\n out=[]\n for _ in range(an):\n  if r[p]&0xc0==0xc0: p+=2\n  else:\n   while r[p]: p+=r[p]+1\n   p+=1\n  t,_,_,l=struct.unpack('>HHIH',r[p:p+10])\n  p+=10\n  if t==1: out.append(socket.inet_ntoa(r[p:p+4]))\n  p+=l\n return (rcode,out)\n";
/// Asks argv[2] of the DNS server argv[1] argv[3] times: one line per query,
/// `<milliseconds> <rcode> <answers>`.
const DNS_LATENCY: &str = "\nfor _ in range(int(sys.argv[3])):\n t=time.monotonic()\n rc,out=ask(sys.argv[1],sys.argv[2])\n print('%.3f %s %d'%((time.monotonic()-t)*1000,rc,len(out)))";
/// Every 5 ms asks the DNS server argv[1] for argv[2] (50 ms allowed: a name not yet known is
/// relayed upstream) and connects to the first address on port argv[3] (100 ms allowed: a
/// virtual address without backends answers nothing); at the first answer starting with
/// `from-`, prints the wall clock and exits.
const POLL_REACH: &str = "\nwhile True:\n rc,out=ask(sys.argv[1],sys.argv[2],0.05)\n if out:\n  try:\n   c=socket.create_connection((out[0],int(sys.argv[3])),timeout=0.1)\n   c.settimeout(1)\n   if c.recv(64).startswith(b'from-'):\n    print('%.6f'%time.time())\n    sys.exit(0)\n  except OSError:\n   pass\n time.sleep(0.005)";
/// The web tasks' command: a TCP server on 8080 answering each connection with its host name.
const SERVE: &str = "printf '#!/bin/sh\\necho from-%s\\n' \"$(hostname)\" > /srv.sh; chmod +x /srv.sh; exec nc -ll -p 8080 -e /srv.sh";

/// A number from environment variable `name`, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Where a measuring end runs: a container's network namespace, or a node's.
#[derive(Clone)]
enum Netns {
    /// The container whose init has this pid.
    Pid(i64),
    /// A node's namespace (its path).
    Node(std::path::PathBuf),
}

/// `python3 -c script args…` in `ns`.
fn python(ns: &Netns, script: &str, args: &[String]) -> Command {
    let mut c = Command::new("nsenter");
    match ns {
        Netns::Pid(pid) => c.args(["-t", &pid.to_string(), "-n"]),
        Netns::Node(path) => c.arg(format!("--net={}", path.display())),
    };
    c.args(["python3", "-c", script]).args(args);
    c
}

/// Runs `command` to completion: its standard output, or the failure.
fn run(mut command: Command) -> String {
    let out = command.output().expect("nsenter python3");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process of the benchmark's own, killed and reaped when dropped.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(mut command: Command) -> Owned {
    Owned(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsenter python3"),
    )
}

/// A running task: (member, container id, address on `front`, its namespace).
#[derive(Clone)]
struct Task {
    member: usize,
    id: String,
    ip: String,
    ns: Netns,
}

/// The pid of container `id` on member `i`.
fn pid_of(bed: &Bed, i: usize, id: &str) -> Result<i64, String> {
    let doc = inspect(bed, i, id)?;
    doc[0]["State"]["Pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("no pid: {doc}"))
}

fn inspect(bed: &Bed, i: usize, id: &str) -> Result<serde_json::Value, String> {
    let (ok, out, err) = blocking(|| bed.bosun(i, &["container", "inspect", id]));
    if !ok {
        return Err(format!("{out}{err}"));
    }
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

/// The `count` running tasks of service `name` with their addresses on `front`.
async fn tasks(bed: &Bed, name: &str, count: usize) -> Vec<Task> {
    wait_until(
        bed,
        "the service's tasks with addresses",
        WITHIN,
        || async {
            let running = bed.running_containers(name);
            if running.len() != count {
                return Err(format!("{} of {count} running", running.len()));
            }
            let mut out = Vec::new();
            for c in running {
                let ip = c.addresses.get("front").cloned().unwrap_or_default();
                if ip.is_empty() {
                    return Err(format!("{} has no address on front", c.id));
                }
                let pid = pid_of(bed, c.member, &c.id)?;
                out.push(Task {
                    member: c.member,
                    id: c.id,
                    ip,
                    ns: Netns::Pid(pid),
                });
            }
            Ok(out)
        },
    )
    .await
}

/// The virtual address of service `name`.
async fn vip_of(bed: &Bed, name: &str) -> String {
    wait_until(bed, "the service's virtual address", WITHIN, || async {
        let out = blocking(|| bed.bosun(0, &["service", "inspect", name]));
        let doc: serde_json::Value = serde_json::from_str(&out.1).map_err(|e| e.to_string())?;
        match doc[0]["Endpoint"]["VirtualIPs"]
            .as_array()
            .map(Vec::as_slice)
        {
            Some([one]) => Ok(one["Addr"]
                .as_str()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned()),
            _ => Err(format!("{doc}")),
        }
    })
    .await
}

/// The embedded DNS server a task's container asks (its resolv.conf's nameserver).
fn nameserver(bed: &Bed, t: &Task) -> String {
    let (ok, out, err) = blocking(|| {
        bed.bosun(
            t.member,
            &["container", "exec", &t.id, "cat", "/etc/resolv.conf"],
        )
    });
    assert!(ok, "{out}{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("nameserver "))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no nameserver in {out}"))
}

/// Creates service `name` on `front` with `args` placement and `command`.
fn service(bed: &Bed, name: &str, placement: &[&str], command: &[&str]) {
    let mut words = vec![
        "service",
        "create",
        "--detach",
        "--name",
        name,
        "--network",
        "front",
    ];
    words.extend_from_slice(placement);
    words.push(IMAGE);
    words.extend_from_slice(command);
    bed.output(0, &words);
}

/// The bed with `front` (attachable), `srv` ×2 on the workers and `client` ×1 on a manager.
async fn bed_with_services() -> (Bed, Vec<Task>, Task) {
    let bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
    bed.output(0, &["network", "create", "--driver", "overlay", "front"]);
    service(
        &bed,
        "srv",
        &[
            "--replicas",
            "2",
            "--replicas-max-per-node",
            "1",
            "--constraint",
            "node.role==worker",
        ],
        &["sleep", "36000"],
    );
    service(
        &bed,
        "client",
        &["--constraint", "node.role==manager"],
        &["sleep", "36000"],
    );
    let servers = tasks(&bed, "srv", 2).await;
    let client = tasks(&bed, "client", 1).await.remove(0);
    assert!(
        servers.iter().all(|s| s.member >= 3),
        "servers on the workers"
    );
    (bed, servers, client)
}

/// Removes the services and the network, then the bed; checks nothing is left.
async fn teardown(bed: Bed, services: &[&str]) {
    let tag = bed.lab_view().tag().to_owned();
    let dir = bed.dir().to_path_buf();
    let mut words = vec!["service", "rm"];
    words.extend_from_slice(services);
    bed.output(0, &words);
    wait_until(&bed, "the network free", WITHIN, || async {
        match blocking(|| bed.bosun(0, &["network", "rm", "front"])) {
            (true, _, _) => Ok(()),
            (false, out, err) => Err(format!("{out}{err}")),
        }
    })
    .await;
    blocking(|| drop(bed));
    testbed::agents::assert_nothing_left(&tag, &dir);
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Seconds printed by a measuring script.
fn seconds(out: &str) -> f64 {
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not seconds: {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run through bench/overlay_net.sh"]
async fn throughput_vxlan_vs_underlay() {
    let mib = setting("BOSUN_BENCH_MIB", 512);
    let runs = setting("BOSUN_BENCH_RUNS", 3);
    let (bed, servers, _) = bed_with_services().await;
    let (from, to) = (&servers[0], &servers[1]);
    let _overlay_sink = spawn(python(&to.ns, SINK, &["0.0.0.0".into(), PORT.to_string()]));
    let lab = bed.lab_view();
    let to_node = Netns::Node(lab.netns(to.member));
    let from_node = Netns::Node(lab.netns(from.member));
    let to_addr = lab.addr(to.member).to_string();
    let _underlay_sink = spawn(python(&to_node, SINK, &[to_addr.clone(), PORT.to_string()]));
    // Both sinks listening.
    for (ns, addr) in [(&from.ns, &to.ip), (&from_node, &to_addr)] {
        wait_until(&bed, "the sink listening", WITHIN, || async {
            let out = python(ns, SEND, &[addr.clone(), PORT.to_string(), "1".into()]).output();
            match out {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
    }
    println!(
        "throughput: {mib} MiB in one TCP stream, member {} → member {}, {runs} runs each",
        from.member, to.member
    );
    let (mut overlay, mut underlay) = (Vec::new(), Vec::new());
    for run_no in 1..=runs {
        let args = |addr: &str| vec![addr.to_owned(), PORT.to_string(), mib.to_string()];
        let o = mib as f64 / seconds(&run(python(&from.ns, SEND, &args(&to.ip))));
        let u = mib as f64 / seconds(&run(python(&from_node, SEND, &args(&to_addr))));
        println!("  run {run_no}: overlay (VXLAN) {o:.1} MiB/s, underlay {u:.1} MiB/s");
        overlay.push(o);
        underlay.push(u);
    }
    let (o, u) = (median(&mut overlay), median(&mut underlay));
    println!(
        "throughput task→task across nodes: overlay {o:.1} MiB/s, underlay {u:.1} MiB/s, ratio {:.2}",
        o / u
    );
    teardown(bed, &["srv", "client"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run through bench/overlay_net.sh"]
async fn connection_rate_vip_vs_direct() {
    let conns = setting("BOSUN_BENCH_CONNS", 2000);
    let runs = setting("BOSUN_BENCH_RUNS", 3);
    let (bed, servers, client) = bed_with_services().await;
    let _accepting: Vec<Owned> = servers
        .iter()
        .map(|s| spawn(python(&s.ns, ACCEPT, &[PORT.to_string()])))
        .collect();
    let vip = vip_of(&bed, "srv").await;
    let direct = servers[0].ip.clone();
    // Every backend answering through the VIP before timing.
    wait_until(&bed, "the VIP answering", WITHIN, || async {
        let out = python(
            &client.ns,
            CONNECT,
            &[vip.clone(), PORT.to_string(), "20".into()],
        )
        .output();
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    println!(
        "connection rate: {conns} connections one after the other from member {} (connect, one byte, close), {runs} runs each",
        client.member
    );
    let (mut through, mut straight) = (Vec::new(), Vec::new());
    for run_no in 1..=runs {
        let args = |addr: &str| vec![addr.to_owned(), PORT.to_string(), conns.to_string()];
        let v = conns as f64 / seconds(&run(python(&client.ns, CONNECT, &args(&vip))));
        let d = conns as f64 / seconds(&run(python(&client.ns, CONNECT, &args(&direct))));
        println!("  run {run_no}: through the VIP {v:.0}/s, direct to a task {d:.0}/s");
        through.push(v);
        straight.push(d);
    }
    let (v, d) = (median(&mut through), median(&mut straight));
    println!(
        "connection rate: VIP {v:.0}/s, direct {d:.0}/s, ratio {:.2}",
        v / d
    );
    teardown(bed, &["srv", "client"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run through bench/overlay_net.sh"]
async fn dns_latency() {
    let queries = setting("BOSUN_BENCH_QUERIES", 500);
    let (bed, servers, client) = bed_with_services().await;
    let vip = vip_of(&bed, "srv").await;
    let server = nameserver(&bed, &client);
    let script = format!("{DNS}{DNS_LATENCY}");
    // Both names answered before timing.
    wait_until(&bed, "the names answered", WITHIN, || async {
        let out = run(python(
            &client.ns,
            &script,
            &[server.clone(), "tasks.srv".into(), "1".into()],
        ));
        if out.trim().ends_with(" 0 2") {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;
    println!(
        "DNS answer latency: {queries} queries one at a time to {server} from member {}'s task",
        client.member
    );
    for (name, what) in [
        ("srv", format!("the service's name → its VIP {vip}")),
        (
            "tasks.srv",
            format!("tasks.<service> → {} addresses", servers.len()),
        ),
        (
            "nosuch.example",
            "a name no network holds (relayed upstream)".to_owned(),
        ),
    ] {
        let out = run(python(
            &client.ns,
            &script,
            &[server.clone(), name.into(), queries.to_string()],
        ));
        let mut ms = Vec::new();
        let mut answers = std::collections::BTreeMap::<String, u64>::new();
        for line in out.lines() {
            let mut words = line.split_whitespace();
            let t: f64 = words.next().unwrap().parse().unwrap();
            let rcode = words.next().unwrap();
            let count = words.next().unwrap();
            ms.push(t);
            *answers
                .entry(format!("rcode {rcode}, {count} answers"))
                .or_default() += 1;
        }
        assert_eq!(ms.len() as u64, queries, "{out}");
        if name != "nosuch.example" {
            let want = if name == "srv" { 1 } else { servers.len() };
            assert_eq!(
                answers.get(&format!("rcode 0, {want} answers")).copied(),
                Some(queries),
                "{name}: {answers:?}"
            );
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "  {name} ({what}): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {answers:?}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms[ms.len() - 1]
        );
    }
    teardown(bed, &["srv", "client"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run through bench/overlay_net.sh"]
async fn time_to_reachable() {
    let runs = setting("BOSUN_BENCH_RUNS", 5);
    let (bed, _, client) = bed_with_services().await;
    let server = nameserver(&bed, &client);
    let script = format!("{DNS}{POLL_REACH}");
    println!(
        "time to reachable: a new service's task (on a worker) from its container's start to its first answer through its name from member {}'s task, {runs} runs",
        client.member
    );
    let mut samples = Vec::new();
    for run_no in 1..=runs {
        let poller = python(
            &client.ns,
            &script,
            &[server.clone(), "late".into(), "8080".into()],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsenter python3");
        let mut poller = Owned(poller);
        service(
            &bed,
            "late",
            &["--constraint", "node.role==worker"],
            &["sh", "-c", SERVE],
        );
        let task = tasks(&bed, "late", 1).await.remove(0);
        let deadline = std::time::Instant::now() + WITHIN;
        loop {
            match poller.0.try_wait() {
                Ok(Some(status)) if status.success() => break,
                Ok(Some(status)) => panic!("the poller ended: {status}"),
                Ok(None) => {}
                Err(e) => panic!("the poller: {e}"),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "late not reached through its name within {WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut out = String::new();
        std::io::Read::read_to_string(poller.0.stdout.as_mut().unwrap(), &mut out).unwrap();
        let reached_at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds(&out));
        let started = inspect(&bed, task.member, &task.id).unwrap()[0]["State"]["StartedAt"]
            .as_str()
            .unwrap()
            .to_owned();
        let started_at = humantime::parse_rfc3339(&started).unwrap();
        let took = reached_at
            .duration_since(started_at)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0;
        println!(
            "  run {run_no}: {took:.0} ms (started {started}, on member {})",
            task.member
        );
        samples.push(took);
        bed.output(0, &["service", "rm", "late"]);
        wait_until(&bed, "late gone", WITHIN, || async {
            match bed.running_containers("late").len() {
                0 => Ok(()),
                n => Err(format!("{n} left")),
            }
        })
        .await;
    }
    samples.sort_by(f64::total_cmp);
    let p50 = percentile(&samples, 0.5);
    let max = samples[samples.len() - 1];
    println!(
        "time from task start to reachable by its service name on another node: p50 {p50:.0} ms, max {max:.0} ms (target < 1000 ms: {})",
        if max < 1000.0 { "met" } else { "missed" }
    );
    teardown(bed, &["srv", "client"]).await;
}
