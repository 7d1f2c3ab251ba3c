//! A compose test's own environment: data root, run root, cgroup parent, project directory
//! and name, the busybox test image imported, and the agent the first command starts. Dropping
//! it takes the project down, stops the agent and clears what it left in the kernel, also when
//! the test failed.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::teardown;
use super::test_images::dir as images;

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One test's roots, project directory and agent.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub project: String,
    pub cgroup_parent: String,
}

impl Env {
    pub fn new(compose: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let id = tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "");
        let env = Env {
            project: format!("t{}", &id[id.len().saturating_sub(6)..]),
            cgroup_parent: format!("bosun-composetest-{id}"),
            tmp,
        };
        std::fs::create_dir_all(env.dir()).unwrap();
        env.write(compose);
        let busybox = images().join("busybox.tar");
        env.ok_raw(&[
            "image",
            "import",
            busybox.to_str().unwrap(),
            "busybox:test",
            "--change",
            "CMD [\"sh\"]",
        ]);
        env
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("project")
    }

    pub fn write(&self, compose: &str) {
        std::fs::write(self.dir().join("compose.yaml"), compose).unwrap();
    }

    pub fn run_root(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// `bosun <args>` in the project directory with this test's roots.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BOSUN);
        command
            .current_dir(self.dir())
            .env("BOSUN_DATA_ROOT", self.tmp.path().join("data"))
            .env("BOSUN_RUN_ROOT", self.run_root())
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env_remove("BOSUN_HOST")
            .args(args);
        command
    }

    pub fn raw(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok_raw(&self, args: &[&str]) -> String {
        let out = self.raw(args);
        assert!(
            out.status.success(),
            "bosun {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// A project command: `bosun -p <project> <args>`.
    pub fn bosun(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p", self.project.as_str()];
        all.extend_from_slice(args);
        self.raw(&all)
    }

    /// Runs and expects success; returns (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.bosun(args);
        assert!(
            out.status.success(),
            "bosun {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    }

    /// `ps -a --format json` as (name, state) pairs.
    pub fn ps(&self) -> Vec<(String, String)> {
        let (out, _) = self.ok(&["ps", "-a", "--format", "json"]);
        out.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["Name"].as_str().unwrap().to_string(),
                    v["State"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.ps().into_iter().map(|(n, _)| n).collect()
    }

    pub fn name(&self, service: &str, n: u32) -> String {
        format!("{}-{service}-{n}", self.project)
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
            let _ = self.bosun(&["down", "-v", "--remove-orphans", "-t", "1"]);
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while kill(Pid::from_raw(pid), None).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        teardown::after_agent(&self.tmp.path().join("data"), &self.cgroup_parent);
    }
}
