//! Combining compose documents by Compose's rules: the override file is merged onto the base.
//!
//! Mappings deep-merge (the override wins for scalars), sequences append, and a few keys follow
//! their own rule ([`rules`]): `command`, `entrypoint` and `healthcheck.test` replace; list-or-dict
//! keys (`environment`, `labels`, `depends_on`, `networks` …) are brought to the mapping form
//! before merging, so one file may use the list form and the other the mapping form; `build: .`
//! and `extends: svc` are read as their long forms. After merging, sequences whose entries are
//! unique by a key (`ports`, `volumes`, `secrets` …) keep one entry per key, the last definition
//! winning at the position of the first ([`enforce_unicity`]).
//!
//! The `!reset` tag on a value of the override removes the inherited value; `!override` replaces
//! it wholesale instead of merging. Every node keeps the mark of the file it came from: a replaced
//! value carries the override's mark, a merged mapping the base's.

mod rules;
mod shapes;
mod tags;
mod unique;

#[cfg(test)]
mod tests;

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Map, Node, Tag, Value};

pub(crate) use tags::apply_tags;
pub(crate) use unique::enforce_unicity;

use rules::Rule;

/// Merges the document `over` (a later file) onto `base` (the files before it).
///
/// Tags left in `base` are resolved first (see [`apply_tags`]); tags in `over` act on `base`.
/// The result has no tags left and its unique-keyed sequences are de-duplicated.
pub(crate) fn merge(base: Node, over: Node) -> Result<Node> {
    let over = Node { tag: None, ..over };
    let merged = merge_node(apply_tags(base), over, &mut Vec::new(), Mode::Resolve)?;
    Ok(enforce_unicity(merged))
}

/// Merges whole documents in order, each onto the result of the ones before it.
///
/// A single document still has its tags resolved and its unique-keyed sequences de-duplicated,
/// as Compose does for one file. Returns `None` when `docs` is empty.
#[cfg(test)]
pub(crate) fn merge_all(docs: impl IntoIterator<Item = Node>) -> Result<Option<Node>> {
    let mut docs = docs.into_iter();
    let Some(first) = docs.next() else {
        return Ok(None);
    };
    let mut merged = enforce_unicity(apply_tags(first));
    for doc in docs {
        merged = merge(merged, doc)?;
    }
    Ok(Some(merged))
}

/// Merges the service definition `over` onto the service `base` it extends, under the rules of
/// `services.<name>`.
///
/// Unlike [`merge`], tags in `over` stay in the result after acting on `base`: they belong to the
/// file that holds `over` and must still act on earlier files when the files are merged.
pub(crate) fn extend_service(base: Node, over: Node, name: &str) -> Result<Node> {
    let mut path = vec!["services".to_owned(), name.to_owned()];
    let merged = merge_node(apply_tags(base), over, &mut path, Mode::KeepTags)?;
    Ok(unique::enforce_unicity_at(merged, &mut path))
}

/// What happens to the tags of the override once they have acted on the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Tags are consumed: the result is a plain tree.
    Resolve,
    /// Tagged values stay in the result, tags included (for `extends`).
    KeepTags,
}

/// Merges `over` onto `base` at `path` (the keys leading to them).
fn merge_node(base: Node, over: Node, path: &mut Vec<String>, mode: Mode) -> Result<Node> {
    match rules::rule_for(path) {
        Rule::Replace => Ok(finish(over, mode)),
        Rule::LongForm(key) => {
            let base = shapes::string_to_map(base, key);
            let over = shapes::string_to_map(over, key);
            merge_generic(base, over, path, mode)
        }
        Rule::KeyValue => {
            let base = shapes::key_values_to_map(base, &key_path(path))?;
            let over = shapes::key_values_to_map(over, &key_path(path))?;
            merge_generic(base, over, path, mode)
        }
        Rule::Names(default) => {
            let base = shapes::names_to_map(base, default, &key_path(path))?;
            let over = shapes::names_to_map(over, default, &key_path(path))?;
            merge_generic(base, over, path, mode)
        }
        Rule::StringOrList => {
            let base = shapes::to_seq(base, &key_path(path))?;
            let over = shapes::to_seq(over, &key_path(path))?;
            merge_generic(base, over, path, mode)
        }
        Rule::ExtraHosts => merge_extra_hosts(base, over, path),
        Rule::Logging => {
            let driver = |n: &Node| n.get("driver").map(Node::to_json);
            match (driver(&base), driver(&over)) {
                (Some(a), Some(b)) if a != b && over.as_map().is_some() => Ok(finish(over, mode)),
                _ => merge_generic(base, over, path, mode),
            }
        }
        Rule::IpamConfig => merge_ipam_config(base, over, path, mode),
        Rule::Deep => merge_generic(base, over, path, mode),
    }
}

