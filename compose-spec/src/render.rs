//! The canonical project as text: YAML (what `config` prints by default) or JSON.

use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{self, Project};
use crate::path::KeyPath;

/// How a `$` in a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dollars {
    /// As `$$`: the project was interpolated, so its values are final, and loading the output
    /// again (which interpolates) must give the same values.
    Escaped,
    /// As is: the project was loaded without interpolation and its `${VAR}` references stay
    /// references.
    Verbatim,
}

/// The project as YAML, one canonical form: loading this output again gives the same output.
pub fn to_yaml(project: &Project, dollars: Dollars) -> Result<String> {
    json_to_yaml_text(&canonical(project, dollars))
}

/// The project as pretty-printed JSON, followed by a newline.
pub fn to_json(project: &Project, dollars: Dollars) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&canonical(project, dollars)).map_err(|e| {
        Error::invalid(
            ErrorKind::InvalidValue,
            None,
            KeyPath::root(),
            e.to_string(),
        )
    })?;
    text.push('\n');
    Ok(text)
}

fn canonical(project: &Project, dollars: Dollars) -> serde_json::Value {
    let mut value = model::to_json(project);
    if dollars == Dollars::Escaped {
        escape_dollars(&mut value);
    }
    value
}

/// `$` → `$$` in every string value (keys are never interpolated, so they stay as they are).
fn escape_dollars(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        serde_json::Value::Array(items) => items.iter_mut().for_each(escape_dollars),
        serde_json::Value::Object(map) => map.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

/// The image of each service in name order: its `image`, or `<project>-<service>` for a service
/// that is only built (the name Compose gives built images).
pub fn images(project: &Project) -> Vec<String> {
    project
        .services
        .iter()
        .map(|(name, s)| {
            s.image
                .clone()
                .unwrap_or_else(|| format!("{}-{name}", project.name))
        })
        .collect()
}

/// Config hashes for `selection`: `*` for every service, or a comma-separated list of names.
pub fn hashes(project: &Project, selection: &str) -> Result<Vec<(String, String)>> {
    if selection.trim() == "*" {
        return Ok(crate::hash::all_hashes(project));
    }
    selection
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            crate::hash::service_hash(project, name)
                .map(|h| (name.to_string(), h))
                .ok_or_else(|| {
                    Error::invalid(
                        ErrorKind::UndefinedReference,
                        None,
                        KeyPath::root(),
                        format!("no such service: {name}"),
                    )
                })
        })
        .collect()
}

/// A merged document ([`crate::loader::load_document`]) as block-style YAML text.
pub fn document_to_yaml(document: &serde_json::Value) -> Result<String> {
    json_to_yaml_text(document)
}

testing_pub! {
    /// Any JSON value as block-style YAML text.
    fn json_to_yaml_text(value: &serde_json::Value) -> Result<String> {
        let mut out = String::new();
        let mut emitter = YamlEmitter::new(&mut out);
        emitter.multiline_strings(true);
        emitter.dump(&json_to_yaml(value)).map_err(|e| {
            Error::invalid(
                ErrorKind::InvalidValue,
                None,
                KeyPath::root(),
                format!("{e:?}"),
            )
        })?;
        let body = out.strip_prefix("---\n").unwrap_or(&out).to_string();
        Ok(if body.ends_with('\n') {
            body
        } else {
            body + "\n"
        })
    }
}

fn json_to_yaml(value: &serde_json::Value) -> Yaml {
    use serde_json::Value as J;
    match value {
        J::Null => Yaml::Null,
        J::Bool(b) => Yaml::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        J::String(s) => Yaml::String(s.clone()),
        J::Array(items) => Yaml::Array(items.iter().map(json_to_yaml).collect()),
        J::Object(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k.clone()), json_to_yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_text_is_block_style_and_quotes_ambiguous_strings() {
        let value = serde_json::json!({
            "a": {"b": [1, "2", true, "true", null, "x: y"]},
            "multi": "line one\nline two\n",
        });
        let text = json_to_yaml_text(&value).unwrap();
        assert!(text.starts_with("a:\n  b:\n"), "{text}");
        assert!(text.contains("- \"2\""), "{text}");
        assert!(text.contains("- \"true\""), "{text}");
        assert!(text.contains("- \"x: y\""), "{text}");
        let back = crate::yaml::parse(&text, std::sync::Arc::from(std::path::Path::new("o")));
        if let Ok(docs) = back {
            assert_eq!(docs[0].to_json(), value);
        }
    }
}
