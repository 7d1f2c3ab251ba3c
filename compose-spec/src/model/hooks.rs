//! Lifecycle hooks: `post_start`, `pre_stop` commands and `pre_start` init containers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::command;
use crate::model::lists;
use crate::model::scalar::{self, Extensions};

/// A command run inside the service container after it starts or before it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHook {
    /// The command.
    #[serde(deserialize_with = "command::required")]
    pub command: Vec<String>,
    /// Run as this user.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub user: Option<String>,
    /// Run privileged.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub privileged: bool,
    /// Working directory.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    /// Extra environment.
    #[serde(
        default,
        deserialize_with = "lists::dict_opt",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, Option<String>>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// An init container run to completion before the service container starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreStartHook {
    /// The command; the image's default when `None`.
    #[serde(
        deserialize_with = "command::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub command: Option<Vec<String>>,
    /// The image; the service's image when `None`.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub image: Option<String>,
    /// Run as this user.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub user: Option<String>,
    /// Run privileged.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub privileged: bool,
    /// Working directory.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    /// Extra environment.
    #[serde(
        deserialize_with = "lists::dict_opt",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, Option<String>>,
    /// Run once per replica rather than once per service.
    #[serde(
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub per_replica: bool,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_read_commands_in_both_forms() {
        let h: ServiceHook = serde_json::from_value(json!({
            "command": "echo started", "user": "root", "privileged": "true",
            "working_dir": "/app", "environment": ["A=1", "B"]
        }))
        .unwrap();
        assert_eq!(h.command, ["echo", "started"]);
        assert!(h.privileged);
        assert_eq!(h.environment["B"], None);
        assert_eq!(
            serde_json::from_value::<ServiceHook>(serde_json::to_value(&h).unwrap()).unwrap(),
            h
        );
        let err = serde_json::from_value::<ServiceHook>(json!({"user": "root"}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "missing field `command`");

        let p: PreStartHook = serde_json::from_value(
            json!({"image": "busybox", "command": ["true"], "per_replica": true}),
        )
        .unwrap();
        assert!(p.per_replica);
        assert_eq!(
            serde_json::from_value::<PreStartHook>(serde_json::to_value(&p).unwrap()).unwrap(),
            p
        );
    }
}
