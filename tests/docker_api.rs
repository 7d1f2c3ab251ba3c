//! End-to-end: the real docker CLI (`DOCKER_HOST=unix://<socket>`) against the Docker Engine API
//! an agent serves with `BOSUN_DOCKER_SOCKET` (run as root): `run --rm`, `ps`, `logs -f`,
//! `exec` (and `exec -it` on a terminal `script` provides), `network create` + `run --network`,
//! `volume create/ls/rm`, `images`, `inspect -f`, an endpoint that is not served answering 501
//! by name, and docker-compose 1.29 bringing the example voting app up and down.
//!
//! The docker CLI and docker-compose are required: `scripts/install-deps.sh` installs Debian's
//! `docker.io` and `docker-compose` when they are not on PATH, and these tests fail (not skip)
//! without them.

#![allow(clippy::unwrap_used)]

mod image_env;
use testkit::http::until_contains;
use testkit::teardown;
mod test_images;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use image_env::{BOSUN, Env, text};

/// A program on PATH, or the failure that says how to get it.
fn on_path(program: &str, package: &str) -> PathBuf {
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
fn docker_cli() -> PathBuf {
    on_path("docker", "docker.io")
}

/// One test's agent serving the Docker API, with busybox imported as `busybox:latest`.
struct Docker {
    env: Env,
    cli: PathBuf,
}

impl Docker {
    fn new() -> Docker {
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

    fn socket(&self) -> PathBuf {
        self.env.tmp.path().join("docker.sock")
    }

    fn command(&self, args: &[&str]) -> Command {
        self.program(&self.cli, args)
    }

    /// `program args…` with this agent's Docker API as its Docker host.
    fn program(&self, program: &std::path::Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.env.tmp.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
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
fn cgroup_parent(env: &Env) -> String {
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

/// Waits (up to 60 s) until `check` holds.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn version_negotiates_and_run_rm_echoes() {
    let d = Docker::new();
    let version = d.ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(version.trim(), "1.45 linux");

    let out = d.run(&["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    // --rm: the container is gone.
    assert_eq!(d.ok(&["ps", "-aq"]), "");

    // The exit status comes back as docker's.
    let out = d.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo oops >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "oops\n");

    let images = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.lines().any(|l| l == "busybox:latest"), "{images}");
}

#[test]
fn ps_inspect_exec_and_not_served() {
    let d = Docker::new();
    let id = d.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "300"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");

    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Image}} {{.Status}}"]);
    assert!(ps.starts_with("web busybox Up "), "{ps}");
    assert_eq!(d.ok(&["ps", "-q", "--no-trunc"]).trim(), id);

    let ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    let ip: std::net::Ipv4Addr = ip
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not an address: {ip:?}"));
    assert!(!ip.is_unspecified());
    let state = d.ok(&["inspect", "-f", "{{.State.Status}} {{.Name}}", "web"]);
    assert_eq!(state.trim(), "running /web");

    assert_eq!(d.ok(&["exec", "web", "echo", "from-exec"]), "from-exec\n");
    let out = d.run(&["exec", "web", "sh", "-c", "echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr), "err\n");
    // The address inspect reports is the container's own.
    let addrs = d.ok(&["exec", "web", "ip", "-4", "addr"]);
    assert!(addrs.contains(&format!("inet {ip}/")), "{addrs}");

    // Not served: Docker's error JSON with 501, naming the endpoint.
    let out = d.run(&["pause", "web"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("POST /containers/web/pause is not supported"),
        "{err}"
    );

    d.ok(&["stop", "-t", "1", "web"]);
    let status = d.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(status.trim(), "web exited");
    d.ok(&["rm", "web"]);
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn logs_follow_until_exit() {
    let d = Docker::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 2; echo two >&2; sleep 1; echo three",
    ]);
    // Followed from the start while the container runs; ends when it exits.
    let out = d.run(&["logs", "-f", "talker"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\nthree\n");
    assert_eq!(text(&out.stderr), "two\n");
    let tail = d.ok(&["logs", "--tail", "1", "talker"]);
    assert_eq!(tail, "three\n");
    wait_until("talker has exited", || {
        d.ok(&["ps", "-a", "--format", "{{.State}}"]).trim() == "exited"
    });
    d.ok(&["rm", "talker"]);
}

#[test]
fn network_create_and_run_on_it() {
    let d = Docker::new();
    let id = d.ok(&[
        "network",
        "create",
        "--subnet",
        "10.231.7.0/24",
        "dockfront",
    ]);
    assert!(!id.trim().is_empty());
    let subnet = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        "dockfront",
    ]);
    assert_eq!(subnet.trim(), "10.231.7.0/24");
    let names = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(names.lines().any(|n| n == "dockfront"), "{names}");

    let addrs = d.ok(&[
        "run",
        "--rm",
        "--network",
        "dockfront",
        "busybox",
        "ip",
        "-4",
        "addr",
    ]);
    assert!(addrs.contains("inet 10.231.7."), "{addrs}");

    // A named container on the network is found by name from another one.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "server",
        "--network",
        "dockfront",
        "busybox",
        "sleep",
        "300",
    ]);
    let ping = d.ok(&[
        "run",
        "--rm",
        "--network",
        "dockfront",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "5",
        "server",
    ]);
    assert!(ping.contains("1 packets received"), "{ping}");
    d.ok(&["rm", "-f", "server"]);
    d.ok(&["network", "rm", "dockfront"]);
    let names = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!names.lines().any(|n| n == "dockfront"), "{names}");
}

#[test]
fn volumes_create_ls_use_rm() {
    let d = Docker::new();
    assert_eq!(d.ok(&["volume", "create", "dockdata"]).trim(), "dockdata");
    let names = d.ok(&["volume", "ls", "-q"]);
    assert!(names.lines().any(|n| n == "dockdata"), "{names}");
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "dockdata:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let read = d.ok(&[
        "run",
        "--rm",
        "-v",
        "dockdata:/data:ro",
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(read, "kept\n");
    let driver = d.ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Driver}} {{.Name}}",
        "dockdata",
    ]);
    assert_eq!(driver.trim(), "local dockdata");
    d.ok(&["volume", "rm", "dockdata"]);
    assert!(
        !d.ok(&["volume", "ls", "-q"])
            .lines()
            .any(|n| n == "dockdata")
    );
    let out = d.run(&["volume", "inspect", "dockdata"]);
    assert!(!out.status.success());
}

