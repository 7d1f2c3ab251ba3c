//! `logging`: the log driver of a service and its options.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::lists;
use crate::model::scalar::{self, Extensions};

/// A service's logging configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Logging {
    /// Log driver (`json-file`, `local`, `journald`, …).
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// Driver options (`max-size`, `max-file`, …).
    #[serde(
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn driver_and_options() {
        let l: Logging = serde_json::from_value(json!({
            "driver": "json-file", "options": {"max-size": "10m", "max-file": 3, "tag": null}
        }))
        .unwrap();
        assert_eq!(l.driver.as_deref(), Some("json-file"));
        assert_eq!(l.options["max-file"], "3");
        assert_eq!(l.options["tag"], "");
        assert_eq!(
            serde_json::from_value::<Logging>(serde_json::to_value(&l).unwrap()).unwrap(),
            l
        );
    }
}
