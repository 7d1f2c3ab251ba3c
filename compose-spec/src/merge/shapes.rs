//! Bringing the short and long syntaxes of a key to one shape before merging, node by node so
//! that every entry keeps its mark.

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Map, Node, Tag, Value};

use super::rules::NameDefault;

/// The text of a scalar (`8080`, `true`, `web`), or `None` for null, sequences and mappings.
pub(crate) fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::BigInt(digits) => Some(digits.clone()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}

/// `build: .` → `build: {context: .}` (with `key` = `context`); other shapes are returned as
/// they are.
pub(super) fn string_to_map(node: Node, key: &str) -> Node {
    match node.value {
        Value::String(_) => {
            let mark = node.mark.clone();
            let mut map = Map::default();
            map.insert(key.to_owned(), Node { tag: None, ..node });
            Node::new(Value::Map(map), mark)
        }
        _ => node,
    }
}

/// `[A=1, B]` → `{A: "1", B: null}`; mappings and other shapes are returned as they are.
pub(super) fn key_values_to_map(node: Node, path: &KeyPath) -> Result<Node> {
    let Value::Seq(items) = node.value else {
        return Ok(node);
    };
    let mut map = Map::default();
    for (i, item) in items.into_iter().enumerate() {
        if item.tag == Some(Tag::Reset) {
            continue;
        }
        let Some(text) = scalar_text(&item) else {
            return Err(expected(&item, path.index(i), "a KEY=value string"));
        };
        let value = match text.split_once('=') {
            Some((key, value)) => (key.to_owned(), Value::String(value.to_owned())),
            None => (text, Value::Null),
        };
        map.insert(value.0, Node::new(value.1, item.mark));
    }
    Ok(Node::new(Value::Map(map), node.mark))
}

/// `[db, cache]` → `{db: <default>, cache: <default>}`; mappings and other shapes are returned
/// as they are.
pub(super) fn names_to_map(node: Node, default: NameDefault, path: &KeyPath) -> Result<Node> {
    let Value::Seq(items) = node.value else {
        return Ok(node);
    };
    let mut map = Map::default();
    for (i, item) in items.into_iter().enumerate() {
        if item.tag == Some(Tag::Reset) {
            continue;
        }
        let Some(name) = scalar_text(&item) else {
            return Err(expected(&item, path.index(i), "a name"));
        };
        let value = match default {
            NameDefault::Null => Node::new(Value::Null, item.mark),
            NameDefault::DependsOn => {
                let mut dependency = Map::default();
                let condition = Value::String("service_started".to_owned());
                dependency.insert(
                    "condition".to_owned(),
                    Node::new(condition, item.mark.clone()),
                );
                dependency.insert(
                    "required".to_owned(),
                    Node::new(Value::Bool(true), item.mark.clone()),
                );
                Node::new(Value::Map(dependency), item.mark)
            }
        };
        map.insert(name, value);
    }
    Ok(Node::new(Value::Map(map), node.mark))
}

/// `dns: 8.8.8.8` → `dns: [8.8.8.8]`; sequences and other shapes are returned as they are.
pub(super) fn to_seq(node: Node, _path: &KeyPath) -> Result<Node> {
    match node.value {
        Value::String(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) | Value::Bool(_) => {
            let mark = node.mark.clone();
            Ok(Node::new(
                Value::Seq(vec![Node { tag: None, ..node }]),
                mark,
            ))
        }
        _ => Ok(node),
    }
}

/// `extra_hosts: {db: 10.0.0.2}` → `[db=10.0.0.2]` (a list of addresses gives one entry each).
pub(super) fn extra_hosts_to_seq(node: Node, path: &KeyPath) -> Result<Node> {
    let Value::Map(map) = node.value else {
        return to_seq(node, path);
    };
    let mut items = Vec::new();
    for (host, value) in map {
        if value.tag == Some(Tag::Reset) {
            continue;
        }
        let addresses = match value.value {
            Value::Seq(addresses) => addresses,
            _ => vec![value],
        };
        for address in addresses {
            let Some(text) = scalar_text(&address) else {
                return Err(expected(&address, path.key(host.as_str()), "an address"));
            };
            items.push(Node::new(
                Value::String(format!("{host}={text}")),
                address.mark,
            ));
        }
    }
    Ok(Node::new(Value::Seq(items), node.mark))
}

/// The diagnostic for an entry of the wrong shape.
fn expected(node: &Node, path: KeyPath, what: &str) -> Error {
    Error::invalid(
        ErrorKind::InvalidValue,
        Some(node.mark.clone()),
        path,
        format!("expected {what}"),
    )
}
