//! Field-level differences between the recorded and the desired service definition, as the
//! short phrases a recreate reason is made of (`image redis:6 → redis:7`,
//! `environment API_KEY changed`).
//!
//! Values of `environment` entries are never shown (they are often secrets); other scalars are
//! shown, shortened; any other changed key is named without its value.

use serde_json::Value;

/// Keys of maps whose entries are named one by one.
const ENTRY_KEYS: [&str; 6] = [
    "environment",
    "labels",
    "annotations",
    "sysctls",
    "networks",
    "ulimits",
];

/// Keys whose values are never shown.
const SECRET_KEYS: [&str; 1] = ["environment"];

/// The longest value shown in full.
const MAX_VALUE: usize = 40;

/// The differences between `recorded` and `desired` (both canonical service JSON), in key order.
pub fn differences(recorded: &Value, desired: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let old = recorded.as_object().unwrap_or(&empty);
    let new = desired.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut found = Vec::new();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) if ENTRY_KEYS.contains(&key.as_str()) => {
                found.extend(entry_differences(key, a, b));
            }
            (Some(a), Some(b)) if is_scalar(a) && is_scalar(b) => {
                found.push(format!("{key} {} → {}", show(a), show(b)));
            }
            (Some(_), Some(_)) => found.push(format!("{key} changed")),
            (None, Some(b)) if is_scalar(b) && !SECRET_KEYS.contains(&key.as_str()) => {
                found.push(format!("{key} set to {}", show(b)));
            }
            (None, Some(_)) => found.push(format!("{key} added")),
            (Some(_), None) => found.push(format!("{key} removed")),
            (None, None) => {}
        }
    }
    found
}

fn entry_differences(key: &str, old: &Value, new: &Value) -> Vec<String> {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return vec![format!("{key} changed")];
    };
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| match (old.get(name), new.get(name)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(_), Some(_)) => Some(format!("{key} {name} changed")),
            (None, _) => Some(format!("{key} {name} added")),
            (_, None) => Some(format!("{key} {name} removed")),
        })
        .collect()
}

fn is_scalar(value: &Value) -> bool {
    !(value.is_object() || value.is_array())
}

fn show(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > MAX_VALUE {
        let head: String = text.chars().take(MAX_VALUE - 1).collect();
        format!("{head}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_each_difference() {
        let cases = [
            (
                json!({"image": "redis:6"}),
                json!({"image": "redis:7"}),
                vec!["image redis:6 → redis:7"],
            ),
            (
                json!({"image": "r", "environment": {"API_KEY": "a", "OLD": "x"}}),
                json!({"image": "r", "environment": {"API_KEY": "b", "NEW": "y"}}),
                vec![
                    "environment API_KEY changed",
                    "environment NEW added",
                    "environment OLD removed",
                ],
            ),
            (
                json!({"image": "r"}),
                json!({"image": "r", "environment": {"A": "1"}}),
                vec!["environment added"],
            ),
            (
                json!({"image": "r"}),
                json!({"image": "r", "user": "1000"}),
                vec!["user set to 1000"],
            ),
            (
                json!({"image": "r", "ports": [1]}),
                json!({"image": "r", "ports": [2]}),
                vec!["ports changed"],
            ),
            (
                json!({"image": "r", "tty": true}),
                json!({"image": "r"}),
                vec!["tty removed"],
            ),
            (json!({"image": "r"}), json!({"image": "r"}), vec![]),
        ];
        for (old, new, want) in cases {
            assert_eq!(differences(&old, &new), want, "{old} → {new}");
        }
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(60);
        let found = differences(&json!({"image": "a"}), &json!({"image": long}));
        assert_eq!(found, [format!("image a → {}…", "x".repeat(39))]);
    }
}
