//! Relative paths in a compose document, made absolute against the directory they are relative to.
//!
//! A main compose file's paths are relative to the project directory; an included file's to its
//! own project directory; an extended service's to the file that defines it. Doing this once, on
//! the marked tree, before files are combined, keeps every later stage free of path rules.

use std::path::{Component, Path, PathBuf};

use crate::env::Environment;
use crate::yaml::{Node, Value};

/// Makes every relative path of a whole document absolute against `base`.
pub(crate) fn absolutize_document(doc: &mut Node, base: &Path, env: &Environment) {
    let Some(map) = doc.as_map_mut() else { return };
    if let Some(services) = map.get_mut("services").and_then(Node::as_map_mut) {
        for service in services.values_mut() {
            absolutize_service(service, base, env);
        }
    }
    if let Some(volumes) = map.get_mut("volumes").and_then(Node::as_map_mut) {
        for volume in volumes.values_mut() {
            resolve_bind_device(volume, base, env);
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
pub(crate) fn absolutize_service(service: &mut Node, base: &Path, env: &Environment) {
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
                if let Some(contexts) = m.get_mut("additional_contexts") {
                    resolve_additional_contexts(contexts, base, env);
                }
                if let Some(ssh) = m.get_mut("ssh") {
                    resolve_ssh_keys(ssh, base, env);
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Seq(watch)) = map
        .get_mut("develop")
        .and_then(Node::as_map_mut)
        .and_then(|d| d.get_mut("watch"))
        .map(|w| &mut w.value)
    {
        for rule in watch {
            if let Some(path) = rule.as_map_mut().and_then(|r| r.get_mut("path")) {
                resolve_string(path, base, env);
            }
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

/// `build.additional_contexts`, as a mapping or a `NAME=VALUE` list: local paths are resolved,
/// images (`docker-image://`), other services (`service:NAME`) and remote contexts stay.
fn resolve_additional_contexts(node: &mut Node, base: &Path, env: &Environment) {
    match &mut node.value {
        Value::Map(m) => {
            for value in m.values_mut() {
                if value.as_str().is_some_and(|v| !v.starts_with("service:")) {
                    resolve_context(value, base, env);
                }
            }
        }
        Value::Seq(items) => {
            for item in items {
                if let Value::String(entry) = &mut item.value
                    && let Some((name, value)) = entry.split_once('=')
                    && !value.starts_with("service:")
                    && !is_remote_context(value)
                {
                    *entry = format!("{name}={}", resolve(value, base, env).display());
                }
            }
        }
        _ => {}
    }
}

/// `build.ssh` key paths, as a mapping or a `ID=PATH` list (`default` alone names the agent).
fn resolve_ssh_keys(node: &mut Node, base: &Path, env: &Environment) {
    match &mut node.value {
        Value::Map(m) => m
            .values_mut()
            .for_each(|key| resolve_string(key, base, env)),
        Value::Seq(items) => {
            for item in items {
                if let Value::String(entry) = &mut item.value
                    && let Some((id, path)) = entry.split_once('=')
                {
                    *entry = format!("{id}={}", resolve(path, base, env).display());
                }
            }
        }
        _ => {}
    }
}

/// A top-level volume of the `local` driver with `o: bind` mounts `device`, a host path.
fn resolve_bind_device(volume: &mut Node, base: &Path, env: &Environment) {
    let Some(map) = volume.as_map_mut() else {
        return;
    };
    if map.get("driver").and_then(Node::as_str) != Some("local") {
        return;
    }
    let Some(opts) = map.get_mut("driver_opts").and_then(Node::as_map_mut) else {
        return;
    };
    if opts.get("o").and_then(Node::as_str) != Some("bind") {
        return;
    }
    if let Some(device) = opts.get_mut("device") {
        resolve_string(device, base, env);
    }
}

/// Gives every `build` mapping of a merged project without a `context` the project directory,
/// the default context.
pub(crate) fn default_build_contexts(doc: &mut Node, project_directory: &Path) {
    let Some(services) = doc.get_mut("services").and_then(Node::as_map_mut) else {
        return;
    };
    for service in services.values_mut() {
        default_build_context(service, project_directory);
    }
}

/// Gives the `build` mapping of one service, if it has no `context`, the directory `dir`.
pub(crate) fn default_build_context(service: &mut Node, dir: &Path) {
    let Some(build) = service.get_mut("build") else {
        return;
    };
    let mark = build.mark.clone();
    if let Some(build) = build.as_map_mut()
        && !build.contains_key("context")
    {
        let dir = dir.display().to_string();
        build.insert("context".to_string(), Node::new(Value::String(dir), mark));
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
/// `.` and `..` components. A Windows absolute path (`C:\data`, `\\server\share`) is kept as
/// written: the engine may run on Windows.
pub(crate) fn resolve(path: &str, base: &Path, env: &Environment) -> PathBuf {
    if is_windows_absolute(path) {
        return PathBuf::from(path);
    }
    let expanded = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match env.get("HOME") {
            Some(home) => PathBuf::from(format!("{home}{rest}")),
            // Without a home directory `~` cannot be resolved; it is left for the engine.
            None => return PathBuf::from(path),
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

/// Whether `path` is absolute for Windows: a drive letter then a separator, or a UNC path.
fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    drive || path.starts_with("\\\\")
}

/// Removes `.` and resolves `..` lexically (no file system access).
pub(crate) fn clean(path: &Path) -> PathBuf {
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
    fn resolves_additional_contexts_watch_paths_and_bind_devices() {
        let mut d = doc(serde_json::json!({
            "services": {
                "m": {
                    "build": {"context": ".", "additional_contexts": {
                        "local": "../base", "img": "docker-image://alpine", "svc": "service:b",
                        "git": "https://github.com/x/y.git"
                    }},
                    "develop": {"watch": [{"path": "./src", "action": "sync", "target": "/s"}]}
                },
                "l": {"build": {"additional_contexts": ["a=./a", "b=service:b"]}}
            },
            "volumes": {
                "bound": {"driver": "local", "driver_opts": {"o": "bind", "device": "./d"}},
                "nfs": {"driver": "local", "driver_opts": {"o": "addr=1", "device": "./d"}}
            }
        }));
        absolutize_document(&mut d, Path::new("/p/q"), &env());
        let at = |path: &str| {
            d.at(&crate::KeyPath::parse(path))
                .and_then(Node::as_str)
                .map(str::to_string)
        };
        let m = "services.m.build.additional_contexts";
        assert_eq!(at(&format!("{m}.local")).as_deref(), Some("/p/base"));
        assert_eq!(
            at(&format!("{m}.img")).as_deref(),
            Some("docker-image://alpine")
        );
        assert_eq!(at(&format!("{m}.svc")).as_deref(), Some("service:b"));
        assert_eq!(
            at(&format!("{m}.git")).as_deref(),
            Some("https://github.com/x/y.git")
        );
        assert_eq!(
            at("services.m.develop.watch[0].path").as_deref(),
            Some("/p/q/src")
        );
        assert_eq!(
            at("services.l.build.additional_contexts[0]").as_deref(),
            Some("a=/p/q/a")
        );
        assert_eq!(
            at("services.l.build.additional_contexts[1]").as_deref(),
            Some("b=service:b")
        );
        assert_eq!(
            at("volumes.bound.driver_opts.device").as_deref(),
            Some("/p/q/d")
        );
        assert_eq!(at("volumes.nfs.driver_opts.device").as_deref(), Some("./d"));
    }

    #[test]
    fn a_build_without_context_gets_the_project_directory() {
        let mut d = doc(serde_json::json!({"services": {
            "a": {"build": {"dockerfile_inline": "FROM x"}},
            "b": {"build": {"context": "/elsewhere"}},
            "c": {"image": "c"}
        }}));
        default_build_contexts(&mut d, Path::new("/p"));
        let at = |path: &str| d.at(&crate::KeyPath::parse(path)).and_then(Node::as_str);
        assert_eq!(at("services.a.build.context"), Some("/p"));
        assert_eq!(at("services.b.build.context"), Some("/elsewhere"));
        assert!(d.at(&crate::KeyPath::parse("services.c.build")).is_none());
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
    fn windows_absolute_paths_stay() {
        for path in ["C:\\docker\\project", "d:/data", "\\\\server\\share"] {
            assert_eq!(resolve(path, Path::new("/p"), &env()), PathBuf::from(path));
        }
        assert_eq!(
            resolve("C:relative", Path::new("/p"), &env()),
            PathBuf::from("/p/C:relative")
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
