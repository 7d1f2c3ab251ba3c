//! Property tests of the loader: no input makes it panic, and its canonical output is a
//! fixpoint.
//!
//! These property tests carry the fuzz targets: a cargo-fuzz target needs a nightly toolchain,
//! which this project's pinned stable toolchain does not provide, so arbitrary bytes, arbitrary
//! text and arbitrary YAML structures are thrown at the loader here instead (arbitrary
//! interpolation templates, in the unit tests of `src/interpolate/`), on every `cargo test`.
//!
//! - arbitrary bytes, arbitrary text and arbitrary YAML trees (built from compose's own
//!   vocabulary so they reach deep into the pipeline) given as a compose file never panic
//!   [`loader::load`] (an error is fine);
//! - generated valid projects loaded, rendered, loaded again and rendered again give the same
//!   text, and the same config hash for every service.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use compose_spec::discovery::ProjectOptions;
use compose_spec::env::Environment;
use compose_spec::loader::{self, LoadOptions, Loaded};
use compose_spec::{Result, hash, render};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Loads `file` (in `dir`) as the only compose file of project `p`, with `env` as the shell.
fn load(dir: &Path, file: &Path, env: &Environment) -> Result<Loaded> {
    loader::load(&LoadOptions {
        project: ProjectOptions {
            files: vec![file.to_path_buf()],
            project_name: Some("p".into()),
            working_dir: dir.to_path_buf(),
            environment: env.clone(),
            ..Default::default()
        },
        interpolate: true,
        ..Default::default()
    })
}

fn shell() -> Environment {
    [("HOME", "/home/user"), ("TAG", "1.25"), ("EMPTY", "")]
        .into_iter()
        .collect()
}

/// Writes `bytes` as `compose.yaml` in a fresh directory and loads it; only a panic fails.
fn load_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, bytes).unwrap();
    let _ = load(dir.path(), &file, &shell());
}

// ------------------------------------------------------------------ arbitrary input

/// Keys of the compose vocabulary, so generated trees hit real code paths.
const KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "ports",
    "volumes",
    "environment",
    "env_file",
    "depends_on",
    "networks",
    "extends",
    "build",
    "deploy",
    "healthcheck",
    "labels",
    "x-meta",
    "<<",
    "secrets",
    "configs",
    "ulimits",
    "restart",
    "scale",
    "container_name",
    "network_mode",
    "volumes_from",
    "tmpfs",
    "devices",
    "service",
    "file",
    "target",
    "source",
    "published",
    "condition",
    "type",
    "test",
    "interval",
    "replicas",
    "resources",
    "limits",
    "cpus",
    "memory",
    "mode",
    "external",
    "name",
    "driver",
    "aliases",
    "required",
    "path",
    "context",
    "dockerfile",
    "profiles",
    "expose",
    "web",
    "db",
    "front",
    "data",
];

/// Scalars that mean something to compose somewhere.
const WORDS: &[&str] = &[
    "",
    ".",
    "web",
    "db",
    "nginx",
    "8080:80",
    "127.0.0.1:80:80/udp",
    "1000-1002:80-82",
    "data:/data",
    "./src:/app:ro",
    "/host:/c:rw,z",
    "${TAG}",
    "${MISSING:-x}",
    "${NOPE:?gone}",
    "$$",
    "${",
    "1s",
    "1m30s",
    "512M",
    "0.5",
    "service:db",
    "host",
    "bridge",
    "always",
    "on-failure:3",
    "CMD",
    "NONE",
    "compose.yaml",
    "FOO=bar",
    "KEY",
    "!reset",
    "true",
    "-1",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        "[a-z0-9:/._${}=-]{0,16}".prop_map(Value::from),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_string),
                        "[a-z_-]{1,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A document with generated services and, sometimes, generated top-level sections.
