//! The `external` key of top-level networks, volumes, secrets and configs: a boolean, or the
//! deprecated `{name: ...}` mapping, which also sets the resource's name.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::model::scalar::Scalar;

/// `external` as written; folded into the owner's `external` and `name` fields after reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalSpec {
    /// Whether the resource is managed outside the project.
    pub enabled: bool,
    /// The deprecated `external.name`.
    pub name: Option<String>,
}

impl ExternalSpec {
    /// Folds this into the owner's fields: `external: {name: x}` means external with name `x`
    /// (unless a name is already set).
    pub fn fold_into(self, external: &mut bool, name: &mut Option<String>) {
        *external = self.enabled;
        if name.is_none() {
            *name = self.name;
        }
    }
}

impl<'de> Deserialize<'de> for ExternalSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExternalVisitor)
    }
}

struct ExternalVisitor;

impl<'de> Visitor<'de> for ExternalVisitor {
    type Value = ExternalSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false or a mapping with a name")
    }

    fn visit_unit<E: de::Error>(self) -> Result<ExternalSpec, E> {
        Ok(ExternalSpec::default())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ExternalSpec, E> {
        Ok(ExternalSpec {
            enabled: v,
            name: None,
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ExternalSpec, E> {
        let enabled = bool::from_text(v).map_err(E::custom)?;
        Ok(ExternalSpec {
            enabled,
            name: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExternalSpec, A::Error> {
        let mut name = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => name = map.next_value::<Option<String>>()?,
                k if k.starts_with("x-") => {
                    map.next_value::<de::IgnoredAny>()?;
                }
                _ => {
                    return Err(de::Error::custom(format!(
                        "unknown key {key:?} in external, expected name"
                    )));
                }
            }
        }
        Ok(ExternalSpec {
            enabled: true,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_booleans_strings_and_the_legacy_mapping() {
        let read = |v: serde_json::Value| ExternalSpec::deserialize(&v).map_err(|e| e.to_string());
        assert_eq!(
            read(json!(true)),
            Ok(ExternalSpec {
                enabled: true,
                name: None
            })
        );
        assert_eq!(read(json!("false")), Ok(ExternalSpec::default()));
        assert_eq!(
            read(json!({"name": "shared"})),
            Ok(ExternalSpec {
                enabled: true,
                name: Some("shared".to_owned())
            })
        );
        assert_eq!(
            read(json!({"nom": "x"})),
            Err("unknown key \"nom\" in external, expected name".to_owned())
        );
        let mut external = false;
        let mut name = Some("explicit".to_owned());
        ExternalSpec {
            enabled: true,
            name: Some("legacy".to_owned()),
        }
        .fold_into(&mut external, &mut name);
        assert!(external);
        assert_eq!(name.as_deref(), Some("explicit"));
    }
}
