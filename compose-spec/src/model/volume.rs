//! Top-level `volumes` definitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::external::ExternalSpec;
use crate::model::lists;
use crate::model::scalar::{self, Extensions};

/// A named volume definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Volume {
    /// The engine-level name; defaults to `<project>_<key>` (set by the loader).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Volume driver (`local` by default).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// Driver options (`type`, `device`, `o` for the local driver).
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// Managed outside the project: never created or removed.
    #[serde(default, skip_deserializing, skip_serializing_if = "scalar::is_false")]
    pub external: bool,
    /// `external` as written (folded into `external` and `name` when read; always default).
    #[doc(hidden)]
    #[serde(default, rename = "external", skip_serializing)]
    pub external_spec: ExternalSpec,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

external_resource!(Volume);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_round_trips() {
        let v: Volume = serde_json::from_value(json!({
            "name": "data", "driver": "local", "driver_opts": {"type": "nfs", "o": "addr=10.0.0.1"},
            "external": "false", "labels": ["a=b"], "x-backup": "daily"
        }))
        .unwrap();
        assert_eq!(v.driver_opts["type"], "nfs");
        assert_eq!(v.labels["a"], "b");
        assert!(!v.external);
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["x-backup"], json!("daily"));
        assert_eq!(serde_json::from_value::<Volume>(json).unwrap(), v);
    }

    #[test]
    fn external_volume() {
        let v: Volume = serde_json::from_value(json!({"external": true})).unwrap();
        assert!(v.external);
        assert_eq!(serde_json::to_value(&v).unwrap(), json!({"external": true}));
    }
}
