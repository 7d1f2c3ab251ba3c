//! The networks, volumes and images a set of services needs, and the steps that make the
//! missing ones.

use std::collections::BTreeMap;

use compose_spec::model::{PullPolicy, Service, VolumeType};

use crate::compose::action::{Action, NetworkSpec, VolumeSpec};
use crate::compose::desired::Desired;
use crate::compose::error::PlanError;
use crate::compose::labels;
use crate::compose::observed::Observed;
use crate::compose::plan::{Plan, StepId};

/// A network or volume of the project: its engine name and, when missing, its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The engine name.
    pub name: String,
    /// Whether it must be created.
    pub missing: bool,
    /// The step creating it, once emitted.
    pub step: Option<StepId>,
}

/// The networks and named volumes used by `services`, by key, with what is missing.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Networks by key.
    pub networks: BTreeMap<String, Resource>,
    /// Named volumes by key.
    pub volumes: BTreeMap<String, Resource>,
}

impl Resources {
    /// Looks up what `services` use. External resources must exist.
    pub fn find<'s>(
        desired: &Desired<'_>,
        services: impl IntoIterator<Item = &'s Service>,
        observed: &Observed,
    ) -> Result<Self, PlanError> {
        let project = desired.project;
        let mut found = Self::default();
        for service in services {
            for key in service.networks.keys() {
                let Some(network) = project.networks.get(key) else {
                    continue;
                };
                let name = network.name.clone().unwrap_or_else(|| key.clone());
                let missing = observed.network(&name).is_none();
                if missing && network.external {
                    return Err(PlanError::ExternalNetworkMissing { name });
                }
                found.networks.entry(key.clone()).or_insert(Resource {
                    name,
                    missing,
                    step: None,
                });
            }
            for key in named_volumes(service) {
                let Some(volume) = project.volumes.get(key) else {
                    continue;
                };
                let name = volume.name.clone().unwrap_or_else(|| key.to_string());
                let missing = observed.volume(&name).is_none();
                if missing && volume.external {
                    return Err(PlanError::ExternalVolumeMissing { name });
                }
                found.volumes.entry(key.to_string()).or_insert(Resource {
                    name,
                    missing,
                    step: None,
                });
            }
        }
        Ok(found)
    }

    /// Adds a create step for every missing network and volume.
    pub fn emit(&mut self, desired: &Desired<'_>, plan: &mut Plan) {
        let project = desired.project;
        for (key, resource) in self.networks.iter_mut().filter(|(_, r)| r.missing) {
            let definition = project.networks.get(key).cloned().unwrap_or_default();
            let mut labels = definition.labels.clone();
            labels.insert(labels::PROJECT.into(), project.name.clone());
            labels.insert(labels::NETWORK.into(), key.clone());
            labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
            let spec = NetworkSpec {
                name: resource.name.clone(),
                key: key.clone(),
                definition,
                labels,
            };
            resource.step = Some(plan.add(Action::CreateNetwork(spec), "network missing", []));
        }
        for (key, resource) in self.volumes.iter_mut().filter(|(_, r)| r.missing) {
            let definition = project.volumes.get(key).cloned().unwrap_or_default();
            let mut labels = definition.labels.clone();
            labels.insert(labels::PROJECT.into(), project.name.clone());
            labels.insert(labels::VOLUME.into(), key.clone());
            labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
            let spec = VolumeSpec {
                name: resource.name.clone(),
                key: key.clone(),
                definition,
                labels,
            };
            resource.step = Some(plan.add(Action::CreateVolume(spec), "volume missing", []));
        }
    }

    /// Engine names of the service's networks, by key.
    pub fn networks_of(&self, service: &Service) -> BTreeMap<String, String> {
        service
            .networks
            .keys()
            .filter_map(|k| self.networks.get(k).map(|r| (k.clone(), r.name.clone())))
            .collect()
    }

    /// Engine names of the service's named volumes, by key.
    pub fn volumes_of(&self, service: &Service) -> BTreeMap<String, String> {
        named_volumes(service)
            .filter_map(|k| self.volumes.get(k).map(|r| (k.to_string(), r.name.clone())))
            .collect()
    }

    /// The service's named volume mounts: (path in the container, the volume's engine name).
    pub fn volume_mounts_of(&self, service: &Service) -> Vec<(String, String)> {
        service
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeType::Volume)
            .filter_map(|v| {
                let resource = self.volumes.get(v.source.as_deref()?)?;
                Some((v.target.clone(), resource.name.clone()))
            })
            .collect()
    }

    /// The create steps of the service's networks and volumes.
    pub fn steps_of(&self, service: &Service) -> Vec<StepId> {
        let networks = service
            .networks
            .keys()
            .filter_map(|k| self.networks.get(k)?.step);
        let volumes = named_volumes(service).filter_map(|k| self.volumes.get(k)?.step);
        networks.chain(volumes).collect()
    }
}

/// The keys of the named volumes a service mounts.
pub fn named_volumes(service: &Service) -> impl Iterator<Item = &str> {
    service
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeType::Volume)
        .filter_map(|v| v.source.as_deref())
}

/// The image reference of a service: `image`, else `<project>-<service>` (the name of a built
/// image).
pub fn image_of(project: &str, name: &str, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{project}-{name}"))
}

/// Whether a missing image may be pulled; the error says why not.
pub fn check_pullable(name: &str, image: &str, service: &Service) -> Result<(), PlanError> {
    let why = match (&service.pull_policy, &service.build) {
        (Some(PullPolicy::Never), _) => "pull_policy is never",
        (Some(PullPolicy::Build), _) | (None, Some(_)) => "the service must be built first",
        _ => return Ok(()),
    };
    Err(PlanError::ImageUnavailable {
        service: name.to_string(),
        image: image.to_string(),
        why: why.to_string(),
    })
}
