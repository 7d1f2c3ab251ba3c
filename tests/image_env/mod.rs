//! Shared by the image and volume end-to-end tests: one test's roots, agent, cgroup parent and
//! test images (built once per test binary from the host's busybox by
//! `scripts/build-test-images.sh`).

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

pub use super::test_images::dir as images_dir;

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One test's data root, run root and agent; the agent is stopped and containers removed on
/// drop, even when the test fails.
pub struct Env {
    pub tmp: tempfile::TempDir,
    cgroup_parent: String,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
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

    pub fn data_root(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn run_root(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// `bosun <group> -H <socket> <args…>` with this test's roots.
    pub fn command(&self, group: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(BOSUN);
        cmd.env("BOSUN_DATA_ROOT", self.data_root())
            .env("BOSUN_RUN_ROOT", self.run_root())
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env("BOSUN_CONFIG", self.tmp.path().join("config"))
            .env_remove("BOSUN_HOST")
            .arg(group)
            .arg("-H")
            .arg(format!("unix://{}/bosun.sock", self.run_root().display()))
            .args(args);
        cmd
    }

    pub fn run(&self, group: &str, args: &[&str]) -> Output {
        self.command(group, args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, group: &str, args: &[&str]) -> String {
        let out = self.run(group, args);
        assert!(
            out.status.success(),
            "bosun {group} {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, group: &str, args: &[&str]) -> String {
        let out = self.run(group, args);
        assert!(
            !out.status.success(),
            "bosun {group} {args:?} succeeded: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    /// Starts the agent (the first command against the default socket of the run root).
    pub fn start_agent(&self) {
        let out = Command::new(BOSUN)
            .env("BOSUN_DATA_ROOT", self.data_root())
            .env("BOSUN_RUN_ROOT", self.run_root())
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env_remove("BOSUN_HOST")
            .args(["image", "ls", "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "start agent: {}", text(&out.stderr));
    }

    /// Imports the busybox test image as `name`; returns its id.
    pub fn import_busybox(&self, name: &str) -> String {
        self.start_agent();
        let tar = images_dir().join("busybox.tar");
        self.ok(
            "image",
            &["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), name],
        )
        .trim()
        .to_string()
    }

    pub fn agent_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.run_root().join("bosun.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops the agent and waits until it is gone.
    pub fn stop_agent(&self) {
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

    /// The blobs in the store.
    pub fn blob_count(&self) -> usize {
        std::fs::read_dir(self.data_root().join("image/blobs/sha256")).map_or(0, |d| d.count())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.agent_pid().is_some() {
            let ids = self.run("container", &["ls", "-aq", "--no-trunc"]);
            for id in text(&ids.stdout).lines() {
                let _ = self.run("container", &["rm", "-f", id]);
            }
            self.stop_agent();
        }
        super::teardown::after_agent(&self.data_root(), &self.cgroup_parent);
    }
}
