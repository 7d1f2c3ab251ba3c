//! Rebasing the relative paths of a service taken from another file onto that file's directory.
//!
//! Rebased: `build` (`context`, made explicit when missing since it defaults to the file's
//! directory; local `additional_contexts`; `ssh` key paths), `env_file`, `label_file`, bind
//! mount sources of `volumes` (short syntax starting with `.`, long syntax with `type: bind`),
//! `develop.watch[].path` and `extends.file`. `build.dockerfile` is relative to the context and
//! follows it. Absolute paths, `~` paths and remote build contexts are left alone.

use std::path::Path;

use crate::yaml::{Map, Node, Value};

use super::normalize;

/// Rebases the relative paths of `service` onto `dir`.
pub(super) fn rebase_service(service: &mut Node, dir: &Path) {
    let Some(map) = service.as_map_mut() else {
        return;
    };
    if let Some(build) = map.get_mut("build") {
        rebase_build(build, dir);
    }
    for key in ["env_file", "label_file"] {
        match map.get_mut(key).map(|n| &mut n.value) {
            Some(Value::Seq(items)) => {
                for item in items {
                    match item.as_map_mut() {
                        Some(long) => rebase_entry(long, "path", dir),
                        None => rebase(item, dir),
                    }
                }
            }
            Some(_) => rebase(map.get_mut(key).expect("matched just above"), dir),
            None => {}
        }
    }
    if let Some(Value::Seq(volumes)) = map.get_mut("volumes").map(|n| &mut n.value) {
        volumes.iter_mut().for_each(|v| rebase_volume(v, dir));
    }
    if let Some(Value::Seq(watch)) = map
        .get_mut("develop")
        .and_then(Node::as_map_mut)
        .and_then(|d| d.get_mut("watch"))
        .map(|w| &mut w.value)
    {
        for rule in watch.iter_mut().filter_map(Node::as_map_mut) {
            rebase_entry(rule, "path", dir);
        }
    }
    if let Some(extends) = map.get_mut("extends").and_then(Node::as_map_mut) {
        rebase_entry(extends, "file", dir);
    }
}

/// `build: ./app` or `build: {context: …, additional_contexts: …, ssh: …}`.
fn rebase_build(build: &mut Node, dir: &Path) {
    let mark = build.mark.clone();
    let Some(map) = build.as_map_mut() else {
        if build.as_str().is_some_and(is_local_context) {
            rebase(build, dir);
        }
        return;
    };
    match map.get_mut("context") {
        Some(context) if context.as_str().is_some_and(is_local_context) => rebase(context, dir),
        Some(_) => {}
        None => {
            let context = Value::String(dir.display().to_string());
            map.insert("context".to_owned(), Node::new(context, mark));
        }
    }
    match map.get_mut("additional_contexts").map(|n| &mut n.value) {
        Some(Value::Map(contexts)) => contexts
            .values_mut()
            .filter(|c| c.as_str().is_some_and(is_local_context))
            .for_each(|c| rebase(c, dir)),
        Some(Value::Seq(items)) => items
            .iter_mut()
            .for_each(|i| rebase_assignment(i, dir, is_local_context)),
        _ => {}
    }
    match map.get_mut("ssh").map(|n| &mut n.value) {
        Some(Value::Map(keys)) => keys.values_mut().for_each(|k| rebase(k, dir)),
        Some(Value::Seq(items)) => items
            .iter_mut()
            .for_each(|i| rebase_assignment(i, dir, |_| true)),
        _ => {}
    }
}

/// A `name=path` list entry: the path part, when `local` says it is a local path.
fn rebase_assignment(item: &mut Node, dir: &Path, local: fn(&str) -> bool) {
    let Some((name, path)) = item.as_str().and_then(|s| s.split_once('=')) else {
        return;
    };
    if local(path) && is_relative(path) {
        let rebased = format!("{name}={}", join(dir, path));
        item.value = Value::String(rebased);
    }
}

/// A service volume: the source of a bind mount.
fn rebase_volume(volume: &mut Node, dir: &Path) {
    match &mut volume.value {
        Value::String(spec) => {
            let Some((source, rest)) = spec.split_once(':') else {
                return;
            };
            if source.starts_with('.') {
                *spec = format!("{}:{rest}", join(dir, source));
            }
        }
        Value::Map(long) if long.get("type").and_then(Node::as_str) == Some("bind") => {
            rebase_entry(long, "source", dir);
        }
        _ => {}
    }
}

/// The string under `key` of `map`, rebased.
fn rebase_entry(map: &mut Map, key: &str, dir: &Path) {
    if let Some(node) = map.get_mut(key) {
        rebase(node, dir);
    }
}

/// A string node holding a relative path, rebased onto `dir` (its mark kept).
fn rebase(node: &mut Node, dir: &Path) {
    if let Value::String(path) = &mut node.value
        && is_relative(path)
    {
        *path = join(dir, path);
    }
}

/// Whether `path` is relative (not absolute, not `~`, not empty).
fn is_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('~')
        && Path::new(path).is_relative()
        && !is_windows_absolute(path)
}

/// `C:\…` or `C:/…`.
fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() > 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/')
}

/// Whether a build context is a local directory (not a URL, git reference or other service).
fn is_local_context(context: &str) -> bool {
    const REMOTE: [&str; 7] = [
        "https://",
        "http://",
        "git://",
        "ssh://",
        "github.com/",
        "git@",
        "service:",
    ];
    !context.contains("://") && !REMOTE.iter().any(|p| context.starts_with(p))
}

/// `dir` joined with the relative `path`, normalized.
fn join(dir: &Path, path: &str) -> String {
    let joined = normalize(&dir.join(path));
    if joined.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        joined.display().to_string()
    }
}
