//! Resolving the `!reset` and `!override` tags of a document that is not merged onto another.

use crate::yaml::{Node, Tag, Value};

/// Resolves the merge tags left in one document: a `!reset` value is removed (from its mapping
/// or sequence), an `!override` value is kept without its tag. A `!reset` document root becomes
/// null.
pub(crate) fn apply_tags(mut node: Node) -> Node {
    if node.tag == Some(Tag::Reset) {
        return Node::new(Value::Null, node.mark);
    }
    apply_tags_in(&mut node);
    node
}

/// [`apply_tags`] in place on a node that is not itself `!reset`.
fn apply_tags_in(node: &mut Node) {
    node.tag = None;
    match &mut node.value {
        Value::Map(map) => {
            map.retain(|_, v| v.tag != Some(Tag::Reset));
            map.values_mut().for_each(apply_tags_in);
        }
        Value::Seq(items) => {
            items.retain(|v| v.tag != Some(Tag::Reset));
            items.iter_mut().for_each(apply_tags_in);
        }
        _ => {}
    }
}

/// A sequence entry with its tags resolved, or `None` when it is tagged `!reset`.
pub(super) fn resolve_item(node: Node) -> Option<Node> {
    (node.tag != Some(Tag::Reset)).then(|| apply_tags(node))
}
