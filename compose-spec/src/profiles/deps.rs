//! The services a service needs: `depends_on`, `links`, `volumes_from` and the namespaces it
//! shares with another service (`network_mode: service:x`, `ipc`, `pid`, `uts`, `cgroup`).

use crate::path::KeyPath;
use crate::yaml::{Mark, Node, Value};

/// One service another service needs.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Dependency {
    /// The name of the needed service.
    pub name: String,
    /// Whether the dependant cannot run without it (`depends_on.<x>.required`, default true).
    pub required: bool,
    /// Where the reference is written.
    pub path: KeyPath,
    /// The reference's position.
    pub mark: Mark,
}

/// The namespace keys that may name a service as `service:<name>`.
const SHARED_NAMESPACES: [&str; 5] = ["network_mode", "ipc", "pid", "uts", "cgroup"];

/// What `service` (at `path`) needs, each service once: a `depends_on` entry first, so its
/// `required` flag holds even when a link or shared namespace names the same service.
pub(super) fn of(service: &Node, path: &KeyPath) -> Vec<Dependency> {
    let mut found: Vec<Dependency> = Vec::new();
    let mut add = |dependency: Dependency| {
        if !found.iter().any(|d| d.name == dependency.name) {
            found.push(dependency);
        }
    };
    if let Some(depends_on) = service.get("depends_on") {
        let path = path.key("depends_on");
        match &depends_on.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(name) = item.as_str() {
                        add(dependency(name, true, path.index(i), item));
                    }
                }
            }
            Value::Map(entries) => {
                for (name, entry) in entries {
                    let required = entry.get("required").is_none_or(is_true);
                    add(dependency(name, required, path.key(name), entry));
                }
            }
            _ => {}
        }
    }
    for (i, item) in strings(service, "links") {
        let name = item.as_str().unwrap_or_default();
        let name = name
            .split_once(':')
            .map_or(name, |(service, _alias)| service);
        add(dependency(name, true, path.key("links").index(i), item));
    }
    for (i, item) in strings(service, "volumes_from") {
        let source = item.as_str().unwrap_or_default();
        if source.starts_with("container:") {
            continue;
        }
        let name = source
            .split_once(':')
            .map_or(source, |(service, _mode)| service);
        add(dependency(
            name,
            true,
            path.key("volumes_from").index(i),
            item,
        ));
    }
    for key in SHARED_NAMESPACES {
        if let Some(node) = service.get(key)
            && let Some(name) = node.as_str().and_then(|v| v.strip_prefix("service:"))
        {
            add(dependency(name, true, path.key(key), node));
        }
    }
    found
}

fn dependency(name: &str, required: bool, path: KeyPath, node: &Node) -> Dependency {
    Dependency {
        name: name.to_owned(),
        required,
        path,
        mark: node.mark.clone(),
    }
}

/// The string items of the sequence under `key`, with their indexes.
fn strings<'a>(service: &'a Node, key: &str) -> impl Iterator<Item = (usize, &'a Node)> {
    service
        .get(key)
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, item)| item.as_str().is_some())
}

/// Whether a `required` flag is true; an interpolated string counts by its YAML meaning, and
/// anything that is not clearly false keeps the safe default (required).
fn is_true(node: &Node) -> bool {
    match &node.value {
        Value::Bool(b) => *b,
        Value::String(s) => !matches!(s.as_str(), "false" | "False" | "FALSE"),
        _ => true,
    }
}
