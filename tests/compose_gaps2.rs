//! End-to-end: Compose behaviours that `up` used to miss or refuse — networks and volumes
//! whose definition changed, keys that share another container's volumes or namespaces,
//! link aliases, interface names, image mounts and the `--no-deps` donor checks — with the
//! real binary, agent and containers (run as root). Each test names the Compose e2e test
//! (docker/compose `pkg/e2e`) it follows; the scenarios are ours.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use std::process::Output;

use compose_env::{Env, text};

/// `bosun -p <project> <args>` with extra environment variables.
fn with_env(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut all = vec!["-p", env.project.as_str()];
    all.extend_from_slice(args);
    let mut command = env.command(&all);
    for (key, value) in vars {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Like [`with_env`], expecting success; returns stdout and stderr together.
fn with_env_ok(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> String {
    let out = with_env(env, vars, args);
    assert!(
        out.status.success(),
        "bosun {args:?} with {vars:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// A container's id, from `container inspect`.
fn container_id(env: &Env, container: &str) -> String {
    let out = env.ok_raw(&["container", "inspect", container]);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = value.as_array().and_then(|a| a.first()).unwrap_or(&value);
    first["Id"].as_str().unwrap().to_string()
}

/// The IPv4 addresses of a service's first container, as `ip -4 -o addr` prints them.
fn addresses(env: &Env, service: &str) -> String {
    env.ok(&["exec", "-T", service, "ip", "-4", "-o", "addr"]).0
}

const NETWORK_CHANGED: &str = r#"
services:
  test:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    networks: [net]
  other:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
networks:
  net:
    ipam:
      config:
        - subnet: ${SUBNET:-172.99.0.0/16}
    labels:
      purpose: ${PURPOSE:-tests}
"#;

/// Follows Compose's TestNetworkConfigChanged and TestNetworkRecreate: `up` after a network's
/// subnet (or labels) changed stops the containers on it, recreates the network and brings
/// them back on the new one (Bosun recreates them where Compose reconnects them); a service
/// on another network is left alone.
#[test]
fn up_recreates_a_network_whose_definition_changed() {
    let env = Env::new(NETWORK_CHANGED);
    env.ok(&["up", "-d"]);
    assert!(addresses(&env, "test").contains("172.99."), "first subnet");
    let other_before = container_id(&env, &env.name("other", 1));

    let out = with_env_ok(&env, &[("SUBNET", "192.168.0.0/16")], &["up", "-d"]);
    let test = env.name("test", 1);
    assert!(
        out.contains(&format!(" Container {test}  Stopped")),
        "{out}"
    );
    assert!(
        out.contains(&format!(" Container {test}  Started")),
        "{out}"
    );
    assert!(
        addresses(&env, "test").contains("192.168."),
        "the container moved to the new subnet"
    );
    let network = env.ok_raw(&["network", "inspect", &format!("{}_net", env.project)]);
    assert!(network.contains("192.168.0.0/16"), "{network}");
    let other_after = container_id(&env, &env.name("other", 1));
    assert_eq!(
        other_before, other_after,
        "the service on the default network was not touched"
    );

    // A label change alone recreates it too; an unchanged up then changes nothing.
    let vars = [("SUBNET", "192.168.0.0/16"), ("PURPOSE", "other")];
    with_env_ok(&env, &vars, &["up", "-d"]);
    let network = env.ok_raw(&["network", "inspect", &format!("{}_net", env.project)]);
    assert!(network.contains("\"purpose\": \"other\""), "{network}");
    let dry = with_env_ok(&env, &vars, &["up", "-d", "--dry-run"]);
    assert!(!dry.contains("network"), "nothing left to change: {dry}");
}

const VOLUME_CHANGED: &str = r#"
services:
  app:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes:
      - my_vol:/data
volumes:
  my_vol:
    labels:
      foo: ${VOL_LABEL:-bar}
"#;

/// The value of label `key` of a volume, from `volume inspect`.
fn volume_label(env: &Env, volume: &str, key: &str) -> Option<String> {
    let out = env.ok_raw(&["volume", "inspect", volume]);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = value.as_array().and_then(|a| a.first()).unwrap_or(&value);
    first["Labels"][key].as_str().map(str::to_string)
}

/// Follows Compose's TestUpRecreateVolumes: a volume whose definition changed is recreated
/// only on the user's yes (`up -y`); without a terminal to ask on and without `-y`, `up`
/// refuses, naming the volume, and the data stays.
#[test]
fn a_changed_volume_is_recreated_only_with_yes() {
    let env = Env::new(VOLUME_CHANGED);
    env.ok(&["up", "-d"]);
    let volume = format!("{}_my_vol", env.project);
    assert_eq!(volume_label(&env, &volume, "foo").as_deref(), Some("bar"));
    env.ok(&["exec", "-T", "app", "sh", "-c", "echo kept > /data/file"]);

    let refused = with_env(&env, &[("VOL_LABEL", "zot")], &["up", "-d"]);
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains(&format!("volume {volume} exists but does not match")) && err.contains("-y"),
        "{err}"
    );
    assert_eq!(volume_label(&env, &volume, "foo").as_deref(), Some("bar"));
    let (file, _) = env.ok(&["exec", "-T", "app", "cat", "/data/file"]);
    assert_eq!(file, "kept\n", "nothing was deleted");

    with_env_ok(&env, &[("VOL_LABEL", "zot")], &["up", "-d", "-y"]);
    assert_eq!(volume_label(&env, &volume, "foo").as_deref(), Some("zot"));
    let gone = env.bosun(&["exec", "-T", "app", "cat", "/data/file"]);
    assert!(
        !gone.status.success(),
        "the app runs on the new, empty volume"
    );
    let again = with_env_ok(&env, &[("VOL_LABEL", "zot")], &["up", "-d", "--dry-run"]);
    assert!(!again.contains("volume"), "nothing left to change: {again}");
}

/// The IPv4 address of a service's first container on its only network.
fn address(env: &Env, service: &str) -> String {
    let out = addresses(env, service);
    out.lines()
        .filter(|l| !l.contains(" lo "))
        .find_map(|l| {
            let inet = l.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
            inet.split('/').next().map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no address in {out}"))
}

const LINKS: &str = r#"
services:
  container1:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    links:
      - container2:alias-of-container2
  container2:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#;

/// Follows Compose's TestNetworkLinks (and its alias step): a link's alias resolves to the
/// linked service from the linking one, as does the linked service's own name.
#[test]
fn a_link_alias_resolves_to_the_linked_service() {
    let env = Env::new(LINKS);
    env.ok(&["up", "-d"]);
    let target = address(&env, "container2");
    for name in ["alias-of-container2", "container2"] {
        let (out, _) = env.ok(&["exec", "-T", "container1", "nslookup", name]);
        assert!(out.contains(&target), "{name}: {out}");
    }
}

const INTERFACE_NAME: &str = r#"
services:
  test:
    image: busybox:test
    command: ["ip", "link"]
    networks:
      default:
        interface_name: foobar
"#;

/// Follows Compose's TestInterfaceName: `interface_name` names the container's interface on
/// that network.
#[test]
fn interface_name_names_the_containers_interface() {
    let env = Env::new(INTERFACE_NAME);
    let (out, _) = env.ok(&["run", "--rm", "test"]);
    assert!(out.contains("foobar@"), "{out}");
    assert!(!out.contains("eth0"), "{out}");
}

/// The IPC namespace of a container (`readlink /proc/1/ns/ipc` inside it).
fn ipc_namespace(env: &Env, container: &str) -> String {
    env.ok_raw(&["container", "exec", container, "readlink", "/proc/1/ns/ipc"])
        .trim()
        .to_string()
}

/// Follows Compose's TestIPC: `ipc: shareable` keeps a namespace of its own that
/// `ipc: service:NAME` joins, and `ipc: container:NAME` joins a container
/// the project does not manage, `ipc: host` the host's; a service without `ipc` has its own.
#[test]
fn ipc_modes_share_the_namespace_they_name() {
    let env = Env::new("services: {}\n");
    let external = format!("{}-external", env.project);
    env.ok_raw(&[
        "container",
        "run",
        "-d",
        "--name",
        &external,
        "busybox:test",
        "sleep",
        "1000",
    ]);
    env.write(&format!(
        r#"
services:
  shareable:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ipc: shareable
  service:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ipc: "service:shareable"
  container:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ipc: "container:{external}"
  alone:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  host:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    ipc: host
"#
    ));
    env.ok(&["up", "-d"]);
    let shareable = ipc_namespace(&env, &env.name("shareable", 1));
    assert!(shareable.starts_with("ipc:["), "{shareable}");
    assert_eq!(ipc_namespace(&env, &env.name("service", 1)), shareable);
    assert_eq!(
        ipc_namespace(&env, &env.name("container", 1)),
        ipc_namespace(&env, &external)
    );
    assert_ne!(ipc_namespace(&env, &env.name("alone", 1)), shareable);
    let host = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    assert_eq!(
        ipc_namespace(&env, &env.name("host", 1)),
        host.to_string_lossy()
    );
    env.ok_raw(&["container", "rm", "-f", &external]);
}

const VOLUMES_FROM: &str = r#"
services:
  db:
    image: busybox:test
    command: ["sh", "-c", "echo from-db > /data/file; exec sleep 1000"]
    stop_grace_period: 1s
    volumes:
      - data:/data
  app:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes_from:
      - db:ro
volumes:
  data: {}
"#;

/// Follows Compose's TestNoDepsVolumeFrom: `volumes_from: [db:ro]` mounts db's volumes
/// read-only; `up --no-deps app` reuses db's container while it exists and is refused, naming
/// db, once it is gone.
#[test]
fn volumes_from_mounts_the_donors_volumes_and_no_deps_needs_it() {
    let env = Env::new(VOLUMES_FROM);
    env.ok(&["up", "-d"]);
    let read = || env.bosun(&["exec", "-T", "app", "cat", "/data/file"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !read().status.success() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(text(&read().stdout), "from-db\n");
    let write = env.bosun(&["exec", "-T", "app", "sh", "-c", "echo x > /data/other"]);
    assert!(!write.status.success(), "the mount is read-only");
    assert!(
        text(&write.stderr).contains("Read-only"),
        "{}",
        text(&write.stderr)
    );

    let app = container_id(&env, &env.name("app", 1));
    let (out, err) = env.ok(&["up", "--no-deps", "-d", "app"]);
    assert!(!format!("{out}{err}").contains("Recreate"), "{out}{err}");
    assert_eq!(
        container_id(&env, &env.name("app", 1)),
        app,
        "app was not recreated"
    );
    env.ok_raw(&["container", "rm", "-f", &env.name("db", 1)]);
    let refused = env.bosun(&["up", "--no-deps", "-d", "app"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("cannot share volume with service db: container missing"),
        "{}",
        text(&refused.stderr)
    );
}

const NETWORK_MODE: &str = r#"
services:
  db:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  app:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    network_mode: "service:db"
"#;

/// Follows Compose's TestNoDepsNetworkMode: `up --no-deps app` with `network_mode:
/// service:db` reuses db's container while it exists and is refused, naming db, once it is
/// gone.
#[test]
fn no_deps_needs_the_network_namespace_donor() {
    let env = Env::new(NETWORK_MODE);
    env.ok(&["up", "-d"]);
    env.ok(&["up", "--no-deps", "-d", "app"]);
    env.ok_raw(&["container", "rm", "-f", &env.name("db", 1)]);
    let refused = env.bosun(&["up", "--no-deps", "-d", "app"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr)
            .contains("cannot share network namespace with service db: container missing"),
        "{}",
        text(&refused.stderr)
    );
}

/// Follows Compose's TestCompatibility: with `--compatibility` containers are named the v1
/// way, `<project>_<service>_<n>`, and the project's commands still find them.
#[test]
fn compatibility_names_containers_with_underscores() {
    let env = Env::new(
        r#"
services:
  simple:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#,
    );
    env.ok(&["--compatibility", "up", "-d"]);
    let name = format!("{}_simple_1", env.project);
    assert_eq!(env.ps(), [(name.clone(), "running".to_string())]);
    let (out, _) = env.ok(&["exec", "-T", "simple", "echo", "found"]);
    assert_eq!(out, "found\n");
    // An unchanged up in either mode leaves it alone.
    let (out, err) = env.ok(&["--compatibility", "up", "-d", "--dry-run"]);
    assert!(!format!("{out}{err}").contains("create"), "{out}{err}");
    env.ok(&["down", "-t", "1"]);
    assert!(env.ps().is_empty());
}

/// Follows Compose's TestLocalComposeConfigNoConsistency: `config --no-consistency` lists the
/// services, volumes, networks and hashes of a model that fails the consistency checks (a
/// service without an image), where plain `config` refuses it.
#[test]
fn config_no_consistency_lists_an_inconsistent_model() {
    let env = Env::new(
        r#"
services:
  incomplete:
    volumes:
      - data:/data
    networks:
      - internal
  gated:
    profiles: ["extra"]
volumes:
  data:
networks:
  internal:
"#,
    );
    let refused = env.bosun(&["config", "--services"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("neither an image nor a build context"),
        "{}",
        text(&refused.stderr)
    );
    let cases: [(&[&str], &str); 5] = [
        (
            &["config", "--no-consistency", "--services"],
            "incomplete\n",
        ),
        (&["config", "--no-consistency", "--volumes"], "data\n"),
        (&["config", "--no-consistency", "--networks"], "internal\n"),
        (
            &["config", "--no-consistency", "--hash", "*"],
            "incomplete ",
        ),
        (
            &[
                "--profile",
                "extra",
                "config",
                "--no-consistency",
                "--services",
            ],
            "gated\n",
        ),
    ];
    for (args, want) in cases {
        let (out, _) = env.ok(args);
        assert!(out.contains(want), "{args:?}: {out}");
    }
}

const IMAGE_MOUNT: &str = r#"
services:
  with_image:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes:
      - type: image
        source: busybox:test
        target: /mnt/image
        image:
          subpath: bin
"#;

/// Whether the host has a mount of one of this test's image mounts.
fn image_mounts_left(env: &Env) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let data = env.tmp.path().join("data");
    mounts
        .lines()
        .any(|l| l.contains(data.to_str().unwrap()) && l.contains("image-mounts"))
}

/// Follows Compose's TestImageVolume and TestImageVolumeImageAlreadyLocal: a `type: image`
/// mount shows the image's content (its `subpath`) read-only at the target, an unchanged `up`
/// keeps the container, and removing it releases the image's layers.
#[test]
fn an_image_mount_shows_the_images_content_read_only() {
    let env = Env::new(IMAGE_MOUNT);
    env.ok(&["up", "-d"]);
    let (out, _) = env.ok(&["exec", "-T", "with_image", "ls", "/mnt/image"]);
    assert!(out.lines().any(|l| l == "busybox"), "{out}");
    let write = env.bosun(&["exec", "-T", "with_image", "touch", "/mnt/image/new"]);
    assert!(!write.status.success(), "the image mount is read-only");
    assert!(image_mounts_left(&env));
    let id = container_id(&env, &env.name("with_image", 1));
    let (out, err) = env.ok(&["up", "-d"]);
    assert!(!format!("{out}{err}").contains("Recreate"), "{out}{err}");
    assert_eq!(container_id(&env, &env.name("with_image", 1)), id);
    env.ok(&["down", "-t", "1"]);
    assert!(!image_mounts_left(&env), "the image's layers are unmounted");
}