fn document() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(
            (prop::sample::select(&["web", "db", "api", "x"][..]), tree()),
            0..4,
        ),
        prop::option::of(tree()),
        prop::option::of(tree()),
    )
        .prop_map(|(services, networks, volumes)| {
            let mut top = Map::new();
            let services: Map<String, Value> = services
                .into_iter()
                .map(|(name, body)| (name.to_string(), body))
                .collect();
            top.insert("services".into(), Value::Object(services));
            if let Some(networks) = networks {
                top.insert("networks".into(), networks);
            }
            if let Some(volumes) = volumes {
                top.insert("volumes".into(), volumes);
            }
            Value::Object(top)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load_bytes(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        load_bytes(text.as_bytes());
    }

    #[test]
    fn yaml_shaped_text_never_panics(
        text in "(services:\n  web:\n    )?[a-z:\\- \n\\[\\]{}&*!<>|'\"#$,.0-9]{0,200}",
    ) {
        load_bytes(text.as_bytes());
    }

    #[test]
    fn arbitrary_yaml_trees_never_panic(doc in document()) {
        let text = render::json_to_yaml_text(&doc).unwrap();
        load_bytes(text.as_bytes());
    }
}

// ------------------------------------------------------------------ config of config

/// One generated service; `index` keeps published ports distinct and `depends_on` acyclic.
fn service(index: usize) -> impl Strategy<Value = Value> {
    let port = 10_000 + index as u32 * 10;
    (
        (
            prop::sample::select(
                &[
                    "nginx",
                    "nginx:${TAG}",
                    "redis:7-alpine",
                    "registry.example.com:5000/team/api:v2",
                ][..],
            ),
            prop::option::of(prop_oneof![
                Just(json!("echo hello world")),
                Just(json!(["sh", "-c", "echo hello"])),
            ]),
            prop::option::of(prop_oneof![
                Just(json!(["A=1", "B=two words", "C="])),
                Just(json!({"A": "1", "B": 2, "C": true, "D": "${TAG:-latest}"})),
            ]),
            prop::option::of(prop_oneof![
                Just(json!([
                    format!("{port}:80"),
                    format!("127.0.0.1:{}:53/udp", port + 1)
                ])),
                Just(json!([{"target": 80, "published": format!("{}", port + 2),
                             "protocol": "tcp", "mode": "host"}, "9000"])),
            ]),
            prop::option::of(prop_oneof![
                Just(json!([
                    "data:/var/lib/data",
                    "./src:/app:ro",
                    "/srv/logs:/logs"
                ])),
                Just(json!([
                    {"type": "volume", "source": "cache", "target": "/cache",
                     "volume": {"nocopy": true}},
                    {"type": "bind", "source": "./conf", "target": "/etc/conf", "read_only": true},
                    {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 1000}},
                ])),
            ]),
            prop::option::of(prop_oneof![
                Just(json!(["front"])),
                Just(json!({"front": {"aliases": ["alias"]}, "back": null})),
                Just(json!({"back": {"priority": 10, "aliases": ["b"]}})),
            ]),
        ),
        (
            prop::option::of(prop_oneof![
                Just(json!(["com.example.team=core", "tier=web"])),
                Just(json!({"com.example.team": "core"})),
            ]),
            prop::option::of(prop_oneof![
                Just(
                    json!({"test": ["CMD", "curl", "-f", "http://localhost"], "interval": "30s",
                            "timeout": "5s", "retries": 3, "start_period": "1m"})
                ),
                Just(json!({"test": "pg_isready", "interval": "1m30s"})),
                Just(json!({"disable": true})),
            ]),
            prop::option::of(prop_oneof![
                Just(
                    json!({"replicas": 2, "resources": {"limits": {"cpus": "0.5",
                            "memory": "512M"}, "reservations": {"memory": "64m"}}})
                ),
                Just(
                    json!({"restart_policy": {"condition": "on-failure", "max_attempts": 3,
                            "delay": "5s"}, "labels": ["a=b"]})
                ),
            ]),
            prop::option::of(prop::sample::select(
                &[
                    "no",
                    "always",
                    "on-failure",
                    "unless-stopped",
                    "on-failure:3",
                ][..],
            )),
            prop::option::of(prop_oneof![
                Just(json!({"user": "1000:1000", "working_dir": "/app", "hostname": "h"})),
                Just(
                    json!({"entrypoint": ["/init"], "init": true, "read_only": true,
                            "stop_grace_period": "20s", "cap_add": ["NET_ADMIN"]})
                ),
                Just(
                    json!({"ulimits": {"nproc": 65535, "nofile": {"soft": 1, "hard": 2}},
                            "extra_hosts": ["somehost:162.242.195.82"], "dns": "8.8.8.8",
                            "expose": ["3000", 3001], "tmpfs": "/run"})
                ),
                Just(json!({"configs": ["site"], "secrets": ["token"],
                            "x-extra": {"any": ["thing"]}})),
            ]),
            prop::collection::vec(any::<bool>(), index),
            prop::option::of(prop::sample::select(
                &[
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully",
                ][..],
            )),
        ),
    )
        .prop_map(
            move |(
                (image, command, environment, ports, volumes, networks),
                (labels, healthcheck, deploy, restart, more, deps, condition),
            )| {
                let mut s = Map::new();
                s.insert("image".into(), json!(image));
                let optional = [
                    ("command", command),
                    ("environment", environment),
                    ("ports", ports),
                    ("volumes", volumes),
                    ("networks", networks),
                    ("labels", labels),
                    ("healthcheck", healthcheck),
                    ("deploy", deploy),
                    ("restart", restart.map(Value::from)),
                ];
                for (key, value) in optional {
                    if let Some(value) = value {
                        s.insert(key.into(), value);
                    }
                }
                if let Some(Value::Object(more)) = more {
                    s.extend(more);
                }
                let deps: Vec<String> = deps
                    .iter()
                    .enumerate()
                    .filter(|(_, on)| **on)
                    .map(|(i, _)| format!("s{i}"))
                    .collect();
                if !deps.is_empty() {
                    let value = match condition {
                        None => json!(deps),
                        Some(condition) => Value::Object(
                            deps.into_iter()
                                .map(|d| (d, json!({"condition": condition})))
                                .collect(),
                        ),
                    };
                    s.insert("depends_on".into(), value);
                }
                Value::Object(s)
            },
        )
}

