//! Secrets and configs: the top-level definitions and a service's references to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::external::ExternalSpec;
use crate::model::lists;
use crate::model::mode::FileMode;
use crate::model::scalar::{self, Extensions};
use crate::model::short::ShortSyntax;

/// A top-level secret: from a file, an environment variable, or external.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Secret {
    /// The engine-level name.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// The file holding the secret (relative paths are resolved by the loader).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub file: Option<String>,
    /// The environment variable holding the secret.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<String>,
    /// Managed outside the project.
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
    /// Secret driver (cluster).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// Driver options.
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// Template driver (cluster).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub template_driver: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

external_resource!(Secret);

/// A top-level config: from a file, an environment variable, inline content, or external.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Config {
    /// The engine-level name.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// The file holding the config (relative paths are resolved by the loader).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub file: Option<String>,
    /// The environment variable holding the config.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<String>,
    /// The config's content, inline.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
    /// Managed outside the project.
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
    /// Template driver (cluster).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub template_driver: Option<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

external_resource!(Config);

/// A service's reference to a secret or config (`secrets: [name]` or the long form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ServiceFileRef {
    /// The name of the top-level secret or config.
    #[serde(default, deserialize_with = "scalar::scalar")]
    pub source: String,
    /// Where it appears in the container; when `None`, `/run/secrets/<source>` for secrets and
    /// `/<source>` for configs.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// Owner user id.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<String>,
    /// Owner group id.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub gid: Option<String>,
    /// Permission bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

short_or_long!(ServiceFileRef);

impl ShortSyntax for ServiceFileRef {
    const EXPECTING: &'static str = "a secret or config name or a mapping with source and target";

    fn parse_short(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("invalid reference \"\": expected a secret or config name".to_owned());
        }
        Ok(Self {
            source: text.to_owned(),
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_references_short_and_long() {
        let refs: Vec<ServiceFileRef> = serde_json::from_value(json!([
            "db_password",
            {"source": "tls", "target": "/etc/tls.pem", "uid": 103, "gid": "103", "mode": 288, "x-a": 1}
        ]))
        .unwrap();
        assert_eq!(
            refs[0],
            ServiceFileRef {
                source: "db_password".to_owned(),
                ..Default::default()
            }
        );
        assert_eq!(refs[1].uid.as_deref(), Some("103"));
        assert_eq!(refs[1].mode, Some(FileMode(0o440)));
        let json = serde_json::to_value(&refs).unwrap();
        assert_eq!(json[0], json!({"source": "db_password"}));
        assert_eq!(json[1]["mode"], json!("0440"));
        assert_eq!(
            serde_json::from_value::<Vec<ServiceFileRef>>(json).unwrap(),
            refs
        );
    }

    #[test]
    fn top_level_secret_and_config() {
        let s: Secret = serde_json::from_value(json!({
            "name": "s", "file": "./s.txt", "environment": "TOKEN", "labels": {"a": "b"},
            "driver": "d", "driver_opts": {"k": 1}, "template_driver": "golang", "x-e": 1
        }))
        .unwrap();
        assert_eq!(s.file.as_deref(), Some("./s.txt"));
        assert_eq!(s.driver_opts["k"], "1");
        assert_eq!(
            serde_json::from_value::<Secret>(serde_json::to_value(&s).unwrap()).unwrap(),
            s
        );

        let c: Config =
            serde_json::from_value(json!({"content": "hello", "external": {"name": "x"}})).unwrap();
        assert!(c.external);
        assert_eq!(c.name.as_deref(), Some("x"));
        assert_eq!(
            serde_json::from_value::<Config>(serde_json::to_value(&c).unwrap()).unwrap(),
            c
        );
    }
}
