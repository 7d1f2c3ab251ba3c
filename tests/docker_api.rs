//! End-to-end: the real docker CLI (`DOCKER_HOST=unix://<socket>`) against the Docker Engine API
//! an agent serves with `BOSUN_DOCKER_SOCKET` (run as root): `run --rm`, `ps`, `logs -f`,
//! `exec` (and `exec -it` on a terminal `script` provides), `network create` + `run --network`,
//! `volume create/ls/rm`, `images`, `inspect -f`, `top`, `stats --no-stream`, `pause` and
//! `unpause`, `rename`, a stats stream, `history`, `save` and `load`, events of networks, volumes and
//! images, a pull from a registry that wants
//! the credentials of the CLI's config (`X-Registry-Auth`), an endpoint that is not served
//! answering 501 by name, and docker-compose 1.29 bringing the example voting app up and down.
//!
//! The docker CLI and docker-compose are required: `scripts/install-deps.sh` installs Debian's
//! `docker.io` and `docker-compose` when they are not on PATH, and these tests fail (not skip)
//! without them.

#![allow(clippy::unwrap_used)]

mod docker_env;
mod image_env;
mod registry;
use testkit::http::until_contains;
use testkit::teardown;
mod test_images;

use std::process::Command;
use std::time::{Duration, Instant};

use docker_env::{Docker, on_path};
use image_env::{BOSUN, text};

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
    let out = d.run(&["container", "prune", "-f"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("POST /containers/prune is not supported"),
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

#[test]
fn top_stats_pause_and_unpause() {
    let d = Docker::new();
    d.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "300"]);

    let top = d.ok(&["top", "web"]);
    let mut lines = top.lines();
    let titles: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        titles,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{top}"
    );
    assert!(lines.any(|l| l.ends_with("sleep 300")), "{top}");

    let stats = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.PIDs}}|{{.MemUsage}}|{{.CPUPerc}}",
        "web",
    ]);
    let fields: Vec<&str> = stats.trim().split('|').collect();
    assert_eq!(fields.len(), 4, "{stats}");
    assert_eq!(fields[0], "web", "{stats}");
    assert_eq!(fields[1], "1", "{stats}");
    // Memory in use of a limit (the host's memory: none was set), a CPU percentage.
    assert!(
        fields[2].contains(" / ") && !fields[2].starts_with("0B"),
        "{stats}"
    );
    assert!(fields[3].ends_with('%'), "{stats}");
    // The default table too, with docker's columns.
    let table = d.ok(&["stats", "--no-stream", "web"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ],
        "{table}"
    );
    // Traffic on the container's own interface (to its bridge's gateway, on this test's
    // network) shows in NET I/O, as the docker CLI sums the API's `networks`.
    let gateway = d.ok(&["inspect", "-f", "{{.NetworkSettings.Gateway}}", "web"]);
    d.ok(&["exec", "web", "ping", "-c", "3", "-W", "1", gateway.trim()]);
    let net = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.NetIO}}|{{.BlockIO}}",
        "web",
    ]);
    let (net, block) = net.trim().split_once('|').unwrap();
    let (received, sent) = net.split_once(" / ").unwrap();
    assert!(received != "0B" && sent != "0B", "{net}");
    assert!(block.contains(" / "), "{block}");
    let own = d.env.ok(
        "container",
        &["stats", "--no-stream", "--format", "{{.NetIO}}", "web"],
    );
    assert!(!own.starts_with("0B"), "{own}");

    d.ok(&["pause", "web"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "web"
        ]),
        "paused true\n"
    );
    let status = d.ok(&["ps", "--format", "{{.Status}}"]);
    assert!(status.trim().ends_with("(Paused)"), "{status}");
    d.ok(&["unpause", "web"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "web"
        ]),
        "running false\n"
    );
    assert_eq!(d.ok(&["exec", "web", "echo", "thawed"]), "thawed\n");
    d.ok(&["rm", "-f", "web"]);
}

