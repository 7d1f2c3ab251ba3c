//! The model's entry points, [`from_json`] and [`to_json`], and its error.

use crate::model::project::Project;
use crate::path::{KeyPath, Segment};

/// A value that does not fit the model, with the key path of that value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ModelError {
    /// Where the value is (`services.web.ports[0]`).
    pub path: KeyPath,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Reads a project from its interpolated, merged JSON form, accepting every short syntax.
pub fn from_json(value: &serde_json::Value) -> Result<Project, ModelError> {
    // Tracking the key path costs as much as reading the project: do it only to explain an error.
    if let Ok(project) = <Project as serde::Deserialize>::deserialize(value) {
        return Ok(project);
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = key_path(err.path());
        ModelError {
            path,
            message: plain_message(&err.into_inner().to_string()),
        }
    })
}

/// Writes a project in canonical form (long syntax, sorted keys, empty values omitted).
pub fn to_json(project: &Project) -> serde_json::Value {
    serde_json::to_value(project).expect("the model only has string keys and finite numbers")
}

/// serde's wording for a missing field, in the words the rest of the loader uses.
fn plain_message(message: &str) -> String {
    match message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        Some(field) => format!("missing required key \"{field}\""),
        None => message.to_string(),
    }
}

fn key_path(path: &serde_path_to_error::Path) -> KeyPath {
    let segments = path
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(Segment::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect::<Vec<_>>();
    KeyPath::from(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(value: serde_json::Value) -> ModelError {
        from_json(&value).unwrap_err()
    }

    #[test]
    fn errors_carry_the_key_path() {
        let cases = [
            (
                json!({"services": {"web": {"ports": ["80", "80:abc"]}}}),
                "services.web.ports[1]",
                "invalid port \"80:abc\": \"abc\" is not a port number; expected [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
            ),
            (
                json!({"services": {"web": {"healthcheck": {"interval": "10x"}}}}),
                "services.web.healthcheck.interval",
                "invalid duration \"10x\": expected a number with a unit such as 10s, 1m30s, 500ms",
            ),
            (
                json!({"services": {"web": {"mem_limit": "lots"}}}),
                "services.web.mem_limit",
                "invalid size \"lots\": expected a number of bytes or a number with a unit such as 512m, 1g, 100k",
            ),
            (
                json!({"services": {"web": {"volumes": [{"type": "bind", "source": "/a", "target": "/b", "read_only": "maybe"}]}}}),
                "services.web.volumes[0].read_only",
                "invalid boolean \"maybe\": expected true or false",
            ),
            (
                json!({"services": {"web": {"restart": "sometimes"}}}),
                "services.web.restart",
                "invalid restart policy \"sometimes\": expected one of no, always, on-failure[:MAX_RETRIES], unless-stopped",
            ),
            (
                json!({"services": {"web": {"depends_on": {"db": {"condition": "up"}}}}}),
                "services.web.depends_on.db.condition",
                "invalid depends_on condition \"up\": expected one of service_started, service_healthy, service_completed_successfully",
            ),
            (
                json!({"services": {"web": {"deploy": {"resources": {"limits": {"cpus": "many"}}}}}}),
                "services.web.deploy.resources.limits.cpus",
                "invalid number \"many\": expected a number such as 1 or 0.5",
            ),
            (
                json!({"services": {"web": {"scale": "two"}}}),
                "services.web.scale",
                "invalid integer \"two\": expected a non-negative integer",
            ),
            (
                json!({"services": {"web": {"imagee": "nginx"}}}),
                "services.web",
                "unknown key \"imagee\" (only keys starting with x- may be added)",
            ),
            (
                json!({"networks": {"n": {"ipam": {"config": [{"subnet": ["x"]}]}}}}),
                "networks.n.ipam.config[0].subnet",
                "invalid type: sequence, expected a string",
            ),
        ];
        for (input, path, message) in cases {
            let err = error(input);
            assert_eq!(err.path.to_string(), path, "{message}");
            assert_eq!(err.message, message);
            assert_eq!(err.to_string(), format!("{path}: {message}"));
        }
    }

    #[test]
    fn root_errors_have_no_path_prefix() {
        let err = error(json!([1]));
        assert!(err.path.is_empty());
        assert_eq!(err.to_string(), err.message);
    }
}
