//! Validation of one compose document against the official compose JSON schema.
//!
//! The schema (`schema/compose-spec.json`, the compose-spec project's own file) is compiled once
//! and applied with the `jsonschema` crate; this module only turns the crate's findings into
//! one-line diagnostics that point at the user's file, line and key path.

use std::sync::OnceLock;

use jsonschema::Validator;

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Node, Tag, Value};

mod describe;

/// The compose specification's JSON schema, as published by the compose-spec project.
pub(crate) const SCHEMA_JSON: &str = include_str!("../schema/compose-spec.json");

/// The compiled validator and the schema document it was compiled from (messages look keys up
/// in it).
fn validator() -> std::result::Result<&'static (Validator, serde_json::Value), String> {
    static VALIDATOR: OnceLock<std::result::Result<(Validator, serde_json::Value), String>> =
        OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: serde_json::Value =
                serde_json::from_str(SCHEMA_JSON).map_err(|e| e.to_string())?;
            let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
            Ok((validator, schema))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Validates one parsed and interpolated compose document.
///
/// Of several violations the one that appears first in the file is reported, so the user fixes
/// the document top to bottom.
pub(crate) fn validate(doc: &Node) -> Result<()> {
    let (validator, schema) = validator().map_err(|e| {
        Error::invalid(
            ErrorKind::Schema,
            None,
            KeyPath::root(),
            format!("compose schema: {e}"),
        )
    })?;
    // `!reset` values are removed by the merge, whatever they hold: `image: !reset null` is fine.
    let json = without_resets(doc);
    let mut first: Option<(usize, usize, Error)> = None;
    for error in validator.iter_errors(&json) {
        let (path, message) = describe::describe(&error, schema);
        let mark = doc.closest_mark(&path).clone();
        let pos = (mark.line, mark.column);
        if first.as_ref().is_none_or(|(l, c, _)| pos < (*l, *c)) {
            let err = Error::invalid(ErrorKind::Schema, Some(mark), path, message);
            first = Some((pos.0, pos.1, err));
        }
    }
    match first {
        Some((_, _, err)) => Err(err),
        None => Ok(()),
    }
}

/// The document as JSON, without the values tagged `!reset`.
fn without_resets(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Seq(items) => J::Array(
            items
                .iter()
                .filter(|n| n.tag != Some(Tag::Reset))
                .map(without_resets)
                .collect(),
        ),
        Value::Map(map) => J::Object(
            map.iter()
                .filter(|(_, n)| n.tag != Some(Tag::Reset))
                .map(|(k, n)| (k.clone(), without_resets(n)))
                .collect(),
        ),
        _ => node.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::yaml::Mark;

    fn node(json: serde_json::Value) -> Node {
        Node::from_json(
            &json,
            &Mark::new(Arc::from(Path::new("compose.yaml")), 1, 1),
        )
    }

    fn message(json: serde_json::Value) -> String {
        validate(&node(json)).expect_err("invalid").to_string()
    }

    #[test]
    fn accepts_a_valid_document() {
        let doc = node(serde_json::json!({
            "services": {"web": {"image": "nginx", "ports": ["80:80"], "x-extra": 1}},
            "x-top": {"anything": true}
        }));
        validate(&doc).expect("valid");
    }

    #[test]
    fn unknown_key_names_the_key() {
        let msg = message(serde_json::json!({"services": {"web": {"imag": "nginx"}}}));
        assert!(msg.contains("services.web.imag: unknown key"), "{msg}");
    }

    #[test]
    fn wrong_type_says_what_was_expected() {
        let msg = message(serde_json::json!({"services": {"web": {"image": ["nginx"]}}}));
        assert!(
            msg.contains("services.web.image: expected a string, got a list"),
            "{msg}"
        );
    }

    #[test]
    fn enum_lists_the_options() {
        let msg = message(serde_json::json!({
            "services": {"web": {"image": "x", "pull_policy": "sometimes"}}
        }));
        assert!(msg.contains("services.web.pull_policy"), "{msg}");
        assert!(msg.contains("\"sometimes\""), "{msg}");
    }

    #[test]
    fn points_at_the_file_and_line() {
        let msg = message(serde_json::json!({"services": {"web": {"build": 3}}}));
        assert!(
            msg.starts_with("compose.yaml:1:1: services.web.build"),
            "{msg}"
        );
    }
}
