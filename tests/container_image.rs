//! End-to-end: the real `bosun` binary running an imported image with a published port, a
//! named volume and labels, in a network namespace of the test's own (the agent the CLI
//! starts inherits it, so no bridge or firewall rule reaches the host).

#![allow(clippy::unwrap_used)]

use testkit::teardown;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

struct Env {
    tmp: tempfile::TempDir,
    cgroup_parent: String,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        std::fs::create_dir_all(root.join("www")).unwrap();
        std::fs::write(root.join("www/index.html"), "served from the image\n").unwrap();
        let cgroup_parent = format!(
            "bosun-imgtest-{}",
            tmp.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches('.')
        );
        Env { tmp, cgroup_parent }
    }

    fn run_root(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    fn bosun(&self, args: &[&str]) -> Output {
        Command::new(BOSUN)
            .env("BOSUN_DATA_ROOT", self.tmp.path().join("data"))
            .env("BOSUN_RUN_ROOT", self.run_root())
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env(
                "BOSUN_HOST",
                format!("unix://{}/bosun.sock", self.run_root().display()),
            )
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            out.status.success(),
            "bosun {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let pid: Option<i32> = std::fs::read_to_string(self.run_root().join("bosun.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        if let Some(pid) = pid {
            let ids = self.bosun(&["container", "ls", "-aq", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.bosun(&["container", "rm", "-fv", id]);
            }
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            for _ in 0..500 {
                if kill(Pid::from_raw(pid), None).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        teardown::after_agent(&self.tmp.path().join("data"), &self.cgroup_parent);
    }
}

fn http_get(port: u16) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let _ = s.read_to_string(&mut last);
            if last.contains("200") {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

#[test]
fn run_an_image_with_a_port_a_volume_and_labels() {
    // This thread, and every process it starts, gets a network namespace of its own.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let env = Env::new();
    let rootfs = env.tmp.path().join("rootfs").display().to_string();
    env.ok(&[
        "image",
        "import",
        &rootfs,
        "site:1",
        "-c",
        "EXPOSE 80",
        "-c",
        r#"CMD ["httpd", "-f", "-p", "80", "-h", "/www"]"#,
    ]);
    // Loopback of the namespace: the agent brings up its own bridge, not lo.
    assert!(
        Command::new("/bin/busybox")
            .args(["ip", "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success()
    );
    let id = env.ok(&[
        "container",
        "run",
        "-d",
        "--name",
        "web",
        "-P",
        "-l",
        "tier=front",
        "-v",
        "site-data:/www",
        "site:1",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let port_line = env.ok(&["container", "port", "web"]);
    let host_port: u16 = port_line
        .trim()
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .unwrap_or_else(|| panic!("{port_line}"))
        .parse()
        .unwrap();
    let page = http_get(host_port);
    assert!(page.contains("served from the image"), "{page}");
    let ls = env.ok(&["container", "ls", "--filter", "label=tier=front"]);
    let row = ls.lines().nth(1).unwrap_or_default();
    assert!(row.contains("site:1"), "{ls}");
    assert!(
        row.contains(&format!("0.0.0.0:{host_port}->80/tcp")),
        "{ls}"
    );
    assert!(row.trim_end().ends_with("web"), "{ls}");
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(&["container", "inspect", "web"])).unwrap();
    let doc = &doc[0];
    assert_eq!(doc["Config"]["Image"], "site:1");
    assert_eq!(doc["Config"]["Labels"]["tier"], "front");
    assert_eq!(doc["Mounts"][0]["Name"], "site-data");
    assert_eq!(
        doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        host_port.to_string()
    );
    let address = doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap_or_default();
    assert!(address.parse::<std::net::Ipv4Addr>().is_ok(), "{doc}");
    env.ok(&["container", "rename", "web", "site"]);
    assert!(
        env.ok(&["container", "ls", "-q", "--filter", "name=site"])
            .trim()
            .len()
            == 12
    );
    // The named volume got the image's content and outlives the container.
    env.ok(&["container", "rm", "-fv", "site"]);
    let out = env.ok(&[
        "container",
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "site-data:/data",
        "--entrypoint",
        "cat",
        "site:1",
        "/data/index.html",
    ]);
    assert_eq!(out, "served from the image\n");
}
