//! The whole project: services and the top-level networks, volumes, secrets, configs and models.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::extra::AiModel;
use crate::model::lists;
use crate::model::network::Network;
use crate::model::scalar::{self, Extensions};
use crate::model::secret_config::{Config, Secret};
use crate::model::service::Service;
use crate::model::volume::Volume;

/// A compose project. `version` and `include` are consumed by the loader and dropped here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// The project name (set by the loader from `-p`, the environment, `name:` or the directory).
    #[serde(
        deserialize_with = "scalar::scalar",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Enabled services, by name.
    #[serde(
        deserialize_with = "lists::nullable_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub services: BTreeMap<String, Service>,
    /// Networks, by key.
    #[serde(
        deserialize_with = "lists::nullable_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub networks: BTreeMap<String, Network>,
    /// Named volumes, by key.
    #[serde(
        deserialize_with = "lists::nullable_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, Volume>,
    /// Secrets, by key.
    #[serde(
        deserialize_with = "lists::nullable_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub secrets: BTreeMap<String, Secret>,
    /// Configs, by key.
    #[serde(
        deserialize_with = "lists::nullable_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub configs: BTreeMap<String, Config>,
    /// AI models, by key.
    #[serde(
        deserialize_with = "lists::nullable_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub models: BTreeMap<String, AiModel>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "top_level_extensions")]
    pub extensions: Extensions,
    /// Services switched off by profiles (filled by the loader; never serialized).
    #[serde(skip)]
    pub disabled_services: BTreeMap<String, Service>,
}

fn top_level_extensions<'de, D: Deserializer<'de>>(d: D) -> Result<Extensions, D::Error> {
    scalar::extensions_skipping(d, &["version", "include"])
}

impl Project {
    /// The names of the enabled services, sorted.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn top_level_keys() {
        let p: Project = serde_json::from_value(json!({
            "version": "3.8",
            "name": "demo",
            "services": {"web": {"image": "nginx"}, "empty": null},
            "networks": {"front": null, "back": {"driver": "bridge"}},
            "volumes": {"data": null},
            "secrets": {"s": {"file": "./s"}},
            "configs": {"c": {"content": "x"}},
            "models": {"llm": {"model": "ai/smollm2"}},
            "x-common": {"a": 1}
        }))
        .unwrap();
        assert_eq!(p.name, "demo");
        assert_eq!(p.service_names().collect::<Vec<_>>(), ["empty", "web"]);
        assert_eq!(p.networks["front"], Network::default());
        assert_eq!(p.volumes["data"], Volume::default());
        assert_eq!(p.models["llm"].model, "ai/smollm2");
        assert_eq!(p.extensions["x-common"], json!({"a": 1}));
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("version").is_none());
        assert_eq!(serde_json::from_value::<Project>(json).unwrap(), p);
    }

    #[test]
    fn disabled_services_are_not_serialized() {
        let mut p = Project {
            name: "p".to_owned(),
            ..Project::default()
        };
        p.disabled_services
            .insert("debug".to_owned(), Service::default());
        assert_eq!(serde_json::to_value(&p).unwrap(), json!({"name": "p"}));
    }
}
