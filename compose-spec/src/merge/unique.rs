//! Sequences whose entries are unique by a key (`ports`, `volumes`, `secrets` …): one entry per
//! key, the last definition replacing the first at the first one's position.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::yaml::{Node, Value};

use super::shapes::scalar_text;

/// How the key of an entry is found.
#[derive(Debug, Clone, Copy)]
enum Index {
    /// `KEY=value` or a plain string: the part before `=`.
    KeyValue,
    /// A service volume: its container target.
    Volume,
    /// A device: its container path.
    Device,
    /// An exposed port, as text.
    Expose,
    /// A secret or config: its target, by default under this directory.
    Mount(&'static str),
    /// A port: `host_ip:published:target/protocol`.
    Port,
    /// An env_file: its path.
    EnvFile,
}

/// Where entries are unique, and by which key.
const UNIQUE: &[(&str, Index)] = &[
    ("networks.*.labels", Index::KeyValue),
    ("networks.*.ipam.options", Index::KeyValue),
    ("services.*.annotations", Index::KeyValue),
    ("services.*.build.args", Index::KeyValue),
    ("services.*.build.additional_contexts", Index::KeyValue),
    ("services.*.build.platforms", Index::KeyValue),
    ("services.*.build.tags", Index::KeyValue),
    ("services.*.build.labels", Index::KeyValue),
    ("services.*.cap_add", Index::KeyValue),
    ("services.*.cap_drop", Index::KeyValue),
    ("services.*.configs", Index::Mount("")),
    ("services.*.deploy.labels", Index::KeyValue),
    ("services.*.devices", Index::Device),
    ("services.*.dns", Index::KeyValue),
    ("services.*.dns_opt", Index::KeyValue),
    ("services.*.dns_search", Index::KeyValue),
    ("services.*.environment", Index::KeyValue),
    ("services.*.env_file", Index::EnvFile),
    ("services.*.expose", Index::Expose),
    ("services.*.labels", Index::KeyValue),
    ("services.*.links", Index::KeyValue),
    ("services.*.networks.*.aliases", Index::KeyValue),
    ("services.*.networks.*.link_local_ips", Index::KeyValue),
    ("services.*.ports", Index::Port),
    ("services.*.profiles", Index::KeyValue),
    ("services.*.secrets", Index::Mount("/run/secrets")),
    ("services.*.sysctls", Index::KeyValue),
    ("services.*.tmpfs", Index::KeyValue),
    ("services.*.volumes", Index::Volume),
];

/// De-duplicates every unique-keyed sequence of a whole document.
pub(crate) fn enforce_unicity(mut doc: Node) -> Node {
    enforce_unicity_in(&mut doc, &mut Vec::new());
    doc
}

/// De-duplicates the unique-keyed sequences in `node`, found at `path`.
pub(super) fn enforce_unicity_at(mut node: Node, path: &mut [String]) -> Node {
    let mut borrowed: Vec<&str> = path.iter().map(String::as_str).collect();
    enforce_unicity_in(&mut node, &mut borrowed);
    node
}

/// [`UNIQUE`] with its patterns split into keys once.
fn patterns() -> &'static [(Vec<&'static str>, Index)] {
    static PATTERNS: OnceLock<Vec<(Vec<&'static str>, Index)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        UNIQUE
            .iter()
            .map(|(pattern, index)| (pattern.split('.').collect(), *index))
            .collect()
    })
}

/// Whether `path` matches `pattern` (`*` matches any key); with `prefix`, whether it leads there.
fn fits(path: &[&str], pattern: &[&str], prefix: bool) -> bool {
    let length_ok = if prefix {
        path.len() <= pattern.len()
    } else {
        path.len() == pattern.len()
    };
    length_ok
        && path
            .iter()
            .zip(pattern)
            .all(|(key, part)| *part == "*" || part == key)
}

/// [`enforce_unicity_at`] in place: only the sequences at unique-keyed paths are rebuilt, and
/// only mappings on the way to such a path are visited.
fn enforce_unicity_in<'a>(node: &'a mut Node, path: &mut Vec<&'a str>) {
    match &mut node.value {
        Value::Map(map) => {
            for (key, value) in map.iter_mut() {
                if !matches!(value.value, Value::Map(_) | Value::Seq(_)) {
                    continue;
                }
                path.push(key.as_str());
                if patterns()
                    .iter()
                    .any(|(pattern, _)| fits(path, pattern, true))
                {
                    enforce_unicity_in(value, path);
                }
                path.pop();
            }
        }
        Value::Seq(items) => {
            if let Some((_, index)) = patterns()
                .iter()
                .find(|(pattern, _)| fits(path, pattern, false))
            {
                *items = dedupe(std::mem::take(items), *index);
            }
        }
        _ => {}
    }
}

