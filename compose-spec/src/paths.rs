//! Relative paths in a compose document, made absolute against the directory they are relative to.
//!
//! A main compose file's paths are relative to the project directory; an included file's to its
//! own project directory; an extended service's to the file that defines it. Doing this once, on
//! the marked tree, before files are combined, keeps every later stage free of path rules.

use std::path::{Component, Path, PathBuf};

use crate::env::Environment;
use crate::yaml::{Node, Value};

/// Makes every relative path of a whole document absolute against `base`.
pub fn absolutize_document(doc: &mut Node, base: &Path, env: &Environment) {
    let Some(map) = doc.as_map_mut() else { return };
    if let Some(services) = map.get_mut("services").and_then(Node::as_map_mut) {
        for service in services.values_mut() {
            absolutize_service(service, base, env);
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(items) = map.get_mut(section).and_then(Node::as_map_mut) {
            for item in items.values_mut() {
                if let Some(file) = item.as_map_mut().and_then(|m| m.get_mut("file")) {
                    resolve_string(file, base, env);
                }
            }
        }
    }
}

/// Makes every relative path of one service definition absolute against `base`.
pub fn absolutize_service(service: &mut Node, base: &Path, env: &Environment) {
    let Some(map) = service.as_map_mut() else {
        return;
    };
    if let Some(build) = map.get_mut("build") {
        match &mut build.value {
            Value::String(_) => resolve_context(build, base, env),
            Value::Map(m) => {
                if let Some(context) = m.get_mut("context") {
                    resolve_context(context, base, env);
                }
            }
            _ => {}
        }
    }
    if let Some(env_file) = map.get_mut("env_file") {
        match &mut env_file.value {
            Value::String(_) => resolve_string(env_file, base, env),
            Value::Seq(items) => {
                for item in items {
                    match &mut item.value {
                        Value::String(_) => resolve_string(item, base, env),
                        Value::Map(m) => {
                            if let Some(path) = m.get_mut("path") {
                                resolve_string(path, base, env);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(label_file) = map.get_mut("label_file") {
        match &mut label_file.value {
            Value::String(_) => resolve_string(label_file, base, env),
            Value::Seq(items) => items.iter_mut().for_each(|i| resolve_string(i, base, env)),
            _ => {}
        }
    }
    if let Some(Value::Seq(volumes)) = map.get_mut("volumes").map(|v| &mut v.value) {
        for volume in volumes {
            resolve_volume(volume, base, env);
        }
    }
    if let Some(extends) = map.get_mut("extends").and_then(Node::as_map_mut)
        && let Some(file) = extends.get_mut("file")
    {
        resolve_string(file, base, env);
    }
}

fn resolve_volume(volume: &mut Node, base: &Path, env: &Environment) {
    match &mut volume.value {
        Value::String(spec) => {
            if let Some((source, rest)) = spec.split_once(':')
                && is_local_path(source)
            {
                let resolved = resolve(source, base, env);
                *spec = format!("{}:{rest}", resolved.display());
            }
        }
        Value::Map(m) => {
            let is_bind = m.get("type").and_then(Node::as_str) == Some("bind");
            if is_bind && let Some(source) = m.get_mut("source") {
                resolve_string(source, base, env);
            }
        }
        _ => {}
    }
}

/// A build context may be a URL or a git reference, which stay as they are.
fn resolve_context(node: &mut Node, base: &Path, env: &Environment) {
    if let Value::String(s) = &node.value
        && is_remote_context(s)
    {
        return;
    }
    resolve_string(node, base, env);
}

fn is_remote_context(context: &str) -> bool {
    [
        "http://",
        "https://",
        "git://",
        "git@",
        "github.com/",
        "ssh://",
    ]
    .iter()
    .any(|p| context.starts_with(p))
        || context.contains("://")
}

fn resolve_string(node: &mut Node, base: &Path, env: &Environment) {
    if let Value::String(s) = &mut node.value {
        *s = resolve(s, base, env).display().to_string();
    }
}

/// Whether a short volume source is a host path rather than a volume name.
fn is_local_path(source: &str) -> bool {
    source.starts_with('.') || source.starts_with('/') || source.starts_with('~')
}

/// `path` made absolute against `base` (`~` is the HOME of the given environment), cleaned of
/// `.` and `..` components.
pub fn resolve(path: &str, base: &Path, env: &Environment) -> PathBuf {
    let expanded = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match env.get("HOME") {
            Some(home) => PathBuf::from(format!("{home}{rest}")),
            None => PathBuf::from(path),
        },
        _ => PathBuf::from(path),
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    clean(&joined)
}

/// Removes `.` and resolves `..` lexically (no file system access).
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::yaml::Mark;

    fn doc(json: serde_json::Value) -> Node {
        Node::from_json(&json, &Mark::new(Arc::from(Path::new("c.yaml")), 1, 1))
    }

    fn env() -> Environment {
        [("HOME", "/home/u")].into_iter().collect()
    }

    #[test]
    fn resolves_every_kind_of_path() {
        let mut d = doc(serde_json::json!({
            "services": {"web": {
                "build": "./app",
                "env_file": ["a.env", {"path": "../b.env", "required": false}],
                "volumes": ["./data:/data:ro", "named:/n", "~/x:/x",
                            {"type": "bind", "source": "src", "target": "/s"},
                            {"type": "volume", "source": "vol", "target": "/v"}],
                "extends": {"file": "base.yaml", "service": "b"}
            }},
            "secrets": {"s": {"file": "./secret.txt"}},
            "configs": {"c": {"file": "/abs/c.txt"}}
        }));
        absolutize_document(&mut d, Path::new("/proj"), &env());
        let expected = serde_json::json!({
            "services": {"web": {
                "build": "/proj/app",
                "env_file": ["/proj/a.env", {"path": "/b.env", "required": false}],
                "volumes": ["/proj/data:/data:ro", "named:/n", "/home/u/x:/x",
                            {"type": "bind", "source": "/proj/src", "target": "/s"},
                            {"type": "volume", "source": "vol", "target": "/v"}],
                "extends": {"file": "/proj/base.yaml", "service": "b"}
            }},
            "secrets": {"s": {"file": "/proj/secret.txt"}},
            "configs": {"c": {"file": "/abs/c.txt"}}
        });
        assert_eq!(d.to_json(), expected);
    }

    #[test]
    fn remote_build_contexts_stay() {
        let mut d = doc(serde_json::json!({"services": {"w": {
            "build": {"context": "https://github.com/x/y.git#main"}
        }}}));
        absolutize_document(&mut d, Path::new("/p"), &env());
        assert_eq!(
            d.at(&crate::KeyPath::parse("services.w.build.context"))
                .unwrap()
                .as_str(),
            Some("https://github.com/x/y.git#main")
        );
    }

    #[test]
    fn cleans_dot_segments() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(
            resolve("../x", Path::new("/a/b"), &env()),
            PathBuf::from("/a/x")
        );
    }
}
