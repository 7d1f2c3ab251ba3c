//! Translation of compose services into agent configurations.

use std::collections::BTreeMap;

use compose_spec::model::{self, Service};
use orchestrator::compose::ContainerSpec;
use serde_json::json;

use super::*;

fn spec(service: serde_json::Value) -> ContainerSpec {
    let project = model::from_json(&json!({"services": {"web": service}})).unwrap();
    let definition: Service = project.services["web"].clone();
    ContainerSpec {
        name: "demo-web-1".into(),
        project: "demo".into(),
        service: "web".into(),
        number: 1,
        image: definition.image.clone().unwrap_or_default(),
        networks: definition
            .networks
            .keys()
            .map(|k| (k.clone(), format!("demo_{k}")))
            .collect(),
        volumes: BTreeMap::from([("data".to_string(), "demo_data".to_string())]),
        carried_volumes: BTreeMap::from([("/cache".to_string(), "0a1b".to_string())]),
        files: Ok(Vec::new()),
        labels: BTreeMap::from([("com.docker.compose.project".to_string(), "demo".to_string())]),
        definition,
    }
}

#[test]
fn process_options_reach_the_config() {
    let config = container_config(&spec(json!({
        "image": "busybox", "entrypoint": ["sh", "-c"], "command": ["echo hi"],
        "environment": {"A": "1", "UNSET": null}, "working_dir": "/srv", "user": "1000:1000",
        "hostname": "web", "stop_signal": "SIGINT", "stop_grace_period": "3s",
        "restart": "on-failure:2", "init": true, "tty": true,
        "security_opt": ["no-new-privileges:true"], "extra_hosts": ["db:10.0.0.2"],
        "ulimits": {"nofile": {"soft": 100, "hard": 200}},
        "healthcheck": {"test": ["CMD", "true"], "interval": "2s", "retries": 5},
        "deploy": {"resources": {"limits": {"cpus": "1.5", "memory": "64m", "pids": 50}}},
        "logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}
    })))
    .unwrap();
    assert_eq!(config.image, "busybox");
    assert!(config.has_entrypoint && config.has_cmd);
    assert_eq!(config.entrypoint, ["sh", "-c"]);
    assert_eq!(config.cmd, ["echo hi"]);
    assert_eq!(config.env, ["A=1"]);
    assert_eq!(
        (config.working_dir.as_str(), config.user.as_str()),
        ("/srv", "1000:1000")
    );
    assert_eq!(config.stop_signal, 2);
    assert_eq!(config.stop_timeout, Some(3));
    assert_eq!(config.restart, "on-failure:2");
    assert!(config.init && config.tty && config.no_new_privileges);
    assert_eq!(config.extra_hosts, ["db:10.0.0.2"]);
    assert_eq!((config.ulimits[0].soft, config.ulimits[0].hard), (100, 200));
    let check = config.healthcheck.unwrap();
    assert_eq!(check.test, ["CMD", "true"]);
    assert_eq!((check.interval, check.retries), (2_000_000_000, 5));
    assert_eq!(config.nano_cpus, 1_500_000_000);
    assert_eq!(config.memory, 64 * 1024 * 1024);
    assert_eq!(config.pids_limit, 50);
    assert_eq!(
        (config.log_max_size, config.log_max_files),
        (1024 * 1024, 3)
    );
    assert_eq!(config.labels["com.docker.compose.project"], "demo");
}

