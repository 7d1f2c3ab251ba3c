//! `depends_on`: a list of service names or a mapping with conditions.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::scalar::{self, Extensions, Lenient};

string_enum! {
    /// What a dependent service waits for.
    #[derive(Default)]
    pub enum DependsOnCondition ("depends_on condition") {
        /// The dependency's containers have started (the default).
        #[default]
        ServiceStarted = "service_started",
        /// The dependency is healthy.
        ServiceHealthy = "service_healthy",
        /// The dependency ran to completion with exit code 0.
        ServiceCompletedSuccessfully = "service_completed_successfully",
    }
}

/// One dependency of a service, in the long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependsOn {
    /// What to wait for.
    #[serde(default)]
    pub condition: DependsOnCondition,
    /// Restart this service when the dependency is restarted by an update.
    #[serde(default, deserialize_with = "scalar::flag")]
    pub restart: bool,
    /// When false, a missing or disabled dependency is only a warning.
    #[serde(default = "scalar::yes", deserialize_with = "scalar::scalar")]
    pub required: bool,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

impl Default for DependsOn {
    fn default() -> Self {
        Self {
            condition: DependsOnCondition::ServiceStarted,
            restart: false,
            required: true,
            extensions: Extensions::new(),
        }
    }
}

/// Reads `depends_on` as a list of names or a mapping of name to options. A
/// `deserialize_with` function.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, DependsOn>, D::Error> {
    d.deserialize_any(DependsOnVisitor)
}

struct DependsOnVisitor;

impl<'de> Visitor<'de> for DependsOnVisitor {
    type Value = BTreeMap<String, DependsOn>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of service names or a mapping of services to conditions")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = seq.next_element::<Lenient<String>>()? {
            out.insert(name.0, DependsOn::default());
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let dependency = map.next_value::<Option<DependsOn>>()?;
            out.insert(name, dependency.unwrap_or_default());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_becomes_started_required_dependencies() {
        let deps = deserialize(&json!(["db", "cache"])).unwrap();
        assert_eq!(deps.len(), 2);
        assert_eq!(deps["db"], DependsOn::default());
        assert_eq!(
            serde_json::to_value(&deps["db"]).unwrap(),
            json!({"condition": "service_started", "restart": false, "required": true})
        );
    }

    #[test]
    fn mapping_with_every_condition() {
        for condition in DependsOnCondition::ALL {
            let deps = deserialize(&json!({"db": {"condition": condition.as_str(), "restart": "true", "required": false}})).unwrap();
            assert_eq!(deps["db"].condition, *condition);
            assert!(deps["db"].restart);
            assert!(!deps["db"].required);
        }
        let err = deserialize(&json!({"db": {"condition": "service_ready"}}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid depends_on condition \"service_ready\": expected one of service_started, service_healthy, service_completed_successfully"
        );
    }
}
