//! The networks, volumes and images a set of services needs, and the steps that make the
//! missing ones.

use std::collections::BTreeMap;

use compose_spec::model::{PullPolicy, Service, VolumeType};

use crate::compose::action::{Action, NetworkSpec, VolumeSpec};
use crate::compose::desired::Desired;
use crate::compose::error::PlanError;
use crate::compose::labels;
use crate::compose::observed::{MountSource, Observed, ObservedContainer};
use crate::compose::options::{DivergedVolumes, PlanOptions};
use crate::compose::plan::{Plan, StepId};

/// A network or volume of the project: its engine name and, when missing, its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The engine name.
    pub name: String,
    /// Whether it must be created.
    pub missing: bool,
    /// Whether it exists but its definition changed since it was created (its
    /// [`labels::CONFIG_HASH`] differs), so it is removed and created again.
    pub replaced: bool,
    /// The step creating it, once emitted.
    pub step: Option<StepId>,
    /// The step removing the old one when it is replaced, once emitted.
    pub removal: Option<StepId>,
}

/// The networks and named volumes used by `services`, by key, with what is missing.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Networks by key.
    pub networks: BTreeMap<String, Resource>,
    /// Named volumes by key.
    pub volumes: BTreeMap<String, Resource>,
}

/// Whether an existing object was made from another definition: it carries a config hash and
/// that hash is not the desired one (objects made before hashes were recorded never diverge,
/// as with Compose).
fn diverged(labels: &BTreeMap<String, String>, desired: &impl serde::Serialize) -> bool {
    labels
        .get(labels::CONFIG_HASH)
        .is_some_and(|hash| !hash.is_empty() && *hash != labels::resource_hash(desired))
}

