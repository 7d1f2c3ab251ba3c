//! Merge rules, one table per rule: each case merges files in order and compares the result.

mod tags;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::*;
use crate::yaml::Mark;

fn mark(file: &str, line: usize) -> Mark {
    Mark::new(Arc::from(Path::new(file)), line, 1)
}

fn doc(json: &Json, file: &str) -> Node {
    Node::from_json(json, &mark(file, 1))
}

/// Merges the documents in order and returns the result as JSON.
fn merged(docs: &[Json]) -> Json {
    let nodes = docs
        .iter()
        .enumerate()
        .map(|(i, d)| doc(d, &format!("f{i}.yaml")));
    merge_all(nodes).unwrap().unwrap().to_json()
}

/// Wraps a service definition in a document.
fn web(service: Json) -> Json {
    json!({"services": {"web": service}})
}

/// Runs `(name, base service, override service, expected service)` cases.
fn check(cases: &[(&str, Json, Json, Json)]) {
    for (name, base, over, want) in cases {
        let got = merged(&[web(base.clone()), web(over.clone())]);
        assert_eq!(got, web(want.clone()), "case {name}");
    }
}

#[test]
fn mappings_deep_merge_and_scalars_are_replaced() {
    check(&[
        (
            "scalar",
            json!({"image": "a", "restart": "no"}),
            json!({"image": "b"}),
            json!({"image": "b", "restart": "no"}),
        ),
        (
            "new key appended",
            json!({"image": "a"}),
            json!({"user": "me"}),
            json!({"image": "a", "user": "me"}),
        ),
        (
            "nested",
            json!({"deploy": {"resources": {"limits": {"cpus": "1", "memory": "1g"}}}}),
            json!({"deploy": {"resources": {"limits": {"cpus": "2"}}, "replicas": 2}}),
            json!({"deploy": {"resources": {"limits": {"cpus": "2", "memory": "1g"}}, "replicas": 2}}),
        ),
        (
            "null keeps base",
            json!({"image": "a"}),
            json!({"image": null}),
            json!({"image": "a"}),
        ),
        (
            "extension keys",
            json!({"x-meta": {"a": 1, "list": [1]}}),
            json!({"x-meta": {"b": 2, "list": [2]}}),
            json!({"x-meta": {"a": 1, "b": 2, "list": [1, 2]}}),
        ),
    ]);
    let top = merged(&[
        json!({"x-top": {"a": 1}, "volumes": {"db": {"driver": "local"}}}),
        json!({"x-top": {"b": 2}, "volumes": {"db": {"driver_opts": {"o": "bind"}}}}),
    ]);
    assert_eq!(
        top,
        json!({"x-top": {"a": 1, "b": 2}, "volumes": {"db": {"driver": "local", "driver_opts": {"o": "bind"}}}})
    );
}

#[test]
fn sequences_append() {
    check(&[
        (
            "security_opt",
            json!({"security_opt": ["a"]}),
            json!({"security_opt": ["b"]}),
            json!({"security_opt": ["a", "b"]}),
        ),
        (
            "volumes_from",
            json!({"volumes_from": ["db"]}),
            json!({"volumes_from": ["cache"]}),
            json!({"volumes_from": ["db", "cache"]}),
        ),
        (
            "dns string onto list",
            json!({"dns": ["8.8.8.8"]}),
            json!({"dns": "1.1.1.1"}),
            json!({"dns": ["8.8.8.8", "1.1.1.1"]}),
        ),
        (
            "env_file string onto string",
            json!({"env_file": "a.env"}),
            json!({"env_file": "b.env"}),
            json!({"env_file": ["a.env", "b.env"]}),
        ),
        (
            "tmpfs",
            json!({"tmpfs": "/tmp"}),
            json!({"tmpfs": ["/run"]}),
            json!({"tmpfs": ["/tmp", "/run"]}),
        ),
    ]);
}

