//! The YAML tree the loader works on: every node keeps the file, line and column it came from, and
//! the compose merge tags (`!reset`, `!override`), so that errors found after interpolation,
//! merging and schema validation still point at the user's text.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::path::{KeyPath, Segment};

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mark {
    /// The file the node was read from.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Mark {
    /// A mark in `file` at `line`:`column` (both 1-based).
    pub fn new(file: Arc<Path>, line: usize, column: usize) -> Self {
        Self { file, line, column }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// The compose merge tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tag {
    /// `!reset`: remove the value inherited from earlier files (or set it to its empty value).
    Reset,
    /// `!override`: replace the inherited value instead of merging with it.
    Override,
}

/// A mapping: keys in document order. Keys are hashed with the Fx hash: compose files are the
/// user's own input, and hashing is a large part of loading a big project.
pub(crate) type Map = IndexMap<String, Node, rustc_hash::FxBuildHasher>;

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer outside the range of `i64`, as its decimal digits with a `-` sign when
    /// negative: kept as text so that it is never rounded through a float.
    BigInt(String),
    /// A floating point number.
    Float(f64),
    /// A string (quoted, or a plain scalar that is no other type).
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping.
    Map(Map),
}

/// A value with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub mark: Mark,
    /// A compose merge tag, if the value carried one.
    pub tag: Option<Tag>,
}

impl Node {
    /// A node without tag.
    pub(crate) fn new(value: Value, mark: Mark) -> Self {
        Self {
            value,
            mark,
            tag: None,
        }
    }

    /// The string, if this is a string scalar.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping, if this is one.
    pub(crate) fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, mutably, if this is one.
    pub(crate) fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    pub(crate) fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The value under `key`, mutably, if this is a mapping that has it.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }

    /// Whether the value is null.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The node at `path`, if it exists.
    pub(crate) fn at(&self, path: &KeyPath) -> Option<&Node> {
        let mut node = self;
        for segment in path.segments() {
            node = match (segment, &node.value) {
                (Segment::Key(k), Value::Map(m)) => m.get(k)?,
                (Segment::Index(i), Value::Seq(s)) => s.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The mark of the deepest existing node along `path`: where to point a diagnostic about a
    /// value that may be missing.
    pub(crate) fn closest_mark(&self, path: &KeyPath) -> &Mark {
        let mut node = self;
        for segment in path.segments() {
            let next = match (segment, &node.value) {
                (Segment::Key(k), Value::Map(m)) => m.get(k),
                (Segment::Index(i), Value::Seq(s)) => s.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        &node.mark
    }

    /// The value as JSON (tags and marks dropped; floats that JSON cannot hold become null; an
    /// integer beyond `u64` becomes a string of its digits, exact where a JSON number could not be).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::BigInt(digits) => digits
                .parse::<u64>()
                .map_or_else(|_| J::String(digits.clone()), J::from),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// A tree from JSON, every node marked with `mark` (for values made by the loader itself).
    #[cfg(test)]
    pub(crate) fn from_json(value: &serde_json::Value, mark: &Mark) -> Self {
        use serde_json::Value as J;
        let value = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Int(i),
                (None, Some(u)) => Value::BigInt(u.to_string()),
                (None, None) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(a) => Value::Seq(a.iter().map(|v| Node::from_json(v, mark)).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v, mark)))
                    .collect(),
            ),
        };
        Node::new(value, mark.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> Mark {
        Mark::new(Arc::from(Path::new("compose.yaml")), 3, 5)
    }

    #[test]
    fn json_round_trip_and_lookup() {
        let json = serde_json::json!({"services": {"web": {"ports": ["80:80"], "scale": 2}}});
        let node = Node::from_json(&json, &mark());
        assert_eq!(node.to_json(), json);
        let port = node.at(&KeyPath::parse("services.web.ports[0]")).unwrap();
        assert_eq!(port.as_str(), Some("80:80"));
        assert!(node.at(&KeyPath::parse("services.db")).is_none());
        assert_eq!(
            node.closest_mark(&KeyPath::parse("services.db.image")),
            &mark()
        );
        assert_eq!(mark().to_string(), "compose.yaml:3:5");
    }
}
