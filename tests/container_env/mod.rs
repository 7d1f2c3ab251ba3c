//! A test's own `bosun container` environment: data root, run root, cgroup parent, a busybox
//! directory rootfs, and the agent the first command starts. Dropping it removes every
//! container, stops the agent and clears what the agent left in the kernel, also when the test
//! failed.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::teardown;

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

/// One test's roots, rootfs, cgroup parent and agent.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub cgroup_parent: String,
}

impl Env {
    /// A fresh environment whose cgroup parent starts with `bosun-<kind>-`.
    pub fn new(kind: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        let cgroup_parent = format!(
            "bosun-{kind}-{}",
            tmp.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches('.')
        );
        Env { tmp, cgroup_parent }
    }

    /// The busybox rootfs directory.
    pub fn rootfs(&self) -> String {
        self.tmp.path().join("rootfs").display().to_string()
    }

    pub fn run_root(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// The agent's socket as a `-H` value.
    pub fn host(&self) -> String {
        format!("unix://{}/bosun.sock", self.run_root().display())
    }

    /// `bosun container -H <socket> <args>` with this test's roots.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BOSUN);
        cmd.env("BOSUN_DATA_ROOT", self.tmp.path().join("data"))
            .env("BOSUN_RUN_ROOT", self.run_root())
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env_remove("BOSUN_HOST")
            .arg("container")
            .arg("-H")
            .arg(self.host())
            .args(args);
        cmd
    }

    pub fn bosun(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
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

    pub fn agent_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.run_root().join("bosun.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(pid) = self.agent_pid() {
            let ids = self.bosun(&["ls", "-aq", "--no-trunc"]);
            for id in text(&ids.stdout).lines() {
                let _ = self.bosun(&["rm", "-f", id]);
            }
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            wait_gone(pid);
        }
        // The agent made the default network: its bridge and rules go with the test.
        teardown::after_agent(&self.tmp.path().join("data"), &self.cgroup_parent);
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `pid` runs (a zombie does not count).
pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Waits up to 10 s for `pid` to be gone.
pub fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}
