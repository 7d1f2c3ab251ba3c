//! Validation of one compose document against the official compose JSON schema.
//!
//! The schema (`schema/compose-spec.json`, the compose-spec project's own file) is compiled once
//! and applied with the `jsonschema` crate; this module only turns the crate's findings into
//! one-line diagnostics that point at the user's file, line and key path.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::Node;

/// The compose specification's JSON schema, as published by the compose-spec project.
pub const SCHEMA_JSON: &str = include_str!("../schema/compose-spec.json");

fn validator() -> std::result::Result<&'static Validator, String> {
    static VALIDATOR: OnceLock<std::result::Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: serde_json::Value =
                serde_json::from_str(SCHEMA_JSON).map_err(|e| e.to_string())?;
            jsonschema::validator_for(&schema).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Validates one parsed and interpolated compose document.
///
/// Of several violations the one that appears first in the file is reported, so the user fixes
/// the document top to bottom.
pub fn validate(doc: &Node) -> Result<()> {
    let validator = validator().map_err(|e| {
        Error::invalid(
            ErrorKind::Schema,
            None,
            KeyPath::root(),
            format!("compose schema: {e}"),
        )
    })?;
    let json = doc.to_json();
    let mut first: Option<(usize, usize, Error)> = None;
    for error in validator.iter_errors(&json) {
        let (path, message) = describe(&error);
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

/// The key path and a one-line message for a schema violation.
fn describe(error: &ValidationError<'_>) -> (KeyPath, String) {
    let mut path = KeyPath::root();
    for segment in error.instance_path().segments() {
        path = match segment {
            LocationSegment::Property(p) => path.key(p.as_ref()),
            LocationSegment::Index(i) => path.index(i),
        };
    }
    let message = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            if let [one] = unexpected.as_slice() {
                path = path.key(one.as_str());
                "unknown key: the compose specification does not allow it here \
                 (extension keys must start with x-)"
                    .to_string()
            } else {
                format!(
                    "unknown keys {}: the compose specification does not allow them here",
                    quote_list(unexpected)
                )
            }
        }
        ValidationErrorKind::Type { kind } => {
            format!(
                "expected {}, got {}",
                type_names(kind),
                json_type(error.instance())
            )
        }
        ValidationErrorKind::Enum { options } => {
            format!(
                "{} is not allowed: expected one of {options}",
                short(error.instance())
            )
        }
        ValidationErrorKind::Required { property } => {
            format!("missing required key {property}")
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!(
                "{} does not match the pattern {pattern}",
                short(error.instance())
            )
        }
        ValidationErrorKind::UniqueItems => "items must be unique".to_string(),
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
            format!(
                "{} does not match any allowed form",
                short(error.instance())
            )
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            format!(
                "{} matches more than one allowed form",
                short(error.instance())
            )
        }
        ValidationErrorKind::Not { .. } => "this combination of keys is not allowed".to_string(),
        _ => lowercase_first(&error.to_string()),
    };
    (path, message)
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => article(&t.to_string()),
        TypeKind::Multiple(set) => {
            let names: Vec<String> = set.iter().map(|t| article(&t.to_string())).collect();
            names.join(" or ")
        }
    }
}

fn article(name: &str) -> String {
    match name {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "integer" => "an integer".to_string(),
        "null" => "null".to_string(),
        other => format!("a {other}"),
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// The value for a message: scalars as written, containers by their kind.
fn short(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(_) => "the list".to_string(),
        serde_json::Value::Object(_) => "the mapping".to_string(),
        other => other.to_string(),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
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