#[test]
fn replace_keys_replace() {
    check(&[
        (
            "command",
            json!({"command": ["a", "b"]}),
            json!({"command": ["c"]}),
            json!({"command": ["c"]}),
        ),
        (
            "command string",
            json!({"command": ["a", "b"]}),
            json!({"command": "run"}),
            json!({"command": "run"}),
        ),
        (
            "entrypoint",
            json!({"entrypoint": ["sh", "-c"]}),
            json!({"entrypoint": ["bash"]}),
            json!({"entrypoint": ["bash"]}),
        ),
        (
            "healthcheck.test",
            json!({"healthcheck": {"test": ["CMD", "a"], "interval": "5s"}}),
            json!({"healthcheck": {"test": ["CMD", "b"]}}),
            json!({"healthcheck": {"test": ["CMD", "b"], "interval": "5s"}}),
        ),
        (
            "ulimits entry",
            json!({"ulimits": {"nofile": {"soft": 1, "hard": 2}, "nproc": 10}}),
            json!({"ulimits": {"nofile": 5}}),
            json!({"ulimits": {"nofile": 5, "nproc": 10}}),
        ),
        (
            "logging other driver",
            json!({"logging": {"driver": "json-file", "options": {"max-size": "1m"}}}),
            json!({"logging": {"driver": "syslog", "options": {"tag": "x"}}}),
            json!({"logging": {"driver": "syslog", "options": {"tag": "x"}}}),
        ),
        (
            "logging same driver merges",
            json!({"logging": {"driver": "json-file", "options": {"max-size": "1m"}}}),
            json!({"logging": {"options": {"max-file": "3"}}}),
            json!({"logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}}),
        ),
    ]);
}

#[test]
fn list_and_dict_forms_merge() {
    let started = json!({"condition": "service_started", "required": true});
    check(&[
        (
            "environment list onto dict",
            json!({"environment": {"A": "1", "B": "2"}}),
            json!({"environment": ["B=3", "C", "D="]}),
            json!({"environment": {"A": "1", "B": "3", "C": null, "D": ""}}),
        ),
        (
            "environment dict onto list",
            json!({"environment": ["A=1", "B=2"]}),
            json!({"environment": {"B": 3}}),
            json!({"environment": {"A": "1", "B": 3}}),
        ),
        (
            "labels list onto list",
            json!({"labels": ["a=1"]}),
            json!({"labels": ["a=2", "b=1"]}),
            json!({"labels": {"a": "2", "b": "1"}}),
        ),
        (
            "build.args",
            json!({"build": {"args": ["V=1"]}}),
            json!({"build": {"args": {"W": "2"}}}),
            json!({"build": {"args": {"V": "1", "W": "2"}}}),
        ),
        (
            "sysctls",
            json!({"sysctls": {"net.core.somaxconn": 1024}}),
            json!({"sysctls": ["net.ipv4.ip_forward=1"]}),
            json!({"sysctls": {"net.core.somaxconn": 1024, "net.ipv4.ip_forward": "1"}}),
        ),
        (
            // as in Compose, the short form stands for `service_started` and wins
            "depends_on list onto dict",
            json!({"depends_on": {"db": {"condition": "service_healthy", "restart": true}}}),
            json!({"depends_on": ["db", "cache"]}),
            json!({"depends_on": {"db": {"condition": "service_started", "restart": true, "required": true}, "cache": started}}),
        ),
        (
            "depends_on dict onto list",
            json!({"depends_on": ["db"]}),
            json!({"depends_on": {"db": {"condition": "service_healthy"}}}),
            json!({"depends_on": {"db": {"condition": "service_healthy", "required": true}}}),
        ),
        (
            "networks",
            json!({"networks": ["front"]}),
            json!({"networks": {"back": {"aliases": ["b"]}, "front": {"ipv4_address": "10.0.0.2"}}}),
            json!({"networks": {"front": {"ipv4_address": "10.0.0.2"}, "back": {"aliases": ["b"]}}}),
        ),
        (
            "build string onto map",
            json!({"build": {"context": ".", "target": "dev"}}),
            json!({"build": "./app"}),
            json!({"build": {"context": "./app", "target": "dev"}}),
        ),
        (
            "build map onto string",
            json!({"build": "."}),
            json!({"build": {"dockerfile": "D"}}),
            json!({"build": {"context": ".", "dockerfile": "D"}}),
        ),
        (
            "extends",
            json!({"extends": "base"}),
            json!({"extends": {"file": "b.yaml"}}),
            json!({"extends": {"service": "base", "file": "b.yaml"}}),
        ),
        (
            "extra_hosts",
            json!({"extra_hosts": {"db": "10.0.0.2", "multi": ["10.0.0.3", "10.0.0.4"]}}),
            json!({"extra_hosts": ["db=10.0.0.2", "cache=10.0.0.5"]}),
            json!({"extra_hosts": ["db=10.0.0.2", "multi=10.0.0.3", "multi=10.0.0.4", "cache=10.0.0.5"]}),
        ),
    ]);
}

#[test]
fn unique_keys_collide() {
    check(&[
        (
            "same short port",
            json!({"ports": ["8080:80", "443:443"]}),
            json!({"ports": ["8080:80"]}),
            json!({"ports": ["8080:80", "443:443"]}),
        ),
        (
            "short and long port",
            json!({"ports": ["8080:80"]}),
            json!({"ports": [{"target": 80, "published": "8080", "mode": "host"}]}),
            json!({"ports": [{"target": 80, "published": "8080", "mode": "host"}]}),
        ),
        (
            "other protocol is another port",
            json!({"ports": ["53:53"]}),
            json!({"ports": ["53:53/udp"]}),
            json!({"ports": ["53:53", "53:53/udp"]}),
        ),
        (
            "volumes by target",
            json!({"volumes": ["./a:/data", "logs:/logs"]}),
            json!({"volumes": [{"type": "volume", "source": "d", "target": "/data/"}]}),
            json!({"volumes": [{"type": "volume", "source": "d", "target": "/data/"}, "logs:/logs"]}),
        ),
        (
            "secrets by target",
            json!({"secrets": ["token"]}),
            json!({"secrets": [{"source": "token", "mode": 288}]}),
            json!({"secrets": [{"source": "token", "mode": 288}]}),
        ),
        (
            "secrets other target",
            json!({"secrets": ["token"]}),
            json!({"secrets": [{"source": "token", "target": "/etc/token"}]}),
            json!({"secrets": ["token", {"source": "token", "target": "/etc/token"}]}),
        ),
        (
            "configs by target",
            json!({"configs": [{"source": "a", "target": "/c"}]}),
            json!({"configs": [{"source": "b", "target": "/c"}]}),
            json!({"configs": [{"source": "b", "target": "/c"}]}),
        ),
        (
            "expose int and string",
            json!({"expose": [80, "443"]}),
            json!({"expose": ["80"]}),
            json!({"expose": ["80", "443"]}),
        ),
        (
            "env_file string and map",
            json!({"env_file": ["a.env"]}),
            json!({"env_file": [{"path": "a.env", "required": false}]}),
            json!({"env_file": [{"path": "a.env", "required": false}]}),
        ),
        (
            "devices by container path",
            json!({"devices": ["/dev/a:/dev/x"]}),
            json!({"devices": ["/dev/b:/dev/x:r"]}),
            json!({"devices": ["/dev/b:/dev/x:r"]}),
        ),
        (
            "cap_add",
            json!({"cap_add": ["NET_ADMIN"]}),
            json!({"cap_add": ["NET_ADMIN", "SYS_TIME"]}),
            json!({"cap_add": ["NET_ADMIN", "SYS_TIME"]}),
        ),
        (
            "profiles",
            json!({"profiles": ["a"]}),
            json!({"profiles": ["a", "b"]}),
            json!({"profiles": ["a", "b"]}),
        ),
        (
            "dns",
            json!({"dns": ["8.8.8.8"]}),
            json!({"dns": "8.8.8.8"}),
            json!({"dns": ["8.8.8.8"]}),
        ),
    ]);
    // one file alone is de-duplicated too, the last definition winning in the first's place
    let single = merged(&[web(
        json!({"environment": ["A=1", "B=2", "A=3"], "ports": ["80:80", "81:81", "80:80/tcp"]}),
    )]);
    assert_eq!(
        single,
        web(json!({"environment": ["A=3", "B=2"], "ports": ["80:80/tcp", "81:81"]}))
    );
}

#[test]
fn ipam_config_merges_by_subnet() {
    let base = json!({"networks": {"n": {"ipam": {"config": [{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}]}}}});
    let over = json!({"networks": {"n": {"ipam": {"config": [{"subnet": "10.0.0.0/24", "ip_range": "10.0.0.0/28"}, {"subnet": "10.1.0.0/24"}]}}}});
    let want = json!({"networks": {"n": {"ipam": {"config": [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.0/28"},
        {"subnet": "10.1.0.0/24"},
    ]}}}});
    assert_eq!(merged(&[base, over]), want);
}
