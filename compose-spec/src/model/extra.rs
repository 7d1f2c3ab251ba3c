//! Smaller service keys with their own shape: `extends`, `credential_spec`, `provider`,
//! `models`, and the top-level `models` definitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::lists;
use crate::model::scalar::{self, Extensions};
use crate::model::short::ShortSyntax;

/// `extends`: a service of this file (`extends: web`) or of another (`{file, service}`).
/// Normally resolved and removed by the loader before the model is built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Extends {
    /// The service to extend.
    #[serde(deserialize_with = "scalar::scalar")]
    pub service: String,
    /// The file defining it; this file when `None`.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub file: Option<String>,
}

short_or_long!(Extends);

impl ShortSyntax for Extends {
    const EXPECTING: &'static str = "a service name or a mapping with service and file";

    fn parse_short(text: &str) -> Result<Self, String> {
        Ok(Self {
            service: text.to_owned(),
            file: None,
        })
    }
}

/// Windows credential spec of a service (kept for completeness).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialSpec {
    /// A config holding the spec.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub config: Option<String>,
    /// A file holding the spec.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub file: Option<String>,
    /// A registry entry holding the spec.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub registry: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// A service managed by an external provider rather than run as containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The provider component.
    #[serde(rename = "type", deserialize_with = "scalar::scalar")]
    pub kind: String,
    /// Provider options; a scalar is a one-element list.
    #[serde(
        default,
        deserialize_with = "provider_options",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, Vec<String>>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

fn provider_options<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let map: BTreeMap<String, OptionValues> = Deserialize::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

struct OptionValues(Vec<String>);

impl<'de> Deserialize<'de> for OptionValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lists::strings(d).map(OptionValues)
    }
}

/// A service's use of a top-level model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceModel {
    /// The variable receiving the model's endpoint.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint_var: Option<String>,
    /// The variable receiving the model's name.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_var: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// Reads a service's `models`: a list of names or a mapping of name to `null` or options.
/// A `deserialize_with` function.
pub(super) fn service_models<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, ServiceModel>, D::Error> {
    match Option::<NamesOrMap>::deserialize(d)? {
        None => Ok(BTreeMap::new()),
        Some(NamesOrMap::Names(names)) => Ok(names
            .into_iter()
            .map(|n| (n, ServiceModel::default()))
            .collect()),
        Some(NamesOrMap::Map(map)) => Ok(map),
    }
}

enum NamesOrMap {
    Names(Vec<String>),
    Map(BTreeMap<String, ServiceModel>),
}

impl<'de> Deserialize<'de> for NamesOrMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NamesOrMap;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of model names or a mapping of models")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<NamesOrMap, A::Error> {
                let names = lists::strings(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(NamesOrMap::Names(names))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<NamesOrMap, A::Error> {
                let map = lists::nullable_map(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(NamesOrMap::Map(map))
            }
        }
        d.deserialize_any(V)
    }
}

/// A top-level AI model definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiModel {
    /// The model reference (an OCI artifact).
    #[serde(deserialize_with = "scalar::scalar")]
    pub model: String,
    /// A custom name.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Context window size.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub context_size: Option<u64>,
    /// Flags for the inference runtime.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runtime_flags: Vec<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extends_short_and_long() {
        let short: Extends = serde_json::from_value(json!("web")).unwrap();
        assert_eq!(
            short,
            Extends {
                service: "web".to_owned(),
                file: None
            }
        );
        let long: Extends =
            serde_json::from_value(json!({"service": "web", "file": "base.yaml"})).unwrap();
        assert_eq!(long.file.as_deref(), Some("base.yaml"));
        assert_eq!(
            serde_json::from_value::<Extends>(serde_json::to_value(&long).unwrap()).unwrap(),
            long
        );
        assert!(serde_json::from_value::<Extends>(json!({"service": "web", "path": "x"})).is_err());
    }

    #[test]
    fn provider_options_become_lists() {
        let p: Provider = serde_json::from_value(
            json!({"type": "model", "options": {"model": "ai/x", "flags": ["a", 1]}}),
        )
        .unwrap();
        assert_eq!(p.options["model"], ["ai/x"]);
        assert_eq!(p.options["flags"], ["a", "1"]);
        assert_eq!(
            serde_json::from_value::<Provider>(serde_json::to_value(&p).unwrap()).unwrap(),
            p
        );
    }

    #[test]
    fn service_models_list_and_map() {
        let list = service_models(&json!(["llm"])).unwrap();
        assert_eq!(list["llm"], ServiceModel::default());
        let map = service_models(
            &json!({"llm": null, "emb": {"endpoint_var": "URL", "model_var": "NAME"}}),
        )
        .unwrap();
        assert_eq!(map["emb"].endpoint_var.as_deref(), Some("URL"));
        assert_eq!(map["llm"], ServiceModel::default());
        let m: AiModel = serde_json::from_value(
            json!({"model": "ai/smollm2", "context_size": "4096", "runtime_flags": ["--x"]}),
        )
        .unwrap();
        assert_eq!(m.context_size, Some(4096));
        assert_eq!(
            serde_json::from_value::<AiModel>(serde_json::to_value(&m).unwrap()).unwrap(),
            m
        );
    }
}
