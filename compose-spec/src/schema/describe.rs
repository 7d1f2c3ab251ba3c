//! One-line messages for schema violations: what is wrong, at which key path, and what the
//! specification expected there.
//!
//! `oneOf` / `anyOf` failures are the hard part: the validator only says that no alternative
//! matched. The alternative whose shape fits the value (a mapping for a mapping, a list for a
//! list) is the one the user meant, so its own, deeper finding is reported instead; when no
//! alternative fits, the message lists the forms that would have been accepted.

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value as Json;

use crate::path::{KeyPath, Segment};

/// The key path and a one-line message for a schema violation; `schema` is the schema document
/// the validator was compiled from.
pub(super) fn describe(error: &ValidationError<'_>, schema: &Json) -> (KeyPath, String) {
    let path = key_path(error);
    let message = match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            if let Some(inner) = best_alternative(error, context) {
                return describe(inner, schema);
            }
            no_alternative_fits(error, context)
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            return additional_properties(error, &path, unexpected, schema);
        }
        ValidationErrorKind::Type { kind } => {
            format!(
                "expected {}, got {}",
                type_names(kind),
                got(error.instance())
            )
        }
        ValidationErrorKind::Enum { options } => {
            format!(
                "{} is not allowed: expected one of {}",
                short(error.instance()),
                options_list(options)
            )
        }
        ValidationErrorKind::Required { property } => {
            format!("missing required key {property}")
        }
        ValidationErrorKind::Pattern { pattern } => pattern_message(error.instance(), pattern),
        ValidationErrorKind::UniqueItems => {
            "items must be unique: the list repeats an entry".to_string()
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

/// The key path of the value the error is about.
fn key_path(error: &ValidationError<'_>) -> KeyPath {
    let mut path = KeyPath::root();
    for segment in error.instance_path().segments() {
        path = match segment {
            LocationSegment::Property(p) => path.key(p.as_ref()),
            LocationSegment::Index(i) => path.index(i),
        };
    }
    path
}

/// Of the alternatives of a failed `oneOf`/`anyOf`, the finding of the one whose shape fits the
/// value (its errors are all about the value's contents, not its type), deepest first.
fn best_alternative<'e>(
    error: &ValidationError<'_>,
    context: &'e [Vec<ValidationError<'static>>],
) -> Option<&'e ValidationError<'static>> {
    let here = error.instance_path().as_str();
    let branch = context
        .iter()
        .filter(|branch| !branch.is_empty() && !branch.iter().any(|e| is_shape_mismatch(e, here)))
        .min_by_key(|branch| branch.len())?;
    branch
        .iter()
        .max_by_key(|e| e.instance_path().segments().count())
}

/// Whether `e` rejects the value at `here` for its type (the alternative was meant for another
/// form).
fn is_shape_mismatch(e: &ValidationError<'_>, here: &str) -> bool {
    e.instance_path().as_str() == here
        && matches!(
            e.kind(),
            ValidationErrorKind::Type { .. } | ValidationErrorKind::Constant { .. }
        )
}

