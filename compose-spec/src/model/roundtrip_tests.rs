//! Whole-project tests: every key of the service definition, short syntaxes turned into the
//! canonical form, and `from_json(to_json(p)) == p`.

use serde_json::json;

use crate::model::*;

/// Every property of the compose schema's service definition.
const SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "pull_refresh_after",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// The fixture below as a value.
fn every_key_service() -> serde_json::Value {
    serde_json::from_str(EVERY_KEY_SERVICE).expect("the fixture is valid JSON")
}

/// A service setting every key, mostly in short syntax and with interpolated (string) scalars.
const EVERY_KEY_SERVICE: &str = r#"{
    "annotations": ["com.example.a=1"],
    "attach": "false",
    "blkio_config": {"weight": 300, "device_read_bps": [{"path": "/dev/sda", "rate": "1mb"}]},
    "build": {"context": "./app", "args": ["VERSION"]},
    "cap_add": ["NET_ADMIN"],
    "cap_drop": ["ALL"],
    "cgroup": "private",
    "cgroup_parent": "parent",
    "command": "python app.py --port 80",
    "configs": ["app_config", {"source": "other", "target": "/etc/other", "mode": "0444"}],
    "container_name": "web-1",
    "cpu_count": "2",
    "cpu_percent": 50,
    "cpu_period": 100000,
    "cpu_quota": "50000",
    "cpu_rt_period": "1ms",
    "cpu_rt_runtime": 950,
    "cpu_shares": 512,
    "cpus": "1.5",
    "cpuset": "0-1",
    "credential_spec": {"config": "cred"},
    "depends_on": ["db"],
    "deploy": {"replicas": 2, "resources": {"limits": {"memory": "256m"}}},
    "develop": {"watch": [{"path": "./src", "action": "sync", "target": "/src"}]},
    "device_cgroup_rules": ["c 1:3 mr"],
    "devices": ["/dev/fuse"],
    "dns": "8.8.8.8",
    "dns_opt": ["use-vc"],
    "dns_search": "example.com",
    "domainname": "example.com",
    "entrypoint": ["/bin/sh", "-c"],
    "env_file": "web.env",
    "environment": {"DEBUG": "1", "FROM_SHELL": null, "PORT": 80},
    "expose": [3000, "4000-4001/udp"],
    "extends": "base",
    "external_links": ["redis:cache"],
    "extra_hosts": ["host.docker.internal:host-gateway"],
    "gpus": "all",
    "group_add": [1000, "audio"],
    "healthcheck": {"test": "curl -f http://localhost", "interval": "30s", "retries": "3"},
    "hostname": "web",
    "image": "example/web:1.0",
    "init": "true",
    "ipc": "shareable",
    "isolation": "default",
    "label_file": "labels.txt",
    "labels": {"tier": "front"},
    "links": ["db:database"],
    "logging": {"driver": "json-file", "options": {"max-size": "10m"}},
    "mac_address": "02:42:ac:11:00:02",
    "mem_limit": "1g",
    "mem_reservation": "512m",
    "mem_swappiness": "60",
    "memswap_limit": -1,
    "models": ["llm"],
    "network_mode": "bridge",
    "networks": ["front"],
    "oom_kill_disable": "yes",
    "oom_score_adj": "-500",
    "pid": "host",
    "pids_limit": 100,
    "platform": "linux/amd64",
    "ports": ["127.0.0.1:8080-8081:80-81/tcp", 9000],
    "post_start": [{"command": "echo up"}],
    "pre_start": [{"image": "busybox", "command": ["true"]}],
    "pre_stop": [{"command": ["echo", "down"], "user": "root"}],
    "privileged": "true",
    "profiles": ["web"],
    "provider": {"type": "awesomecloud", "options": {"type": "mysql"}},
    "pull_policy": "if_not_present",
    "pull_refresh_after": "12h",
    "read_only": true,
    "restart": "on-failure:5",
    "runtime": "runc",
    "scale": "2",
    "secrets": ["db_password"],
    "security_opt": ["no-new-privileges:true"],
    "shm_size": "64m",
    "stdin_open": "true",
    "stop_grace_period": "1m30s",
    "stop_signal": "SIGINT",
    "storage_opt": {"size": "20G"},
    "sysctls": ["net.core.somaxconn=1024"],
    "tmpfs": "/run",
    "tty": "true",
    "ulimits": {"nofile": {"soft": 20000, "hard": 40000}, "nproc": "65535"},
    "use_api_socket": true,
    "user": 1000,
    "userns_mode": "host",
    "uts": "host",
    "volumes": ["./data:/data:ro", "cache:/cache", {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "64m"}}],
    "volumes_from": ["other:ro"],
    "working_dir": "/app",
    "x-custom": {"any": ["thing"]}
}"#;

fn every_key_project() -> serde_json::Value {
    json!({
        "name": "demo",
        "services": {"web": every_key_service(), "db": {"image": "postgres"}, "base": {"image": "alpine"}},
        "networks": {"front": {"driver": "bridge"}},
        "volumes": {"cache": null},
        "secrets": {"db_password": {"file": "./pw.txt"}},
        "configs": {"app_config": {"content": "x=1"}, "other": {"environment": "OTHER"}},
        "models": {"llm": {"model": "ai/smollm2"}},
        "x-top": 1
    })
}

