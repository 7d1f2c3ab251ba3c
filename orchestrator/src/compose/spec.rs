//! What the backend needs to create one container of a service: its name, its labels
//! (Compose's identity labels and the recorded definition) and its resolved resources.

use std::collections::BTreeMap;

use compose_spec::model::Service;

use crate::compose::action::ContainerSpec;
use crate::compose::desired::Desired;
use crate::compose::files::files_of;
use crate::compose::labels;
use crate::compose::resources::Resources;

/// `container_name`, else `<project>-<service>-<n>`.
pub fn container_name(project: &str, name: &str, service: &Service, number: u32) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| labels::container_name(project, name, number))
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
    ContainerSpec {
        name: container_name(project, name, service, number),
        project: project.to_string(),
        service: name.to_string(),
        number,
        image: image.to_string(),
        definition: service.clone(),
        labels,
        networks: resources.networks_of(service),
        volumes: resources.volumes_of(service),
        carried_volumes,
        files: files_of(desired.project, &desired.environment, service),
    }
}
