//! Identity through labels: Compose's label keys, container names, and the recorded service
//! definition.
//!
//! Every container the planner creates carries Compose's labels, so the ecosystem's tools
//! recognise it, plus [`SERVICE_CONFIG`]: the canonical JSON of the service definition it was
//! created from (the part the config hash covers). Diffing that JSON against the desired
//! definition is how a recreate explains itself field by field, without the planner asking the
//! backend anything beyond the observed state.

use compose_spec::model::Service;

/// The project a container, network or volume belongs to.
pub const PROJECT: &str = "com.docker.compose.project";
/// The service a container belongs to.
pub const SERVICE: &str = "com.docker.compose.service";
/// The number of a container within its service (`1`, `2`, …).
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
/// `True` for containers made by `run`, `False` otherwise.
pub const ONEOFF: &str = "com.docker.compose.oneoff";
/// The service's config hash when the container was created (on a network or volume: the
/// hash of its definition, [`resource_hash`]).
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// The project directory.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// The compose files, comma separated.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// The service's dependencies: `service:condition:restart`, comma separated.
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// The image digest the container was created from.
pub const IMAGE: &str = "com.docker.compose.image";
/// The version of the tool that created the object.
pub const VERSION: &str = "com.docker.compose.version";
/// The key of a network in its project.
pub const NETWORK: &str = "com.docker.compose.network";
/// The key of a volume in its project.
pub const VOLUME: &str = "com.docker.compose.volume";
/// The canonical JSON of the service definition the container was created from (Bosun's own
/// key): the definition the config hash covers, without configs' and secrets' contents.
pub const SERVICE_CONFIG: &str = "io.bosun.compose.service-config";

/// The value of [`ONEOFF`] for one-off containers.
pub const TRUE: &str = "True";
/// The value of [`ONEOFF`] for service containers.
pub const FALSE: &str = "False";

/// The name of container `number` of `service`: `<project>-<service>-<n>`.
pub fn container_name(project: &str, service: &str, number: u32) -> String {
    container_name_joined(project, service, number, SEPARATOR)
}

/// [`container_name`] with another separator (`_` in Compose's `--compatibility` mode:
/// `<project>_<service>_<n>`, as Compose v1 named them).
pub fn container_name_joined(project: &str, service: &str, number: u32, separator: char) -> String {
    format!("{project}{separator}{service}{separator}{number}")
}

/// The separator of container names.
pub const SEPARATOR: char = '-';

/// The separator of container names in `--compatibility` mode.
pub const COMPATIBILITY_SEPARATOR: char = '_';

/// The canonical JSON of a service definition: what the config hash covers, without the keys
/// that never require a recreate (`build`, `scale`, `deploy.replicas`, `depends_on`, …).
pub fn service_config(service: &Service) -> serde_json::Value {
    compose_spec::hash::hashed_definition(service)
}

/// The config hash of a network or volume definition ([`CONFIG_HASH`] on the object, as
/// Compose labels them): the hex SHA-256 of its canonical JSON, so a changed driver, option,
/// IPAM block or label changes it.
pub fn resource_hash(definition: &impl serde::Serialize) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(definition).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The [`DEPENDS_ON`] label value of a service: `db:service_healthy:true,cache:service_started:false`.
pub fn depends_on_label(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(name, dep)| format!("{name}:{}:{}", dep.condition, dep.restart))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use compose_spec::model;

    #[test]
    fn names_follow_compose() {
        assert_eq!(container_name("demo", "web", 2), "demo-web-2");
    }

    #[test]
    fn service_config_drops_keys_that_never_recreate() {
        let project = model::from_json(&serde_json::json!({"services": {
            "web": {"image": "nginx", "scale": 3, "depends_on": {"db": {"condition": "service_healthy", "restart": true}},
                    "deploy": {"replicas": 3}},
            "db": {"image": "pg"}}}))
        .unwrap();
        let web = &project.services["web"];
        assert_eq!(service_config(web), serde_json::json!({"image": "nginx"}));
        assert_eq!(depends_on_label(web), "db:service_healthy:true");
    }
}