#[test]
fn every_service_key_is_read_and_written_back() {
    let mut keys: Vec<&str> = SERVICE_KEYS.to_vec();
    keys.sort_unstable();
    let fixture = every_key_service();
    let fixture_keys: Vec<&str> = fixture
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with("x-"))
        .collect();
    assert_eq!(fixture_keys, keys, "the fixture sets every schema key");

    let project = from_json(&every_key_project()).unwrap();
    let written = to_json(&project);
    let web = written["services"]["web"].as_object().unwrap();
    for key in SERVICE_KEYS {
        assert!(web.contains_key(*key), "{key} is written back");
    }
    assert_eq!(web["x-custom"], json!({"any": ["thing"]}));
}

#[test]
fn every_key_project_round_trips() {
    let project = from_json(&every_key_project()).unwrap();
    let written = to_json(&project);
    let again = from_json(&written).unwrap();
    assert_eq!(again, project);
    assert_eq!(to_json(&again), written, "config of config is a fixpoint");
}

#[test]
fn short_syntaxes_become_the_canonical_form() {
    let project = from_json(&every_key_project()).unwrap();
    let web = &project.services["web"];
    assert_eq!(
        web.command.as_deref(),
        Some(&["python", "app.py", "--port", "80"].map(String::from)[..])
    );
    assert_eq!(web.attach, Some(false));
    assert_eq!(web.environment["FROM_SHELL"], None);
    assert_eq!(web.environment["PORT"].as_deref(), Some("80"));
    assert_eq!(web.build.as_ref().unwrap().args["VERSION"], None);
    assert_eq!(web.depends_on["db"], DependsOn::default());
    assert_eq!(web.ports.len(), 3);
    assert_eq!(web.ports[1].published.as_deref(), Some("8081"));
    assert_eq!(web.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(web.volumes[0].kind, VolumeType::Bind);
    assert!(web.volumes[0].read_only);
    assert_eq!(web.volumes[1].kind, VolumeType::Volume);
    assert_eq!(web.networks["front"], None);
    assert_eq!(web.models["llm"], ServiceModel::default());
    assert_eq!(
        web.extends,
        Some(Extends {
            service: "base".to_owned(),
            file: None
        })
    );
    assert_eq!(web.env_file, [EnvFile::new("web.env")]);
    assert_eq!(web.extra_hosts["host.docker.internal"], ["host-gateway"]);
    assert_eq!(web.gpus[0].count, Some(DeviceCount::All));
    assert_eq!(
        web.healthcheck.as_ref().unwrap().test.as_ref().unwrap()[0],
        "CMD-SHELL"
    );
    assert_eq!(
        web.restart,
        Some(RestartPolicy::OnFailure {
            max_retries: Some(5)
        })
    );
    assert_eq!(web.pull_policy, Some(PullPolicy::Missing));
    assert_eq!(web.mem_limit, Some(ByteSize(1 << 30)));
    assert_eq!(web.memswap_limit, Some(ByteSize(-1)));
    assert_eq!(web.cpus, Some(1.5));
    assert_eq!(web.cpu_rt_period, Some(1000));
    assert_eq!(web.stop_grace_period, Some(Duration::from_secs(90)));
    assert_eq!(web.ulimits["nproc"].hard, 65535);
    assert_eq!(web.user.as_deref(), Some("1000"));
    assert_eq!(web.group_add, ["1000", "audio"]);
    assert_eq!(web.expose, ["3000", "4000-4001/udp"]);
    assert_eq!(web.devices[0].target.as_deref(), Some("/dev/fuse"));
    assert!(web.oom_kill_disable && web.privileged && web.tty && web.stdin_open);
    assert_eq!(web.replicas(), 2);

    let written = to_json(&project);
    let out = &written["services"]["web"];
    assert_eq!(out["command"], json!(["python", "app.py", "--port", "80"]));
    assert_eq!(out["restart"], json!("on-failure:5"));
    assert_eq!(out["stop_grace_period"], json!("1m30s"));
    assert_eq!(out["mem_limit"], json!(1073741824));
    assert_eq!(out["networks"], json!({"front": null}));
    assert_eq!(
        out["extra_hosts"],
        json!(["host.docker.internal=host-gateway"])
    );
    assert_eq!(
        out["ports"][2],
        json!({"mode": "ingress", "target": 9000, "protocol": "tcp"})
    );
    assert_eq!(
        out["volumes"][0],
        json!({"type": "bind", "source": "./data", "target": "/data", "read_only": true, "bind": {"create_host_path": true}})
    );
    assert_eq!(
        out["depends_on"],
        json!({"db": {"condition": "service_started", "restart": false, "required": true}})
    );
}

#[test]
fn absent_and_empty_commands_differ() {
    let p = from_json(&json!({"services": {"a": {"command": []}, "b": {}}})).unwrap();
    assert_eq!(p.services["a"].command, Some(vec![]));
    assert_eq!(p.services["b"].command, None);
    let written = to_json(&p);
    assert_eq!(written["services"]["a"], json!({"command": []}));
    assert_eq!(written["services"]["b"], json!({}));
    assert_eq!(from_json(&written).unwrap(), p);
}

#[test]
fn output_is_sorted_and_deterministic() {
    let a =
        from_json(&json!({"services": {"z": {"labels": {"b": "1", "a": "2"}}, "a": {}}})).unwrap();
    let b = from_json(&json!({"services": {"a": {}, "z": {"labels": ["a=2", "b=1"]}}})).unwrap();
    assert_eq!(a, b);
    let text = serde_json::to_string(&to_json(&a)).unwrap();
    assert_eq!(
        text,
        r#"{"services":{"a":{},"z":{"labels":{"a":"2","b":"1"}}}}"#
    );
}
