//! `build`: a context path (`build: ./dir`) or the full build configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::bytes::ByteSize;
use crate::model::lists;
use crate::model::scalar::{self, Extensions};
use crate::model::secret_config::ServiceFileRef;
use crate::model::short::ShortSyntax;
use crate::model::ulimit::Ulimit;

/// How a service's image is built. `context` (default `.`) and `dockerfile` are kept as written;
/// the loader resolves the context against the project directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Build {
    /// Build context: a directory or a URL.
    #[serde(default = "dot", deserialize_with = "scalar::scalar")]
    pub context: String,
    /// Dockerfile path relative to the context.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub dockerfile: Option<String>,
    /// Inline Dockerfile content.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub dockerfile_inline: Option<String>,
    /// Extra privileged entitlements.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entitlements: Vec<String>,
    /// Build arguments; `None` values are taken from the environment by the loader.
    #[serde(
        default,
        deserialize_with = "lists::dict_opt",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub args: BTreeMap<String, Option<String>>,
    /// SSH agent sockets or keys (`default`, `id=path`).
    #[serde(
        default,
        deserialize_with = "lists::dict_opt",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub ssh: BTreeMap<String, Option<String>>,
    /// Image labels.
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Cache sources.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cache_from: Vec<String>,
    /// Cache destinations.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cache_to: Vec<String>,
    /// Build without cache.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub no_cache: bool,
    /// Stages built without cache.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub no_cache_filter: Vec<String>,
    /// Named extra contexts.
    #[serde(
        default,
        deserialize_with = "lists::dict",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub additional_contexts: BTreeMap<String, String>,
    /// Network for `RUN` instructions.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub network: Option<String>,
    /// Provenance attestation (`true`, `false`, `mode=max`).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub provenance: Option<String>,
    /// SBOM attestation (`true`, `false`, options).
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub sbom: Option<String>,
    /// Always pull base images.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub pull: bool,
    /// Target stage.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// `/dev/shm` size of build containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<ByteSize>,
    /// Extra `/etc/hosts` entries, host -> IPs.
    #[serde(
        default,
        deserialize_with = "lists::extra_hosts",
        serialize_with = "lists::serialize_extra_hosts",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    /// Isolation technology.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub isolation: Option<String>,
    /// Privileged build.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub privileged: bool,
    /// Secrets available to the build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<ServiceFileRef>,
    /// Extra image tags.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// Resource limits of build containers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Target platforms.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub platforms: Vec<String>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

short_or_long!(Build);

fn dot() -> String {
    ".".to_owned()
}

impl Build {
    /// A build of the given context with nothing else set.
    pub fn new(context: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            dockerfile: None,
            dockerfile_inline: None,
            entitlements: Vec::new(),
            args: BTreeMap::new(),
            ssh: BTreeMap::new(),
            labels: BTreeMap::new(),
            cache_from: Vec::new(),
            cache_to: Vec::new(),
            no_cache: false,
            no_cache_filter: Vec::new(),
            additional_contexts: BTreeMap::new(),
            network: None,
            provenance: None,
            sbom: None,
            pull: false,
            target: None,
            shm_size: None,
            extra_hosts: BTreeMap::new(),
            isolation: None,
            privileged: false,
            secrets: Vec::new(),
            tags: Vec::new(),
            ulimits: BTreeMap::new(),
            platforms: Vec::new(),
            extensions: Extensions::new(),
        }
    }
}

impl Default for Build {
    fn default() -> Self {
        Self::new(".")
    }
}

impl ShortSyntax for Build {
    const EXPECTING: &'static str = "a build context path or a build mapping";

    fn parse_short(text: &str) -> Result<Self, String> {
        Ok(Self::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_is_the_context() {
        let b: Build = serde_json::from_value(json!("./app")).unwrap();
        assert_eq!(b, Build::new("./app"));
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"context": "./app"})
        );
    }

    #[test]
    fn mapping_defaults_the_context_to_dot() {
        let b: Build = serde_json::from_value(json!({"dockerfile": "Dockerfile.dev"})).unwrap();
        assert_eq!(b.context, ".");
        assert_eq!(b.dockerfile.as_deref(), Some("Dockerfile.dev"));
    }

    #[test]
    fn every_key_round_trips() {
        let b: Build = serde_json::from_value(json!({
            "context": ".", "dockerfile": "Dockerfile", "dockerfile_inline": "FROM alpine",
            "entitlements": ["network.host"], "args": ["A=1", "B"], "ssh": ["default", "key=/k"],
            "labels": {"l": "v"}, "cache_from": ["type=local,src=/c"], "cache_to": ["type=inline"],
            "no_cache": "true", "no_cache_filter": "stage", "additional_contexts": {"x": "../x"},
            "network": "host", "provenance": true, "sbom": "false", "pull": true, "target": "prod",
            "shm_size": "64m", "extra_hosts": ["h=1.2.3.4"], "isolation": "default",
            "privileged": true, "secrets": ["s", {"source": "t", "target": "t2"}],
            "tags": ["a:1"], "ulimits": {"nofile": 1024}, "platforms": ["linux/amd64"], "x-b": 1
        }))
        .unwrap();
        assert_eq!(b.args["B"], None);
        assert_eq!(b.ssh["default"], None);
        assert_eq!(b.ssh["key"].as_deref(), Some("/k"));
        assert_eq!(b.provenance.as_deref(), Some("true"));
        assert_eq!(b.no_cache_filter, ["stage"]);
        assert_eq!(b.shm_size, Some(ByteSize(64 << 20)));
        assert_eq!(b.extra_hosts["h"], ["1.2.3.4"]);
        assert_eq!(b.secrets.len(), 2);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(serde_json::from_value::<Build>(json).unwrap(), b);
    }
}