#[test]
fn networks_carry_the_service_name_and_aliases() {
    let config = container_config(&spec(json!({
        "image": "busybox",
        "networks": {"front": {"aliases": ["www"], "ipv4_address": "10.5.0.9"}},
        "ports": ["8080:80", "127.0.0.1::53/udp", "9000-9001:7000-7001"]
    })))
    .unwrap();
    assert_eq!(config.network_mode, "demo_front");
    assert_eq!(config.networks.len(), 1);
    assert_eq!(config.networks[0].network, "demo_front");
    assert_eq!(config.networks[0].aliases, ["web", "www"]);
    assert_eq!(config.networks[0].ipv4_address, "10.5.0.9");
    let ports: Vec<(String, u32, u32, u32, String)> = config
        .ports
        .iter()
        .map(|p| {
            (
                p.host_ip.clone(),
                p.host_port,
                p.host_port_end,
                p.container_port,
                p.protocol.clone(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            (String::new(), 8080, 0, 80, "tcp".to_string()),
            ("127.0.0.1".to_string(), 0, 0, 53, "udp".to_string()),
            // The loader expands a range mapping into one entry per port.
            (String::new(), 9000, 0, 7000, "tcp".to_string()),
            (String::new(), 9001, 0, 7001, "tcp".to_string()),
        ]
    );
    let mode = container_config(&spec(
        json!({"image": "busybox", "network_mode": "service:db"}),
    ))
    .unwrap();
    assert_eq!(mode.network_mode, "container:demo-db-1");
}

#[test]
fn mounts_resolve_named_anonymous_bind_and_tmpfs() {
    let config = container_config(&spec(json!({
        "image": "busybox",
        "volumes": ["data:/data", "/cache", "/fresh", "/srv:/srv:ro",
                    {"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1024}}],
        "tmpfs": ["/run:size=1m,mode=755"]
    })))
    .unwrap();
    let mounts: Vec<(&str, &str, &str, bool)> = config
        .mounts
        .iter()
        .map(|m| {
            (
                m.r#type.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only,
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("volume", "demo_data", "/data", false),
            ("volume", "0a1b", "/cache", false),
            ("volume", "", "/fresh", false),
            ("bind", "/srv", "/srv", true),
            ("tmpfs", "", "/t", false),
            ("tmpfs", "", "/run", false),
        ]
    );
    assert!(config.mounts[3].create_host_path);
    assert_eq!(config.mounts[4].tmpfs_size, 1024);
    assert_eq!(
        (config.mounts[5].tmpfs_size, config.mounts[5].tmpfs_mode),
        (1024 * 1024, 0o755)
    );
}

#[test]
fn bad_values_are_errors_naming_the_service() {
    let err =
        container_config(&spec(json!({"image": "busybox", "stop_signal": "SIGNOPE"}))).unwrap_err();
    assert_eq!(err.to_string(), "service web: unknown stop_signal SIGNOPE");
    let err =
        container_config(&spec(json!({"image": "busybox", "tmpfs": ["/run:bogus"]}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service web: invalid tmpfs option \"bogus\""
    );
    let err = container_config(&spec(
        json!({"image": "busybox", "volumes": ["/srv/data:/"]}),
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "service web: invalid mount config for type \"bind\": destination can't be '/' (target \"/\")"
    );
}

#[test]
fn limits_out_of_dockers_bounds_are_refused_naming_the_service() {
    let cases = [
        (
            json!({"mem_limit": "1"}),
            "Minimum memory limit allowed is 6MB",
        ),
        (
            json!({"mem_limit": -5}),
            "Minimum memory limit allowed is 6MB",
        ),
        (
            json!({"deploy": {"resources": {"limits": {"memory": "1k"}}}}),
            "Minimum memory limit allowed is 6MB",
        ),
        (json!({"cpus": 0.0000001}), "Range of CPUs is from 0.01 to"),
        (
            json!({"deploy": {"resources": {"limits": {"cpus": "1000000000"}}}}),
            "Range of CPUs is from 0.01 to",
        ),
        (
            json!({"mem_limit": "64m", "memswap_limit": "32m"}),
            "Minimum memoryswap limit should be larger than memory limit",
        ),
        (
            json!({"pids_limit": 99999999}),
            "invalid pids limit 99999999",
        ),
        (json!({"cpuset": "0-"}), "Invalid value 0- for cpuset cpus"),
    ];
    for (mut service, want) in cases {
        service["image"] = json!("busybox");
        let spec = spec(service);
        let err = check_limits("web", &spec.definition)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("service web: {want}")), "{err}");
        let err = container_config(&spec).unwrap_err().to_string();
        assert!(err.starts_with(&format!("service web: {want}")), "{err}");
    }
    let fine = spec(json!({"image": "busybox", "mem_limit": "64m", "cpus": 0.5}));
    assert_eq!(check_limits("web", &fine.definition), Ok(()));
}

#[test]
fn unsupported_keys_are_warned_about() {
    let service = spec(
        json!({"image": "busybox", "pid": "host", "external_links": ["db"],
                              "security_opt": ["no-new-privileges"]}),
    )
    .definition;
    assert_eq!(
        unsupported("web", &service),
        [
            "service web: external_links is not supported by bosun and is ignored",
            "service web: pid is not supported by bosun and is ignored",
        ]
    );
    assert!(unsupported("web", &spec(json!({"image": "busybox"})).definition).is_empty());
}

#[test]
fn secrets_and_configs_become_read_only_mounts() {
    use orchestrator::compose::files::{FileKind, FileSource, ServiceFile};
    let mut with_files = spec(json!({"image": "busybox"}));
    with_files.files = Ok(vec![
        ServiceFile {
            kind: FileKind::Secret,
            name: "pw".into(),
            target: "/run/secrets/pw".into(),
            source: FileSource::Path("/p/pw.txt".into()),
            uid: 0,
            gid: 0,
            mode: 0o400,
        },
        ServiceFile {
            kind: FileKind::Config,
            name: "conf".into(),
            target: "/conf".into(),
            source: FileSource::Content("a=1".into()),
            uid: 10,
            gid: 20,
            mode: 0o444,
        },
    ]);
    let config = container_config(&with_files).unwrap();
    let mounts: Vec<_> = config
        .mounts
        .iter()
        .map(|m| {
            (
                m.r#type.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only,
                m.content.as_slice(),
                (m.file_uid, m.file_gid, m.file_mode),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            (
                "bind",
                "/p/pw.txt",
                "/run/secrets/pw",
                true,
                &b""[..],
                (0, 0, 0)
            ),
            ("file", "", "/conf", true, &b"a=1"[..], (10, 20, 0o444)),
        ]
    );
    let mut broken = spec(json!({"image": "busybox"}));
    broken.files = Err("secret pw is not defined".into());
    assert_eq!(
        container_config(&broken).unwrap_err().to_string(),
        "service web: secret pw is not defined"
    );
}

#[test]
fn start_interval_needs_a_start_period() {
    let without = spec(json!({"image": "busybox",
        "healthcheck": {"test": ["CMD", "true"], "start_interval": "1s"}}));
    let want =
        "service web: healthcheck.start_interval requires healthcheck.start_period to be set";
    assert_eq!(container_config(&without).unwrap_err().to_string(), want);
    assert_eq!(
        check_limits("web", &without.definition)
            .unwrap_err()
            .to_string(),
        want
    );
    let with = spec(json!({"image": "busybox",
        "healthcheck": {"test": ["CMD", "true"], "start_period": "1m", "start_interval": "2s"}}));
    let check = container_config(&with).unwrap().healthcheck.unwrap();
    assert_eq!(
        (check.start_period, check.start_interval),
        (60_000_000_000, 2_000_000_000)
    );
}

#[test]
fn deploy_restart_policy_is_the_restart_policy() {
    let cases = [
        (
            json!({"condition": "on-failure", "max_attempts": 3}),
            "on-failure:3",
        ),
        (json!({"condition": "on-failure"}), "on-failure"),
        (json!({"condition": "none"}), "no"),
        (json!({"condition": "any", "delay": "5s"}), "always"),
    ];
    for (policy, want) in cases {
        let service = spec(json!({"image": "busybox", "restart": "no",
                                  "deploy": {"restart_policy": policy}}));
        assert_eq!(
            container_config(&service).unwrap().restart,
            want,
            "{policy}"
        );
    }
}

#[test]
fn signals_by_name_or_number() {
    assert_eq!(signal_number("SIGTERM"), Some(15));
    assert_eq!(signal_number("kill"), Some(9));
    assert_eq!(signal_number("10"), Some(10));
    assert_eq!(signal_number("NOPE"), None);
}
