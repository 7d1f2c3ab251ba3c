//! Resolving the `!reset` and `!override` tags of a document that is not merged onto another.

use crate::yaml::{Node, Tag, Value};

/// Resolves the merge tags left in one document: a `!reset` value is removed (from its mapping
/// or sequence), an `!override` value is kept without its tag. A `!reset` document root becomes
/// null.
pub fn apply_tags(node: Node) -> Node {
    if node.tag == Some(Tag::Reset) {
        return Node::new(Value::Null, node.mark);
    }
    let Node { value, mark, .. } = node;
    let value = match value {
        Value::Map(map) => Value::Map(
            map.into_iter()
                .filter(|(_, v)| v.tag != Some(Tag::Reset))
                .map(|(k, v)| (k, apply_tags(v)))
                .collect(),
        ),
        Value::Seq(items) => Value::Seq(items.into_iter().filter_map(resolve_item).collect()),
        scalar => scalar,
    };
    Node::new(value, mark)
}

/// A sequence entry with its tags resolved, or `None` when it is tagged `!reset`.
pub(super) fn resolve_item(node: Node) -> Option<Node> {
    (node.tag != Some(Tag::Reset)).then(|| apply_tags(node))
}