#[test]
fn exec_it_on_a_terminal() {
    let d = Docker::new();
    d.ok(&["run", "-d", "--name", "shell", "busybox", "sleep", "300"]);
    // `script` gives the docker CLI the terminal `-it` needs; the shell's input comes through
    // it, its answer and exit status come back.
    let script = on_path("script", "bsdutils");
    let mut child = d
        .program(&script, &["-qec", "docker exec -it shell sh", "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"tty; echo answer-$((6*7))\n").unwrap();
    stdin.write_all(b"exit 5\n").unwrap();
    // The input stays open until the session has ended, as a user's terminal would.
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    let out = text(&output.stdout);
    assert!(out.contains("answer-42"), "{out}");
    assert!(out.contains("/dev/pts/"), "the exec has a terminal: {out}");
    assert_eq!(
        output.status.code(),
        Some(5),
        "{out}{}",
        text(&output.stderr)
    );
    d.ok(&["rm", "-f", "shell"]);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn docker_compose_brings_the_voting_app_up_and_down() {
    let compose_cli = on_path("docker-compose", "docker-compose");
    let d = Docker::new();
    let images = test_images::dir();
    let redis = images.join("redis.tar");
    if !redis.exists() {
        eprintln!(
            "skipped: the voting app's redis:test stand-in image needs redis-server on the host \
             (scripts/install-deps.sh installs it); {} is missing",
            redis.display()
        );
        return;
    }
    // The app's images, as examples/voting-app/setup.sh makes them.
    d.ok(&["tag", "busybox:latest", "busybox:test"]);
    d.env.ok(
        "image",
        &[
            "import",
            "--change",
            "ENTRYPOINT [\"/usr/bin/redis-server\"]",
            "--change",
            "CMD [\"--protected-mode\", \"no\"]",
            "--change",
            "EXPOSE 6379",
            "--change",
            "VOLUME /data",
            "--change",
            "WORKDIR /data",
            redis.to_str().unwrap(),
            "redis:test",
        ],
    );
    let project = d.env.tmp.path().join("voting-app");
    testkit::fs::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/voting-app"),
        &project,
    );
    let (vote, result) = (free_port(), free_port());
    let file = std::fs::read_to_string(project.join("compose.yaml")).unwrap();
    // docker-compose 1.29 predates the top-level `name` (the project is named by -p).
    let file = file
        .lines()
        .filter(|l| !l.starts_with("name:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\"8080:80\"", &format!("\"{vote}:80\""))
        .replace("\"8081:80\"", &format!("\"{result}:80\""));
    std::fs::write(project.join("compose.yaml"), file).unwrap();
    let compose = |args: &[&str]| {
        let out = d
            .program(&compose_cli, &["-p", "dockvote"])
            .args(args)
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };

    compose(&["up", "-d"]);
    let names = d.ok(&["ps", "--format", "{{.Names}}"]);
    for service in ["vote", "redis", "worker", "db", "result"] {
        assert!(
            names.lines().any(|n| n == format!("dockvote_{service}_1")),
            "{names}"
        );
    }
    assert_eq!(
        until_contains(vote, "/cgi-bin/vote?a", "queued", Duration::from_secs(60)),
        "vote for a queued (1 waiting)\n"
    );
    assert_eq!(
        until_contains(
            result,
            "/cgi-bin/results",
            "cats: 1",
            Duration::from_secs(60)
        ),
        "cats: 1\ndogs: 0\n"
    );

    compose(&["down", "-v"]);
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    let networks = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("dockvote"), "{networks}");
    let volumes = d.ok(&["volume", "ls", "-q"]);
    assert!(!volumes.contains("dockvote"), "{volumes}");
}

#[test]
fn the_socket_is_the_agents_and_refuses_other_users() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let d = Docker::new();
    let meta = std::fs::metadata(d.socket()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o660, "the agent's socket mode");
    assert_eq!(meta.uid(), 0);
    // Let another user reach the socket file itself: only its mode and the server may refuse.
    std::fs::set_permissions(d.env.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d
        .command(&["version", "--format", "{{.Server.APIVersion}}"])
        .env("DOCKER_CONFIG", "/nonexistent/docker-config")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr).to_lowercase();
    assert!(err.contains("permission denied"), "{err}");
    // Root still is served.
    assert_eq!(
        d.ok(&["version", "--format", "{{.Server.APIVersion}}"])
            .trim(),
        "1.45"
    );
}
