//! A project rebuilt from what exists, for commands run without a compose file
//! (`bosun -p NAME stop`, `down`, `logs`, …), as Compose acts on a project it only knows by name.
//!
//! The services are those named by the [`labels::SERVICE`] label of the project's containers,
//! each with the definition its container recorded ([`labels::SERVICE_CONFIG`]) and the
//! dependencies of its [`labels::DEPENDS_ON`] label (those on services that have containers),
//! so that `down` still stops dependants first. The networks and volumes are those carrying the
//! project's label, by their [`labels::NETWORK`] and [`labels::VOLUME`] keys; nothing is
//! external, since only what the project created carries its label.

use std::collections::BTreeMap;

use compose_spec::model::{self, Project};
use serde_json::{Map, Value, json};

use crate::compose::labels;
use crate::compose::observed::Observed;

/// The project `name` as its containers, networks and volumes describe it.
pub fn project_from_labels(name: &str, observed: &Observed) -> Project {
    let mut recorded: BTreeMap<String, (Value, Option<String>)> = BTreeMap::new();
    for container in observed.project_containers(name) {
        let Some(service) = container.service() else {
            continue;
        };
        // A service container's record wins over a one-off's (whose command line may differ).
        if recorded.contains_key(service) && container.is_oneoff() {
            continue;
        }
        let definition = container
            .recorded_config()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let depends_on = container.labels.get(labels::DEPENDS_ON).cloned();
        recorded.insert(service.to_string(), (definition, depends_on));
    }
    let mut services = BTreeMap::new();
    for (service, (definition, depends_on)) in &recorded {
        let mut definition = definition.clone();
        let dependencies = depends_on
            .as_deref()
            .map(|label| parse_depends_on(label, &recorded))
            .unwrap_or_default();
        if let Some(map) = definition.as_object_mut() {
            map.insert("depends_on".into(), Value::Object(dependencies));
        }
        services.insert(service.clone(), service_or_empty(service, definition));
    }
    let mut project = Project {
        name: name.to_string(),
        services,
        ..Project::default()
    };
    for network in &observed.networks {
        if let Some(key) = project_key(&network.labels, labels::NETWORK, &network.name, name) {
            let definition = model::Network {
                name: Some(network.name.clone()),
                ..model::Network::default()
            };
            project.networks.insert(key, definition);
        }
    }
    for volume in &observed.volumes {
        if let Some(key) = project_key(&volume.labels, labels::VOLUME, &volume.name, name) {
            let definition = model::Volume {
                name: Some(volume.name.clone()),
                ..model::Volume::default()
            };
            project.volumes.insert(key, definition);
        }
    }
    project
}

/// The key a project resource (network or volume) had in its compose file: its `key_label`,
/// else its name; `None` when the resource is not `project`'s.
fn project_key(
    resource_labels: &BTreeMap<String, String>,
    key_label: &str,
    resource_name: &str,
    project: &str,
) -> Option<String> {
    if resource_labels.get(labels::PROJECT).map(String::as_str) != Some(project) {
        return None;
    }
    Some(
        resource_labels
            .get(key_label)
            .cloned()
            .unwrap_or_else(|| resource_name.to_string()),
    )
}

/// The `depends_on` entries of a [`labels::DEPENDS_ON`] label (`db:service_healthy:true,…`)
/// on services that are in `known`.
fn parse_depends_on<T>(label: &str, known: &BTreeMap<String, T>) -> Map<String, Value> {
    label
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(':');
            let service = parts.next().filter(|s| known.contains_key(*s))?;
            let condition = parts.next().unwrap_or("service_started");
            let restart = parts.next() == Some("true");
            let dependency = json!({"condition": condition, "restart": restart});
            Some((service.to_string(), dependency))
        })
        .collect()
}

/// The service `definition` describes, or an empty one when the record does not read back.
fn service_or_empty(service: &str, definition: Value) -> model::Service {
    let mut services = Map::new();
    services.insert(service.to_string(), definition);
    model::from_json(&json!({ "services": services }))
        .ok()
        .and_then(|mut p| p.services.remove(service))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::observed::{
        ContainerState, ContainerStatus, ObservedContainer, ObservedNetwork, ObservedVolume,
    };

    fn container(name: &str, labels: &[(&str, &str)]) -> ObservedContainer {
        ObservedContainer {
            id: name.into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            image: "alpine".into(),
            image_digest: None,
            status: ContainerStatus::new(ContainerState::Running),
            networks: vec![],
            mounts: vec![],
        }
    }

    fn labelled(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The [`labels::SERVICE_CONFIG`] label a container of this service definition carries.
    fn recorded(definition: Value) -> String {
        let project = model::from_json(&json!({"services": {"web": definition}})).unwrap();
        labels::service_config(&project.services["web"]).to_string()
    }

    #[test]
    fn services_networks_and_volumes_come_from_labels() {
        let web_config = recorded(json!({
            "image": "nginx",
            "stop_grace_period": "3s",
            "environment": {"MODE": "x"},
            "ports": ["8080:80"],
        }));
        let web_config = web_config.as_str();
        let observed = Observed {
            containers: vec![
                container(
                    "demo-web-1",
                    &[
                        (labels::PROJECT, "demo"),
                        (labels::SERVICE, "web"),
                        (labels::SERVICE_CONFIG, web_config),
                        (
                            labels::DEPENDS_ON,
                            "db:service_healthy:true,gone:service_started:false",
                        ),
                    ],
                ),
                container(
                    "demo-db-1",
                    &[(labels::PROJECT, "demo"), (labels::SERVICE, "db")],
                ),
                container(
                    "other-web-1",
                    &[(labels::PROJECT, "other"), (labels::SERVICE, "api")],
                ),
            ],
            networks: vec![
                ObservedNetwork {
                    id: "n1".into(),
                    name: "demo_default".into(),
                    labels: labelled(&[(labels::PROJECT, "demo"), (labels::NETWORK, "default")]),
                },
                ObservedNetwork {
                    id: "n2".into(),
                    name: "bridge".into(),
                    labels: BTreeMap::new(),
                },
            ],
            volumes: vec![ObservedVolume {
                name: "demo_data".into(),
                labels: labelled(&[(labels::PROJECT, "demo"), (labels::VOLUME, "data")]),
            }],
            images: BTreeMap::new(),
        };
        let project = project_from_labels("demo", &observed);
        assert_eq!(project.name, "demo");
        assert_eq!(
            project.services.keys().collect::<Vec<_>>(),
            ["db", "web"],
            "only the project's services"
        );
        let web = &project.services["web"];
        assert_eq!(web.image.as_deref(), Some("nginx"));
        assert_eq!(
            web.stop_grace_period.as_ref().map(|d| d.as_std()),
            Some(std::time::Duration::from_secs(3))
        );
        assert_eq!(
            web.ports.len(),
            1,
            "the whole recorded definition reads back"
        );
        assert_eq!(project.services["db"], model::Service::default());
        assert_eq!(
            web.depends_on.keys().collect::<Vec<_>>(),
            ["db"],
            "a dependency on a service without containers is dropped"
        );
        assert_eq!(
            project.networks["default"].name.as_deref(),
            Some("demo_default")
        );
        assert_eq!(project.networks.len(), 1);
        assert_eq!(project.volumes["data"].name.as_deref(), Some("demo_data"));
    }

    #[test]
    fn a_project_without_containers_is_empty() {
        let project = project_from_labels("demo", &Observed::default());
        assert!(project.services.is_empty() && project.networks.is_empty());
    }
}
