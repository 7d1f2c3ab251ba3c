//! JSON values (the objects every command already builds for `--format json`) as template
//! values, and back for the `json` function.
//!
//! A JSON object becomes a template *object* (a Go struct: asking for a field it lacks is an
//! error, as in docker), except under the keys that are Go maps in docker's types (`Labels`,
//! `Options`, `Networks`, …), which become template *maps* (a missing key prints `<no value>`).
//! Template values keep no key order, so each object carries its keys' order under a key no
//! template can name ([`ORDER_KEY`]): `{{json .}}` then prints the fields in the order
//! `--format json` does, and maps print with sorted keys, as Go's encoder does.

use std::collections::HashMap;

use gtmpl::Value;
use serde_json::Value as Json;

/// The hidden key under which an object keeps the order of its keys (a control character, so
/// it is not an identifier a template can write).
pub(super) const ORDER_KEY: &str = "\u{1}order";

/// The keys whose objects are maps in docker's Go types.
const MAP_KEYS: &[&str] = &[
    "Labels",
    "Options",
    "DriverOpts",
    "Networks",
    "Containers",
    "Ports",
    "ExposedPorts",
    "Volumes",
    "Annotations",
    "Sysctls",
];

/// `json` as a template value (the root is a struct).
pub(super) fn to_template(json: &Json) -> Value {
    convert(json, false)
}

fn convert(json: &Json, as_map: bool) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(|v| convert(v, false)).collect()),
        Json::Object(fields) => {
            let mut map: HashMap<String, Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), convert(v, MAP_KEYS.contains(&k.as_str()))))
                .collect();
            if as_map {
                Value::Map(map)
            } else {
                let order = fields.keys().map(|k| Value::String(k.clone())).collect();
                map.insert(ORDER_KEY.to_string(), Value::Array(order));
                Value::Object(map)
            }
        }
    }
}

/// A template value as JSON: objects in their original key order, maps with sorted keys.
pub(super) fn to_json(value: &Value) -> Json {
    match value {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Json::from(u)
            } else if let Some(i) = n.as_i64() {
                Json::from(i)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Json::Null, Json::Number)
            }
        }
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(fields) | Value::Map(fields) => {
            let keys: Vec<String> = match fields.get(ORDER_KEY) {
                Some(Value::Array(order)) => order
                    .iter()
                    .filter_map(|k| match k {
                        Value::String(k) => Some(k.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => {
                    let mut keys: Vec<String> = fields.keys().cloned().collect();
                    keys.sort();
                    keys
                }
            };
            Json::Object(
                keys.into_iter()
                    .filter_map(|k| fields.get(&k).map(|v| (k.clone(), to_json(v))))
                    .collect(),
            )
        }
    }
}

/// The number of a value's elements as Go's `len` counts them (the hidden order key left out).
pub(super) fn len(value: &Value) -> Option<usize> {
    match value {
        Value::String(s) => Some(s.len()),
        Value::Array(items) => Some(items.len()),
        Value::Map(fields) => Some(fields.len()),
        Value::Object(fields) => Some(fields.len() - usize::from(fields.contains_key(ORDER_KEY))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_round_trip_in_their_order_and_maps_sorted() {
        let doc =
            json!({"Zed": 1, "Alpha": {"B": true, "A": null}, "Labels": {"z": "1", "a": "2"}});
        let back = to_json(&to_template(&doc));
        assert_eq!(
            serde_json::to_string(&back).expect("serializes"),
            r#"{"Zed":1,"Alpha":{"B":true,"A":null},"Labels":{"a":"2","z":"1"}}"#
        );
    }

    #[test]
    fn labels_are_maps_and_structs_are_objects() {
        let doc = to_template(&json!({"Labels": {"a": "1"}, "State": {"Status": "running"}}));
        let Value::Object(fields) = doc else {
            panic!("root is not an object")
        };
        assert!(matches!(fields["Labels"], Value::Map(_)));
        assert!(matches!(fields["State"], Value::Object(_)));
        assert_eq!(len(&fields["State"]), Some(1));
    }

    #[test]
    fn numbers_keep_their_kind() {
        let doc = json!([3, -4, 1.5]);
        assert_eq!(to_json(&to_template(&doc)), doc);
    }
}