impl Resources {
    /// Looks up what `services` use. External resources must exist. A project network whose
    /// definition changed is replaced (unless `--no-recreate`); a changed volume as
    /// `options.diverged_volumes` says.
    pub fn find<'s>(
        desired: &Desired<'_>,
        services: impl IntoIterator<Item = &'s Service>,
        observed: &Observed,
        options: &PlanOptions,
        plan: &mut Plan,
    ) -> Result<Self, PlanError> {
        let project = desired.project;
        let mut found = Self::default();
        for service in services {
            for key in service.networks.keys() {
                let Some(network) = project.networks.get(key) else {
                    continue;
                };
                if found.networks.contains_key(key) {
                    continue;
                }
                let name = network.name.clone().unwrap_or_else(|| key.clone());
                let existing = observed.network(&name);
                let missing = existing.is_none();
                if missing && network.external {
                    return Err(PlanError::ExternalNetworkMissing { name });
                }
                let mut replaced =
                    !network.external && existing.is_some_and(|n| diverged(&n.labels, network));
                if replaced && options.no_recreate {
                    plan.warn(format!(
                        "network {name} does not match its definition in the compose file; \
                         kept (--no-recreate)"
                    ));
                    replaced = false;
                }
                found.networks.insert(
                    key.clone(),
                    Resource {
                        name,
                        missing,
                        replaced,
                        step: None,
                        removal: None,
                    },
                );
            }
            for key in named_volumes(service) {
                let Some(volume) = project.volumes.get(key) else {
                    continue;
                };
                if found.volumes.contains_key(key) {
                    continue;
                }
                let name = volume.name.clone().unwrap_or_else(|| key.to_string());
                let existing = observed.volume(&name);
                let missing = existing.is_none();
                if missing && volume.external {
                    return Err(PlanError::ExternalVolumeMissing { name });
                }
                let mut replaced =
                    !volume.external && existing.is_some_and(|v| diverged(&v.labels, volume));
                if replaced && options.no_recreate {
                    plan.warn(format!(
                        "volume {name} does not match its definition in the compose file; \
                         kept (--no-recreate)"
                    ));
                    replaced = false;
                }
                if replaced {
                    match options.diverged_volumes {
                        DivergedVolumes::Recreate => {}
                        DivergedVolumes::Keep => {
                            plan.warn(format!(
                                "volume {name} does not match its definition in the compose \
                                 file; kept as it is"
                            ));
                            replaced = false;
                        }
                        DivergedVolumes::Refuse => return Err(PlanError::VolumeDiverged { name }),
                    }
                }
                found.volumes.insert(
                    key.to_string(),
                    Resource {
                        name,
                        missing,
                        replaced,
                        step: None,
                        removal: None,
                    },
                );
            }
        }
        Ok(found)
    }

    /// Adds a create step for every missing network and volume, and a removal followed by a
    /// create for every replaced one (the removal waits for its containers' removals:
    /// [`Resources::wait_for_removals`]).
    pub fn emit(&mut self, desired: &Desired<'_>, plan: &mut Plan) {
        let project = desired.project;
        for (key, resource) in self
            .networks
            .iter_mut()
            .filter(|(_, r)| r.missing || r.replaced)
        {
            let definition = project.networks.get(key).cloned().unwrap_or_default();
            let mut labels = definition.labels.clone();
            labels.insert(labels::PROJECT.into(), project.name.clone());
            labels.insert(labels::NETWORK.into(), key.clone());
            labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
            labels.insert(
                labels::CONFIG_HASH.into(),
                labels::resource_hash(&definition),
            );
            let spec = NetworkSpec {
                name: resource.name.clone(),
                key: key.clone(),
                definition,
                labels,
            };
            let (after, why) = replace_first(plan, resource, "network", |name| {
                Action::RemoveNetwork { name }
            });
            resource.step = Some(plan.add(Action::CreateNetwork(spec), why, after));
        }
        for (key, resource) in self
            .volumes
            .iter_mut()
            .filter(|(_, r)| r.missing || r.replaced)
        {
            let definition = project.volumes.get(key).cloned().unwrap_or_default();
            let mut labels = definition.labels.clone();
            labels.insert(labels::PROJECT.into(), project.name.clone());
            labels.insert(labels::VOLUME.into(), key.clone());
            labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
            labels.insert(
                labels::CONFIG_HASH.into(),
                labels::resource_hash(&definition),
            );
            let spec = VolumeSpec {
                name: resource.name.clone(),
                key: key.clone(),
                definition,
                labels,
            };
            let (after, why) = replace_first(plan, resource, "volume", |name| {
                Action::RemoveVolume { name }
            });
            resource.step = Some(plan.add(Action::CreateVolume(spec), why, after));
        }
    }

    /// Whether the service uses a network or volume that is replaced.
    pub fn replaces_any_of(&self, service: &Service) -> bool {
        let networks = service.networks.keys().filter_map(|k| self.networks.get(k));
        let volumes = named_volumes(service).filter_map(|k| self.volumes.get(k));
        networks.chain(volumes).any(|r| r.replaced)
    }

    /// Why the service's containers are recreated for replaced networks and volumes, one
    /// reason each.
    pub fn replaced_reasons(&self, service: &Service) -> Vec<String> {
        let networks = service
            .networks
            .keys()
            .filter_map(|k| self.networks.get(k))
            .filter(|r| r.replaced)
            .map(|r| format!("network {} changed", r.name));
        let volumes = named_volumes(service)
            .filter_map(|k| self.volumes.get(k))
            .filter(|r| r.replaced)
            .map(|r| format!("volume {} changed", r.name));
        let mut reasons: Vec<String> = networks.chain(volumes).collect();
        reasons.dedup();
        reasons
    }

    /// Makes the removal of every replaced network and volume wait for the removal of each
    /// container using it (`removals`: container name → its removal step). Fails when a
    /// container using one is not removed by this plan.
    pub fn wait_for_removals(
        &self,
        observed: &Observed,
        removals: &BTreeMap<String, StepId>,
        plan: &mut Plan,
    ) -> Result<(), PlanError> {
        let replaced = |map: &'_ BTreeMap<String, Resource>| -> Vec<(String, StepId)> {
            map.values()
                .filter(|r| r.replaced)
                .filter_map(|r| Some((r.name.clone(), r.removal?)))
                .collect()
        };
        for (name, removal) in replaced(&self.networks) {
            let users = observed
                .containers
                .iter()
                .filter(|c| c.networks.contains(&name));
            wait_for_users("network", &name, removal, users, removals, plan)?;
        }
        for (name, removal) in replaced(&self.volumes) {
            let users = observed.containers.iter().filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| matches!(&m.source, MountSource::Volume { name: v, .. } if *v == name))
            });
            wait_for_users("volume", &name, removal, users, removals, plan)?;
        }
        Ok(())
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

/// For a replaced resource, the removal step (recorded in `resource`); returns what its create
/// waits for and why it is made.
fn replace_first(
    plan: &mut Plan,
    resource: &mut Resource,
    kind: &str,
    removal: impl FnOnce(String) -> Action,
) -> (Vec<StepId>, String) {
    if !resource.replaced {
        return (Vec::new(), format!("{kind} missing"));
    }
    let why = format!("{kind} definition changed");
    let step = plan.add(removal(resource.name.clone()), why.clone(), []);
    resource.removal = Some(step);
    (vec![step], why)
}

/// Makes `removal` wait for the removal of each of `users`; a user this plan does not remove
/// is an error.
fn wait_for_users<'o>(
    kind: &'static str,
    name: &str,
    removal: StepId,
    users: impl Iterator<Item = &'o ObservedContainer>,
    removals: &BTreeMap<String, StepId>,
    plan: &mut Plan,
) -> Result<(), PlanError> {
    for user in users {
        let Some(step) = removals.get(&user.name) else {
            return Err(PlanError::ReplacedResourceInUse {
                kind,
                name: name.to_string(),
                container: user.name.clone(),
            });
        };
        plan.depend(removal, *step);
    }
    Ok(())
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
