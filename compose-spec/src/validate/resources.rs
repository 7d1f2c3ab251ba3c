//! Top-level resources: an external network or volume is managed outside the project, so it
//! takes no local settings; a secret or config needs exactly one source.

use super::Checker;
use crate::error::{ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Node, Value};

/// Checks the top-level `networks`, `volumes`, `secrets` and `configs` of the document.
pub(super) fn check(check: &Checker<'_>) -> Result<()> {
    for (section, what) in [("networks", "network"), ("volumes", "volume")] {
        for (name, node) in entries(check, section) {
            external_only(check, section, what, name, node)?;
        }
    }
    let sources = [
        ("secrets", "secret", &["file", "environment"][..]),
        ("configs", "config", &["file", "environment", "content"][..]),
    ];
    for (section, what, keys) in sources {
        for (name, node) in entries(check, section) {
            external_only(check, section, what, name, node)?;
            one_source(check, section, what, name, node, keys)?;
        }
    }
    Ok(())
}

fn entries<'d>(check: &Checker<'d>, section: &str) -> impl Iterator<Item = (&'d str, &'d Node)> {
    check
        .document
        .get(section)
        .and_then(Node::as_map)
        .into_iter()
        .flatten()
        .map(|(name, node)| (name.as_str(), node))
}

/// With `external: true`, only `name` and `x-` keys may accompany it.
fn external_only(
    check: &Checker<'_>,
    section: &str,
    what: &str,
    name: &str,
    node: &Node,
) -> Result<()> {
    let Some(map) = node.as_map() else {
        return Ok(());
    };
    if !map
        .get("external")
        .is_some_and(|n| matches!(n.value, Value::Bool(true)))
    {
        return Ok(());
    }
    let local = map
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "external") && !k.starts_with("x-"));
    match local {
        Some(key) => Err(check.error(
            ErrorKind::Conflict,
            KeyPath::root().key(section).key(name).key(key.as_str()),
            format!(
                "{what} \"{name}\" is external, so \"{key}\" cannot be set: an external {what} \
                 is created outside the project (only name may be given)"
            ),
        )),
        None => Ok(()),
    }
}

/// Exactly one of `keys` is set, unless the resource is external or comes from a driver.
fn one_source(
    check: &Checker<'_>,
    section: &str,
    what: &str,
    name: &str,
    node: &Node,
    keys: &[&str],
) -> Result<()> {
    let path = KeyPath::root().key(section).key(name);
    let map = node.as_map();
    let has = |key: &str| map.is_some_and(|m| m.contains_key(key));
    let set: Vec<&str> = keys.iter().copied().filter(|k| has(k)).collect();
    let choices = keys.join(", ");
    if let [_, second, ..] = set.as_slice() {
        return Err(check.error(
            ErrorKind::Conflict,
            path.key(*second),
            format!(
                "{what} \"{name}\" sets both {} and {second}: {choices} are mutually exclusive",
                set[0]
            ),
        ));
    }
    if set.is_empty() && !has("external") && !has("driver") {
        return Err(check.error(
            ErrorKind::InvalidValue,
            path,
            format!("{what} \"{name}\" has no source: set one of {choices}, or external: true"),
        ));
    }
    Ok(())
}
