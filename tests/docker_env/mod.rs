//! Shared by the Docker API end-to-end tests: one test's agent serving the Docker Engine API on
//! its own socket, and the real docker CLI pointed at it.

#![allow(unreachable_pub, dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use super::image_env::{BOSUN, Env, text};

/// A program on PATH, or the failure that says how to get it.
pub fn on_path(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed: these tests drive the real {program} against the \
                 agent's Docker API (scripts/install-deps.sh installs Debian's {package})"
            )
        })
}

/// The docker CLI.
pub fn docker_cli() -> PathBuf {
    on_path("docker", "docker.io")
}

/// One test's agent serving the Docker API, with busybox imported as `busybox:latest`.
pub struct Docker {
    /// The test's roots and agent.
    pub env: Env,
    /// The docker CLI.
    pub cli: PathBuf,
}

impl Docker {
    pub fn new() -> Docker {
        let cli = docker_cli();
        let env = Env::new();
        let socket = env.tmp.path().join("docker.sock");
        // `bosun agent` starts the agent in the background; it serves the Docker API as well.
        let out = Command::new(BOSUN)
            .env("BOSUN_DATA_ROOT", env.data_root())
            .env("BOSUN_RUN_ROOT", env.run_root())
            .env("BOSUN_CGROUP_PARENT", cgroup_parent(&env))
            .env("BOSUN_DOCKER_SOCKET", &socket)
            .arg("agent")
            .output()
            .unwrap();
        assert!(out.status.success(), "bosun agent: {}", text(&out.stderr));
        assert!(
            socket.exists(),
            "the agent did not bind {}",
            socket.display()
        );
        env.import_busybox("busybox:latest");
        Docker { env, cli }
    }

    pub fn socket(&self) -> PathBuf {
        self.env.tmp.path().join("docker.sock")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.program(&self.cli, args)
    }

    /// `program args…` with this agent's Docker API as its Docker host.
    pub fn program(&self, program: &std::path::Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.env.tmp.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// The cgroup parent the image test environment gives its agent.
pub fn cgroup_parent(env: &Env) -> String {
    format!(
        "bosun-imgtest-{}",
        env.tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
    )
}