/// Compose's default rule: mappings deep-merge, sequences append, scalars are replaced, and a
/// null override keeps the base.
fn merge_generic(base: Node, over: Node, path: &mut Vec<String>, mode: Mode) -> Result<Node> {
    if over.is_null() {
        return Ok(base);
    }
    let Node { value, mark, tag } = base;
    match (value, over.value) {
        (Value::Map(base_map), Value::Map(over_map)) => {
            let merged = merge_maps(base_map, over_map, path, mode)?;
            Ok(Node {
                value: Value::Map(merged),
                mark,
                tag,
            })
        }
        (Value::Seq(mut items), Value::Seq(more)) => {
            items.extend(more.into_iter().filter_map(tags::resolve_item));
            Ok(Node {
                value: Value::Seq(items),
                mark,
                tag,
            })
        }
        (base @ (Value::Map(_) | Value::Seq(_)), other) => Err(Error::invalid(
            ErrorKind::Conflict,
            Some(over.mark),
            key_path(path),
            format!(
                "cannot override a {} with a {}",
                kind_name(&base),
                kind_name(&other)
            ),
        )),
        (_, other) => Ok(finish(
            Node {
                value: other,
                mark: over.mark,
                tag: over.tag,
            },
            mode,
        )),
    }
}

/// Merges the entries of `over` into `base`, keeping the base's key order and appending new keys.
fn merge_maps(mut base: Map, over: Map, path: &mut Vec<String>, mode: Mode) -> Result<Map> {
    for (key, value) in over {
        match value.tag {
            Some(Tag::Reset) => {
                base.shift_remove(&key);
                if mode == Mode::KeepTags {
                    base.insert(key, value);
                }
            }
            Some(Tag::Override) => {
                base.insert(key, finish(value, mode));
            }
            None => match base.get_mut(&key) {
                Some(slot) => {
                    let inherited =
                        std::mem::replace(slot, Node::new(Value::Null, value.mark.clone()));
                    path.push(key);
                    let merged = merge_node(inherited, value, path, mode);
                    path.pop();
                    *slot = merged?;
                }
                None => {
                    base.insert(key, finish(value, mode));
                }
            },
        }
    }
    Ok(base)
}

/// `extra_hosts`: both sides as `host=ip` / `host:ip` sequences, appending the override's
/// entries that the base does not already have (a host may map to several addresses).
fn merge_extra_hosts(base: Node, over: Node, path: &[String]) -> Result<Node> {
    let mut base = shapes::extra_hosts_to_seq(base, &key_path(path))?;
    let over = shapes::extra_hosts_to_seq(over, &key_path(path))?;
    if let (Value::Seq(items), Value::Seq(more)) = (&mut base.value, over.value) {
        for entry in more.into_iter().filter_map(tags::resolve_item) {
            if !items.iter().any(|e| e.value == entry.value) {
                items.push(entry);
            }
        }
    }
    Ok(base)
}

/// `networks.*.ipam.config`: entries with the same `subnet` merge, the others append.
fn merge_ipam_config(base: Node, over: Node, path: &mut Vec<String>, mode: Mode) -> Result<Node> {
    let Node { value, mark, tag } = base;
    let (mut items, more) = match (value, over.value) {
        (Value::Seq(items), Value::Seq(more)) => (items, more),
        (value, over_value) => {
            let base = Node { value, mark, tag };
            let over = Node {
                value: over_value,
                mark: over.mark,
                tag: over.tag,
            };
            return merge_generic(base, over, path, mode);
        }
    };
    let subnet = |n: &Node| n.get("subnet").and_then(shapes::scalar_text);
    for entry in more.into_iter().filter_map(tags::resolve_item) {
        let same =
            subnet(&entry).and_then(|s| items.iter().position(|e| subnet(e) == Some(s.clone())));
        match same {
            Some(i) => {
                let inherited =
                    std::mem::replace(&mut items[i], Node::new(Value::Null, mark.clone()));
                items[i] = merge_generic(inherited, entry, path, mode)?;
            }
            None => items.push(entry),
        }
    }
    Ok(Node {
        value: Value::Seq(items),
        mark,
        tag,
    })
}

/// A value taken from the override as a whole: in [`Mode::Resolve`] its tags are resolved, in
/// [`Mode::KeepTags`] it is kept as it is.
fn finish(node: Node, mode: Mode) -> Node {
    match mode {
        Mode::Resolve => apply_tags(Node { tag: None, ..node }),
        Mode::KeepTags => node,
    }
}

/// The key path of `path`, for diagnostics.
fn key_path(path: &[String]) -> KeyPath {
    path.iter().fold(KeyPath::root(), |p, k| p.key(k.as_str()))
}

/// How a value's type is named in messages.
fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::BigInt(_) | Value::Float(_) => "number",
        Value::String(_) => "string",
        Value::Seq(_) => "sequence",
        Value::Map(_) => "mapping",
    }
}