/// No alternative accepts the value's type: list the types that would have been accepted.
fn no_alternative_fits(
    error: &ValidationError<'_>,
    context: &[Vec<ValidationError<'static>>],
) -> String {
    let here = error.instance_path().as_str();
    let mut expected: Vec<String> = Vec::new();
    for e in context.iter().flatten() {
        if e.instance_path().as_str() != here {
            continue;
        }
        if let ValidationErrorKind::Type { kind } = e.kind() {
            for name in type_list(kind) {
                if !expected.contains(&name) {
                    expected.push(name);
                }
            }
        }
    }
    if expected.is_empty() {
        return format!(
            "{} does not match any allowed form",
            short(error.instance())
        );
    }
    format!(
        "expected {}, got {}",
        join_or(&expected),
        got(error.instance())
    )
}

/// An unknown key: a misspelt property (with a suggestion), or a name that breaks the naming
/// rule of a section such as `services`.
fn additional_properties(
    error: &ValidationError<'_>,
    path: &KeyPath,
    unexpected: &[String],
    schema: &Json,
) -> (KeyPath, String) {
    let parent = parent_schema(error, schema);
    let [key] = unexpected else {
        return (
            path.clone(),
            format!(
                "unknown keys {}: the compose specification does not allow them here",
                quote_list(unexpected)
            ),
        );
    };
    let at = path.key(key.as_str());
    let name_pattern = parent
        .and_then(|p| p.get("patternProperties"))
        .and_then(Json::as_object)
        .and_then(|patterns| patterns.keys().find(|k| k.as_str() != "^x-").cloned());
    if let Some(pattern) = name_pattern
        && !key.starts_with("x-")
    {
        let what = match path.segments().last() {
            Some(Segment::Key(k)) if k == "services" || k == "depends_on" => "service name",
            Some(Segment::Key(k)) if k == "networks" => "network name",
            Some(Segment::Key(k)) if k == "volumes" => "volume name",
            Some(Segment::Key(k)) if k == "secrets" => "secret name",
            Some(Segment::Key(k)) if k == "configs" => "config name",
            _ => "key",
        };
        let rule = if pattern == "^[a-zA-Z0-9._-]+$" {
            "only letters, digits, '.', '_' and '-' are allowed".to_string()
        } else {
            format!("expected a name matching {pattern}")
        };
        return (at, format!("invalid {what} \"{key}\": {rule}"));
    }
    let known: Vec<&str> = parent
        .and_then(|p| p.get("properties"))
        .and_then(Json::as_object)
        .map(|props| props.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let message = match suggestion(key, &known) {
        Some(close) => format!("unknown key \"{key}\": did you mean \"{close}\"?"),
        None => format!(
            "unknown key \"{key}\": the compose specification does not allow it here \
             (extension keys must start with x-)"
        ),
    };
    (at, message)
}

/// The schema object holding the keyword that failed (`additionalProperties`' object).
fn parent_schema<'s>(error: &ValidationError<'_>, schema: &'s Json) -> Option<&'s Json> {
    let segments: Vec<String> = error
        .schema_path()
        .segments()
        .map(|s| match s {
            LocationSegment::Property(p) => p.to_string(),
            LocationSegment::Index(i) => i.to_string(),
        })
        .collect();
    let (_, parents) = segments.split_last()?;
    let mut node = schema;
    for segment in parents {
        node = follow_ref(node, schema);
        node = match node {
            Json::Object(map) => map.get(segment.as_str())?,
            Json::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(follow_ref(node, schema))
}

/// `node`, or the definition its local `$ref` points at.
fn follow_ref<'s>(node: &'s Json, schema: &'s Json) -> &'s Json {
    let target = node
        .get("$ref")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| schema.pointer(pointer));
    match target {
        Some(target) if node.get("properties").is_none() => target,
        _ => node,
    }
}

/// The known key closest to a misspelt one, if one is close enough to be what was meant.
fn suggestion<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// A pattern failure in words, for the patterns of the compose schema.
fn pattern_message(value: &Json, pattern: &str) -> String {
    let expected = if pattern.starts_with("always|never") {
        "expected always, never, missing, build, if_not_present, refresh, daily, weekly \
         or every_<duration> such as every_12h"
            .to_string()
    } else if pattern == "[a-zA-Z0-9][a-zA-Z0-9_.-]+" {
        "expected at least two characters: a letter or digit, then letters, digits, '_', '.' \
         or '-'"
            .to_string()
    } else {
        format!("expected a value matching the pattern {pattern}")
    };
    format!("{} is not allowed: {expected}", short(value))
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn options_list(options: &Json) -> String {
    match options {
        Json::Array(items) => {
            let names: Vec<String> = items.iter().map(Json::to_string).collect();
            join_or(&names)
        }
        other => other.to_string(),
    }
}

fn type_list(kind: &TypeKind) -> Vec<String> {
    match kind {
        TypeKind::Single(t) => vec![article(&t.to_string())],
        TypeKind::Multiple(set) => set.iter().map(|t| article(&t.to_string())).collect(),
    }
}

fn type_names(kind: &TypeKind) -> String {
    join_or(&type_list(kind))
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

/// What the value is, for `got …`: scalars are shown as written.
fn got(value: &Json) -> String {
    match value {
        Json::Null => "null".to_string(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string \"{s}\""),
        Json::Array(_) => "a list".to_string(),
        Json::Object(_) => "a mapping".to_string(),
    }
}

/// The value for a message: scalars as written, containers by their kind.
fn short(value: &Json) -> String {
    match value {
        Json::Array(_) => "the list".to_string(),
        Json::Object(_) => "the mapping".to_string(),
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
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        for (a, b, d) in [
            ("port", "ports", 1),
            ("imag", "image", 1),
            ("memroy", "memory", 2),
            ("", "abc", 3),
            ("same", "same", 0),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} / {b}");
        }
    }

    #[test]
    fn suggests_only_close_keys() {
        let known = ["ports", "image", "restart"];
        assert_eq!(suggestion("port", &known), Some("ports"));
        assert_eq!(suggestion("restrat", &known), Some("restart"));
        assert_eq!(suggestion("volumes", &known), None);
    }

    #[test]
    fn lists_read_as_prose() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_or(&items(&["a"])), "a");
        assert_eq!(join_or(&items(&["a", "b", "c"])), "a, b or c");
    }
}
