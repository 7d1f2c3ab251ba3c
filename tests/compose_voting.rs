//! End-to-end: the voting app of `examples/voting-app` (run as root): its images built from the
//! host's packages by its own `setup.sh`, brought up with `up -d --wait` on free host ports, a
//! vote cast through the published port, counted by the worker, read back from the result page;
//! the tallies survive `down` / `up` (named volume) and `down -v` removes them.

#![allow(clippy::unwrap_used)]

use testkit::http::until_contains;
use testkit::teardown;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BOSUN: &str = env!("CARGO_BIN_EXE_bosun");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Env {
    tmp: tempfile::TempDir,
    cgroup_parent: String,
}

impl Env {
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("BOSUN_DATA_ROOT", self.tmp.path().join("data"))
            .env("BOSUN_RUN_ROOT", self.tmp.path().join("run"))
            .env("BOSUN_CGROUP_PARENT", &self.cgroup_parent)
            .env_remove("BOSUN_HOST");
        cmd
    }

    fn project(&self) -> PathBuf {
        self.tmp.path().join("voting-app")
    }

    fn bosun(&self, args: &[&str]) -> Output {
        self.command(BOSUN)
            .current_dir(self.project())
            .args(["-p", "votetest"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            out.status.success(),
            "bosun {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let pid_file = self.tmp.path().join("run/bosun.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            let _ = self.bosun(&["down", "-v", "-t", "1"]);
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while kill(Pid::from_raw(pid), None).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        teardown::after_agent(&self.tmp.path().join("data"), &self.cgroup_parent);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn voting_app_answers_counts_and_keeps_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let id = tmp
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace('.', "");
    let env = Env {
        cgroup_parent: format!("bosun-votetest-{id}"),
        tmp,
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/voting-app");
    testkit::fs::copy_dir(&example, &env.project());
    let (vote, result) = (free_port(), free_port());
    let compose = std::fs::read_to_string(env.project().join("compose.yaml")).unwrap();
    let compose = compose
        .replace("\"8080:80\"", &format!("\"{vote}:80\""))
        .replace("\"8081:80\"", &format!("\"{result}:80\""));
    std::fs::write(env.project().join("compose.yaml"), compose).unwrap();

    let setup = env
        .command(example.join("setup.sh").to_str().unwrap())
        .env("BOSUN", BOSUN)
        .output()
        .unwrap();
    assert!(setup.status.success(), "setup.sh: {}", text(&setup.stderr));

    env.ok(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    let ps = env.ok(&["ps"]);
    for service in ["vote", "redis", "worker", "db", "result"] {
        assert!(ps.contains(&format!("votetest-{service}-1")), "{ps}");
    }
    assert!(ps.contains(&format!("0.0.0.0:{vote}->80/tcp")), "{ps}");
    assert_eq!(
        until_contains(vote, "/cgi-bin/vote?a", "queued", Duration::from_secs(20)),
        "vote for a queued (1 waiting)\n"
    );
    testkit::http::get(vote, "/cgi-bin/vote?b").unwrap();
    let tallies = until_contains(
        result,
        "/cgi-bin/results",
        "dogs: 1",
        Duration::from_secs(20),
    );
    assert_eq!(tallies, "cats: 1\ndogs: 1\n");

    // The tallies live in the db-data volume: they survive down / up.
    env.ok(&["down", "-t", "2"]);
    env.ok(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    assert_eq!(
        until_contains(
            result,
            "/cgi-bin/results",
            "cats: 1",
            Duration::from_secs(20)
        ),
        "cats: 1\ndogs: 1\n"
    );
    // down -v drops them.
    env.ok(&["down", "-v", "-t", "2"]);
    env.ok(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    assert_eq!(
        until_contains(
            result,
            "/cgi-bin/results",
            "cats: 0",
            Duration::from_secs(20)
        ),
        "cats: 0\ndogs: 0\n"
    );
}