#[test]
fn history_save_and_load() {
    let d = Docker::new();
    let history = d.ok(&["history", "busybox"]);
    let header: Vec<&str> = history
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"],
        "{history}"
    );
    let bosun_rows = d.env.ok("image", &["history", "-q", "busybox:latest"]);
    let ids = d.ok(&["history", "-q", "busybox"]);
    assert_eq!(ids, bosun_rows);
    assert!(!ids.trim().is_empty(), "{ids}");
    let image_id = d.ok(&["images", "-q", "busybox"]);
    assert_eq!(ids.lines().next(), image_id.lines().next(), "{ids}");

    let tar = d.env.tmp.path().join("busybox.tar");
    let tar = tar.to_str().unwrap();
    d.ok(&["save", "-o", tar, "busybox"]);
    let size = std::fs::metadata(tar).unwrap().len();
    assert!(size > 100_000, "a tarball of {size} bytes");
    d.ok(&["rmi", "busybox"]);
    assert_eq!(d.ok(&["images", "-q", "busybox"]), "");
    let loaded = d.ok(&["load", "-i", tar]);
    assert!(loaded.contains("Loaded image: busybox:latest"), "{loaded}");
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "back"]), "back\n");

    // Standard output to standard input, as `docker save | docker load` is written (held
    // between the two so that the image is removed before it is loaded back).
    let saved = d.run(&["save", "busybox"]);
    assert!(
        saved.status.success(),
        "docker save: {}",
        text(&saved.stderr)
    );
    assert_eq!(
        saved.stdout.len() as u64,
        size,
        "the same tarball on stdout"
    );
    d.ok(&["rmi", "busybox"]);
    let mut load = d
        .command(&["load"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = load.stdin.take().unwrap();
        stdin.write_all(&saved.stdout).unwrap();
    }
    let out = load.wait_with_output().unwrap();
    assert!(out.status.success(), "docker load: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Loaded image: busybox:latest"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn pull_with_the_credentials_of_the_clients_config() {
    let registry = registry::Registry::start_with_auth();
    let d = Docker::new();
    let base = format!("{}/base/busybox:1", registry.addr);
    // Put the image there with Bosun's own login, then forget it.
    let bosun = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = Command::new(BOSUN);
        cmd.env("BOSUN_CONFIG", d.env.tmp.path().join("config"))
            .args(args);
        if stdin.is_some() {
            cmd.stdin(std::process::Stdio::piped());
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bosun {args:?}: {}",
            text(&out.stderr)
        );
    };
    bosun(
        &[
            "login",
            "-u",
            registry::AUTH_USER,
            "--password-stdin",
            &registry.addr,
        ],
        Some(registry::AUTH_PASSWORD),
    );
    d.env.ok("image", &["tag", "busybox:latest", &base]);
    d.env.ok("image", &["push", &base]);
    d.env.ok("image", &["rm", &base]);
    bosun(&["logout", &registry.addr], None);

    // Without credentials in the docker CLI's config the pull is refused.
    let out = d.run(&["pull", &base]);
    assert!(!out.status.success(), "an anonymous pull is refused");

    // With them, the CLI sends X-Registry-Auth and the agent pulls with it.
    let config = d.env.tmp.path().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", registry::AUTH_USER, registry::AUTH_PASSWORD),
    );
    std::fs::write(
        config.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.addr
        ),
    )
    .unwrap();
    d.ok(&["pull", &base]);
    assert_eq!(d.ok(&["run", "--rm", &base, "echo", "pulled"]), "pulled\n");
}

/// The first `n` JSON objects a streamed answer of the Docker API sends for `GET path` (the
/// chunked body read line by line: JSON lines start with `{`, chunk sizes do not).
fn streamed_json(socket: &std::path::Path, path: &str, n: usize) -> Vec<serde_json::Value> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut values = Vec::new();
    let mut line = String::new();
    while values.len() < n {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
        if line.starts_with('{') {
            values.push(serde_json::from_str(line.trim()).unwrap());
        }
    }
    values
}

#[test]
fn stats_stream_a_sample_after_another() {
    let d = Docker::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let samples = streamed_json(&d.socket(), "/v1.45/containers/busy/stats", 2);
    let (first, second) = (&samples[0], &samples[1]);
    assert_eq!(first["name"], "/busy", "{first}");
    // Each sample carries the one before it as precpu_stats, as Docker's stream does.
    assert_eq!(second["preread"], first["read"], "{second}");
    assert_eq!(
        second["precpu_stats"]["cpu_usage"]["total_usage"],
        first["cpu_stats"]["cpu_usage"]["total_usage"]
    );
    let used = |v: &serde_json::Value| v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap();
    assert!(
        used(second) > used(first),
        "a busy loop used CPU between samples"
    );
    d.ok(&["rm", "-f", "busy"]);
}

