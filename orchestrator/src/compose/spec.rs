//! What the backend needs to create one container of a service: its name, its labels
//! (Compose's identity labels and the recorded definition) and its resolved resources.

use std::collections::BTreeMap;

use compose_spec::model::{Project, Service};

use crate::compose::action::ContainerSpec;
use crate::compose::desired::Desired;
use crate::compose::files::files_of;
use crate::compose::labels;
use crate::compose::resources::Resources;

/// `container_name`, else `<project>-<service>-<n>` (`separator` between the parts).
pub fn container_name(
    project: &str,
    name: &str,
    service: &Service,
    number: u32,
    separator: char,
) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| labels::container_name_joined(project, name, number, separator))
}

/// What the backend needs to create container `number` of service `name`.
pub fn container_spec(
    desired: &Desired<'_>,
    resources: &Resources,
    name: &str,
    service: &Service,
    image: &str,
    number: u32,
    carried_volumes: BTreeMap<String, String>,
) -> ContainerSpec {
    let project = desired.project.name.as_str();
    let mut labels = service.labels.clone();
    let own = [
        (labels::PROJECT, project.to_string()),
        (labels::SERVICE, name.to_string()),
        (labels::CONTAINER_NUMBER, number.to_string()),
        (labels::ONEOFF, labels::FALSE.to_string()),
        (
            labels::CONFIG_HASH,
            desired.hashes.get(name).cloned().unwrap_or_default(),
        ),
        (labels::WORKING_DIR, desired.working_dir.clone()),
        (labels::CONFIG_FILES, desired.config_files.join(",")),
        (labels::DEPENDS_ON, labels::depends_on_label(service)),
        (labels::VERSION, env!("CARGO_PKG_VERSION").to_string()),
        (
            labels::SERVICE_CONFIG,
            labels::service_config(service).to_string(),
        ),
    ];
    for (key, value) in own {
        labels.insert(key.to_string(), value);
    }
    let mut definition = service.clone();
    add_link_aliases(desired.project, name, &mut definition);
    resolve_shared(desired.project, desired.separator, &mut definition);
    ContainerSpec {
        name: container_name(project, name, service, number, desired.separator),
        project: project.to_string(),
        service: name.to_string(),
        number,
        image: image.to_string(),
        definition,
        labels,
        networks: resources.networks_of(service),
        volumes: resources.volumes_of(service),
        carried_volumes,
        files: files_of(desired.project, &desired.environment, service),
    }
}

/// The services whose container this one shares (`network_mode: service:X`, `ipc: service:X`,
/// `volumes_from: [X]`) as `container:<name>`, naming X's first container (its
/// `container_name` when set), so that the backend finds it.
fn resolve_shared(project: &Project, separator: char, definition: &mut Service) {
    let container_of = |service: &str| {
        let first = project
            .services
            .get(service)
            .map(|s| container_name(&project.name, service, s, 1, separator))
            .unwrap_or_else(|| labels::container_name_joined(&project.name, service, 1, separator));
        format!("container:{first}")
    };
    for mode in [&mut definition.network_mode, &mut definition.ipc] {
        if let Some(service) = mode.as_deref().and_then(|m| m.strip_prefix("service:")) {
            *mode = Some(container_of(service));
        }
    }
    for from in &mut definition.volumes_from {
        if from.starts_with("container:") {
            continue;
        }
        let (service, access) = match from.split_once(':') {
            Some((service, access)) => (service, Some(access)),
            None => (from.as_str(), None),
        };
        let mut resolved = container_of(service);
        if let Some(access) = access {
            resolved = format!("{resolved}:{access}");
        }
        *from = resolved;
    }
}

/// The aliases other services give service `name` in their `links:` (`db:database`), added to
/// its DNS names on each network it shares with them, so that `database` resolves to it
/// there (Docker scopes a link alias to the linking container; here every container of those
/// networks sees it).
fn add_link_aliases(project: &Project, name: &str, definition: &mut Service) {
    for other in project.services.values() {
        for link in &other.links {
            let Some((target, alias)) = link.split_once(':') else {
                continue;
            };
            if target != name || alias == name {
                continue;
            }
            for (key, attachment) in definition.networks.iter_mut() {
                if !other.networks.contains_key(key) {
                    continue;
                }
                let aliases = &mut attachment.get_or_insert_with(Default::default).aliases;
                if !aliases.iter().any(|a| a == alias) {
                    aliases.push(alias.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_services_become_their_first_container() {
        let project = compose_spec::model::from_json(&serde_json::json!({
            "name": "demo",
            "services": {
                "app": {"image": "x", "network_mode": "service:db", "ipc": "service:named",
                        "volumes_from": ["db:ro", "named", "container:other:rw"]},
                "db": {"image": "x"},
                "named": {"image": "x", "container_name": "fixed"}
            }
        }))
        .unwrap();
        let mut app = project.services["app"].clone();
        resolve_shared(&project, '-', &mut app);
        assert_eq!(app.network_mode.as_deref(), Some("container:demo-db-1"));
        assert_eq!(app.ipc.as_deref(), Some("container:fixed"));
        assert_eq!(
            app.volumes_from,
            [
                "container:demo-db-1:ro",
                "container:fixed",
                "container:other:rw"
            ]
        );
    }

    #[test]
    fn a_link_alias_names_the_linked_service_on_the_shared_networks() {
        let project = compose_spec::model::from_json(&serde_json::json!({
            "services": {
                "web": {"image": "x", "links": ["db:database", "cache"],
                        "networks": {"front": null, "back": null}},
                "db": {"image": "x", "networks": {"back": {"aliases": ["store"]}, "admin": null}},
                "cache": {"image": "x", "networks": {"back": null}}
            },
            "networks": {"front": {}, "back": {}, "admin": {}}
        }))
        .unwrap();
        let aliases = |service: &str| {
            let mut definition = project.services[service].clone();
            add_link_aliases(&project, service, &mut definition);
            definition
                .networks
                .iter()
                .map(|(k, n)| (k.clone(), n.clone().unwrap_or_default().aliases))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            aliases("db"),
            [
                ("admin".to_string(), vec![]),
                (
                    "back".to_string(),
                    vec!["store".to_string(), "database".to_string()]
                ),
            ]
        );
        assert_eq!(aliases("cache"), [("back".to_string(), vec![])]);
    }
}