/// Keeps one entry per key; entries without a recognizable key are all kept.
fn dedupe(items: Vec<Node>, index: Index) -> Vec<Node> {
    let mut kept: Vec<Node> = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in items {
        match key_of(&item, index) {
            Some(key) => match seen.get(&key) {
                Some(&at) => kept[at] = item,
                None => {
                    seen.insert(key, kept.len());
                    kept.push(item);
                }
            },
            None => kept.push(item),
        }
    }
    kept
}

/// The key an entry is unique by.
fn key_of(item: &Node, index: Index) -> Option<String> {
    match index {
        Index::KeyValue => {
            let text = scalar_text(item)?;
            Some(
                text.split_once('=')
                    .map_or(text.clone(), |(key, _)| key.to_owned()),
            )
        }
        Index::Expose => scalar_text(item),
        Index::EnvFile => match &item.value {
            Value::Map(_) => item.get("path").and_then(scalar_text),
            _ => scalar_text(item),
        },
        Index::Volume => match &item.value {
            Value::Map(_) => item
                .get("target")
                .and_then(scalar_text)
                .map(|t| clean_target(&t)),
            Value::String(s) => Some(clean_target(volume_target(s))),
            _ => None,
        },
        Index::Device => match &item.value {
            Value::Map(_) => item.get("target").and_then(scalar_text),
            Value::String(s) => {
                let mut parts = s.split(':');
                let source = parts.next()?;
                Some(parts.next().unwrap_or(source).to_owned())
            }
            _ => None,
        },
        Index::Mount(dir) => {
            let (target, source) = match &item.value {
                Value::Map(_) => (item.get("target").and_then(scalar_text), item.get("source")),
                _ => (None, Some(item)),
            };
            match target {
                Some(t) if t.starts_with('/') || dir.is_empty() => Some(t),
                Some(t) => Some(format!("{dir}/{t}")),
                None => Some(format!("{dir}/{}", scalar_text(source?)?)),
            }
        }
        Index::Port => match &item.value {
            Value::Map(_) => {
                let text = |key: &str| item.get(key).and_then(scalar_text);
                let host = text("host_ip").unwrap_or_else(|| "0.0.0.0".to_owned());
                let published = text("published").unwrap_or_default();
                let protocol = text("protocol").unwrap_or_else(|| "tcp".to_owned());
                Some(format!("{host}:{published}:{}/{protocol}", text("target")?))
            }
            _ => scalar_text(item).map(|s| port_key(&s)),
        },
    }
}

/// The key of a short-syntax port (`[host_ip:][published:]target[/protocol]`), written like a
/// long-syntax one so that both forms of the same port collide; ranges keep their text.
fn port_key(text: &str) -> String {
    let (spec, protocol) = text.rsplit_once('/').unwrap_or((text, "tcp"));
    let (host, rest) = match spec.strip_prefix('[') {
        Some(v6) => match v6.split_once("]:") {
            Some((ip, rest)) => (Some(ip), rest),
            None => return text.to_owned(),
        },
        None => (None, spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host, published, target) = match (host, parts.as_slice()) {
        (None, [target]) => ("0.0.0.0", "", *target),
        (None, [published, target]) => ("0.0.0.0", *published, *target),
        (None, [host, published, target]) => (*host, *published, *target),
        (Some(host), [published, target]) => (host, *published, *target),
        _ => return text.to_owned(),
    };
    if target.contains('-') || published.contains('-') {
        return text.to_owned();
    }
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    format!("{host}:{published}:{target}/{protocol}")
}

/// The container target of a short-syntax volume (`[source:]target[:mode]`), allowing for a
/// Windows drive letter in the source.
fn volume_target(text: &str) -> &str {
    let bytes = text.as_bytes();
    let skip = if bytes.len() > 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/')
    {
        2
    } else {
        0
    };
    let parts: Vec<&str> = text[skip..].split(':').collect();
    match parts.as_slice() {
        [target] if skip == 0 => target,
        [_, target, ..] => target,
        _ => text,
    }
}

/// A container path without trailing or doubled slashes and `.` steps, so `/data/` and `/data`
/// are one target.
fn clean_target(target: &str) -> String {
    let absolute = target.starts_with('/');
    let steps: Vec<&str> = target
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let joined = steps.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ports_key_like_long_ones() {
        let cases = [
            ("80", "0.0.0.0::80/tcp"),
            ("8080:80", "0.0.0.0:8080:80/tcp"),
            ("127.0.0.1:8080:80/udp", "127.0.0.1:8080:80/udp"),
            ("[::1]:8080:80", "::1:8080:80/tcp"),
            ("8000-8010:80-90", "8000-8010:80-90"),
        ];
        for (text, key) in cases {
            assert_eq!(port_key(text), key, "{text}");
        }
    }

    #[test]
    fn volume_targets() {
        let cases = [
            ("/data", "/data"),
            ("./src:/app:ro", "/app"),
            ("named:/var/lib/db", "/var/lib/db"),
            ("C:\\data:/data", "/data"),
        ];
        for (text, target) in cases {
            assert_eq!(volume_target(text), target, "{text}");
        }
        assert_eq!(clean_target("/data//x/./"), "/data/x");
    }
}