#[test]
fn events_of_networks_volumes_and_images() {
    let d = Docker::new();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_sub(1)
        .to_string();
    d.ok(&["volume", "create", "evdata"]);
    d.ok(&["network", "create", "evnet"]);
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "evbox",
        "--network",
        "evnet",
        "busybox",
        "sleep",
        "300",
    ]);
    let id = id.trim();
    d.ok(&["tag", "busybox", "evtag:1"]);
    d.ok(&["rmi", "evtag:1"]);
    d.ok(&["rename", "evbox", "evbox2"]);
    d.ok(&["rm", "-f", "evbox2"]);
    d.ok(&["network", "rm", "evnet"]);
    d.ok(&["volume", "rm", "evdata"]);
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();

    // What the docker CLI makes of the stream, by type (its own filter sent to the API).
    let events_as = |format: &str, filters: &[&str]| {
        let mut args = vec!["events", "--since", &start, "--until", &until];
        for f in filters {
            args.extend(["--filter", f]);
        }
        args.extend(["--format", format]);
        d.ok(&args)
    };
    let events = |filters: &[&str]| {
        events_as(
            "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}",
            filters,
        )
    };
    let volumes = events(&["type=volume"]);
    assert_eq!(
        volumes.lines().collect::<Vec<_>>(),
        [
            "volume create evdata <no value>",
            "volume destroy evdata <no value>"
        ],
        "{volumes}"
    );
    let network_id = events(&["type=network", "event=create", "network=evnet"]);
    let network_id = network_id.split_whitespace().nth(2).unwrap().to_owned();
    let networks = events(&["type=network", "network=evnet"]);
    assert_eq!(
        networks.lines().collect::<Vec<_>>(),
        [
            format!("network create {network_id} evnet"),
            format!("network connect {network_id} evnet"),
            format!("network disconnect {network_id} evnet"),
            format!("network destroy {network_id} evnet"),
        ],
        "{networks}"
    );
    let connected = events_as(
        "{{.Actor.Attributes.container}}",
        &["type=network", "event=connect", "network=evnet"],
    );
    assert_eq!(connected.trim(), id);
    let images = events(&["type=image", "event=tag", "event=untag"]);
    let lines: Vec<&str> = images.lines().collect();
    assert!(
        lines.len() == 2
            && lines[0].starts_with("image tag sha256:")
            && lines[0].ends_with(" evtag:1")
            && lines[1].starts_with("image untag sha256:")
            && lines[1].ends_with(" evtag:1"),
        "{images}"
    );
    // Containers' events keep their place, and a type filter leaves the others out.
    let containers = events(&["type=container", "container=evbox"]);
    assert!(
        containers.lines().all(|l| l.starts_with("container ")),
        "{containers}"
    );
    // Named by their container's name (an attribute, as docker's), the destroy included:
    // by the name it had then (renamed before its removal).
    assert!(
        containers.contains(&format!("container create {id} evbox\n")),
        "{containers}"
    );
    assert!(
        containers.contains(&format!("container destroy {id} evbox2\n")),
        "{containers}"
    );
    assert!(
        containers.contains(&format!("container die {id} evbox2\n")),
        "{containers}"
    );
    assert_eq!(
        events(&["type=container", &format!("container={}", &id[..12])]),
        containers
    );

    let renamed = events_as(
        "{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}",
        &["event=rename"],
    );
    assert_eq!(renamed, "/evbox evbox2\n");

    // The same through bosun's own CLI, in docker's text form.
    let own = d.env.ok(
        "container",
        &[
            "events",
            "--since",
            &start,
            "--until",
            &until,
            "--filter",
            "type=volume",
        ],
    );
    let own: Vec<&str> = own.lines().collect();
    assert!(
        own.len() == 2
            && own[0].ends_with(" volume create evdata (driver=local)")
            && own[1].ends_with(" volume destroy evdata (driver=local)"),
        "{own:?}"
    );
}
