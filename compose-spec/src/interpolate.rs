//! Variable interpolation: `${VAR}` and friends in every string value of a document.
//!
//! [`interpolate_str`] handles one string (see the `template` module for the exact syntax);
//! [`interpolate_node`] applies it to every string value of a tree, never to mapping keys.
//! Values stay strings after substitution: the typed model accepts `"3"` where it wants a
//! number, as Compose does.

#[cfg(test)]
mod properties;
mod template;
#[cfg(test)]
mod tests;

pub use template::Variable;
pub(crate) use template::interpolate_str;

use std::collections::BTreeMap;

use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result, Warning};
use crate::path::{KeyPath, Segment};
use crate::yaml::{Node, Value};

/// Interpolates every string value under `node` (found at `path`) in place with `env`.
///
/// Each variable that is unset and substituted with `""` adds a [`Warning`] at the value; the
/// first malformed expression or missing required variable is an
/// [`ErrorKind::Interpolation`] error at the value.
pub(crate) fn interpolate_node(
    node: &mut Node,
    env: &Environment,
    path: &KeyPath,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let lookup = |name: &str| env.get(name).map(str::to_owned);
    let mut segments = path.segments().to_vec();
    walk(node, &lookup, &mut segments, warnings)
}

/// The variables the string values of `document` (never its keys) refer to, by name: required
/// when any reference requires it; the first default and alternate word written.
pub fn variables(document: &serde_json::Value) -> BTreeMap<String, Variable> {
    fn walk(value: &serde_json::Value, found: &mut Vec<Variable>) {
        match value {
            serde_json::Value::String(text) => template::references(text, found),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(document, &mut found);
    let mut by_name: BTreeMap<String, Variable> = BTreeMap::new();
    for variable in found {
        let entry = by_name
            .entry(variable.name.clone())
            .or_insert_with(|| Variable {
                name: variable.name.clone(),
                ..Variable::default()
            });
        entry.required |= variable.required;
        if entry.default.is_none() {
            entry.default = variable.default;
        }
        if entry.alternate.is_none() {
            entry.alternate = variable.alternate;
        }
    }
    by_name
}

/// The key path is kept as a stack of segments and only turned into a [`KeyPath`] for a
/// warning or an error: most values have nothing to say.
fn walk(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &mut Vec<Segment>,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    match &mut node.value {
        Value::String(text) => {
            if !text.contains('$') {
                return Ok(());
            }
            let done = interpolate_str(text, lookup).map_err(|err| {
                Error::invalid(
                    ErrorKind::Interpolation,
                    Some(node.mark.clone()),
                    KeyPath::from(path.clone()),
                    err.to_string(),
                )
            })?;
            for name in done.unset {
                warnings.push(Warning {
                    mark: Some(node.mark.clone()),
                    path: KeyPath::from(path.clone()),
                    message: format!(
                        "the {name:?} variable is not set, defaulting to a blank string"
                    ),
                });
            }
            node.value = Value::String(done.value);
            Ok(())
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Segment::Index(i));
                let result = walk(item, lookup, path, warnings);
                path.pop();
                result?;
            }
            Ok(())
        }
        Value::Map(map) => {
            for (key, value) in map.iter_mut() {
                if matches!(
                    value.value,
                    Value::Null
                        | Value::Bool(_)
                        | Value::Int(_)
                        | Value::BigInt(_)
                        | Value::Float(_)
                ) {
                    continue;
                }
                path.push(Segment::Key(key.clone()));
                let result = walk(value, lookup, path, warnings);
                path.pop();
                result?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => Ok(()),
    }
}