fn project() -> impl Strategy<Value = Value> {
    (1usize..5)
        .prop_flat_map(|n| (0..n).map(service).collect::<Vec<_>>())
        .prop_map(|services| {
            json!({
                "services": services.into_iter().enumerate()
                    .map(|(i, s)| (format!("s{i}"), s)).collect::<Map<_, _>>(),
                "networks": {"front": {}, "back": {"driver": "bridge", "internal": true}},
                "volumes": {"data": {}, "cache": {"driver": "local", "labels": ["k=v"]}},
                "configs": {"site": {"content": "server {}\n"}},
                "secrets": {"token": {"environment": "TAG"}},
                "x-shared": {"owner": "team"},
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn config_of_config_is_a_fixpoint(doc in project()) {
        let dir = tempfile::tempdir().unwrap();
        let env = shell();
        let input = dir.path().join("compose.yaml");
        let text = render::json_to_yaml_text(&doc).unwrap();
        std::fs::write(&input, &text).unwrap();
        let first = load(dir.path(), &input, &env)
            .map_err(|e| TestCaseError::fail(format!("valid project refused: {e}\n{text}")))?;
        let first_yaml = render::to_yaml(&first.project, first.dollars).unwrap();

        let output = dir.path().join("config.yaml");
        std::fs::write(&output, &first_yaml).unwrap();
        let second = load(dir.path(), &output, &env)
            .map_err(|e| TestCaseError::fail(format!("config output refused: {e}\n{first_yaml}")))?;
        let second_yaml = render::to_yaml(&second.project, second.dollars).unwrap();

        prop_assert_eq!(&first_yaml, &second_yaml, "input:\n{}", text);
        prop_assert_eq!(
            hash::all_hashes(&first.project),
            hash::all_hashes(&second.project),
            "input:\n{}", text
        );
        prop_assert_eq!(first.project.services.len(), doc["services"].as_object().unwrap().len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A literal `$` (written `$$`) stays literal through config of config.
    #[test]
    fn literal_dollars_survive_config_of_config(text in "[a-zA-Z_ ]{0,6}\\$[a-zA-Z_{} ]{0,8}") {
        let dir = tempfile::tempdir().unwrap();
        let env = shell();
        let escaped = text.replace('$', "$$");
        let doc = json!({"services": {"web": {
            "image": "nginx",
            "command": ["sh", "-c", escaped],
            "environment": {"LITERAL": escaped},
            "labels": {"literal": escaped},
        }}});
        let input = dir.path().join("compose.yaml");
        std::fs::write(&input, render::json_to_yaml_text(&doc).unwrap()).unwrap();
        let first = load(dir.path(), &input, &env).unwrap();
        let web = &first.project.services["web"];
        prop_assert_eq!(&web.labels["literal"], &text);
        let first_yaml = render::to_yaml(&first.project, first.dollars).unwrap();
        let output = dir.path().join("config.yaml");
        std::fs::write(&output, &first_yaml).unwrap();
        let second = load(dir.path(), &output, &env)
            .map_err(|e| TestCaseError::fail(format!("config output refused: {e}\n{first_yaml}")))?;
        prop_assert_eq!(&second.project.services["web"].labels["literal"], &text);
        prop_assert_eq!(render::to_yaml(&second.project, second.dollars).unwrap(), first_yaml);
    }
}
