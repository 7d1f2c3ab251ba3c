//! Semantic checks the JSON schema cannot express: references between services and resources,
//! dependency cycles, and options that cannot be combined. The first problem (services in name
//! order) is reported, pointing at the line of the offending key.
//!
//! - [`graph`]: service-to-service needs (`depends_on`, `links`, `volumes_from`, `service:`
//!   namespaces), undefined services and cycles, each pointing at the key that creates the need;
//! - [`options`]: options of one service that contradict each other (mounts, ulimits,
//!   healthcheck, build, device requests);
//! - [`resources`]: top-level networks, volumes, secrets and configs (external ones with local
//!   settings, secrets and configs without a source).

mod graph;
mod options;
mod resources;

#[cfg(test)]
mod tests;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{DeployMode, Project, Service, VolumeType};
use crate::path::KeyPath;
use crate::yaml::Node;

/// The most containers one service may ask for (`scale`, `deploy.replicas`, `--scale`).
///
/// A compose project runs on one host, where a Linux bridge holds at most 1024 ports
/// (`BR_MAX_PORTS`), so a service on a bridge network cannot have more containers than that
/// anyway; the bound also keeps a plan (one step per container) small. Docker Compose has no
/// such limit: it tries to create the containers one by one until the engine fails.
pub const MAX_SCALE: u64 = 1024;

/// Checks a normalized project; `document` is the merged tree it was read from (for lines).
pub(crate) fn validate(project: &Project, document: &Node) -> Result<()> {
    let check = Checker { project, document };
    resources::check(&check)?;
    // Two services with one `container_name` are refused by the planner when both are brought
    // up, not here: as in Compose, each may still run alone (`up SERVICE`).
    for (name, service) in &project.services {
        check.service(name, service)?;
        options::check(&check, name, service)?;
        graph::check_references(&check, name, service)?;
    }
    graph::check_cycles(&check)
}

fn service_path(name: &str) -> KeyPath {
    KeyPath::root().key("services").key(name)
}

/// The project under check and the document its lines come from.
struct Checker<'a> {
    project: &'a Project,
    document: &'a Node,
}

impl Checker<'_> {
    fn error(&self, kind: ErrorKind, path: KeyPath, message: impl Into<String>) -> Error {
        let mark = self.document.closest_mark(&path).clone();
        Error::invalid(kind, Some(mark), path, message)
    }

    fn undefined(&self, path: KeyPath, service: &str, what: &str, name: &str) -> Error {
        self.error(
            ErrorKind::UndefinedReference,
            path,
            format!(
                "service \"{service}\" refers to undefined {what} \"{name}\": define it under \
                 the top-level {what}s key"
            ),
        )
    }

    fn service(&self, name: &str, service: &Service) -> Result<()> {
        let path = service_path(name);
        if service.image.is_none() && service.build.is_none() && service.provider.is_none() {
            return Err(self.error(
                ErrorKind::InvalidValue,
                path,
                format!(
                    "service \"{name}\" has neither an image nor a build context specified: \
                     set image or build"
                ),
            ));
        }
        if service.network_mode.is_some() && self.document.at(&path.key("networks")).is_some() {
            return Err(self.error(
                ErrorKind::Conflict,
                path.key("network_mode"),
                format!("service \"{name}\" declares mutually exclusive network_mode and networks"),
            ));
        }
        for network in service.networks.keys() {
            if !self.project.networks.contains_key(network) {
                return Err(self.undefined(
                    path.key("networks").key(network),
                    name,
                    "network",
                    network,
                ));
            }
        }
        for (i, volume) in service.volumes.iter().enumerate() {
            let at = path.key("volumes").index(i);
            if volume.kind == VolumeType::Volume
                && let Some(source) = volume.source.as_deref()
                && !self.project.volumes.contains_key(source)
            {
                return Err(self.undefined(at, name, "volume", source));
            }
            let needs_absolute = matches!(
                volume.kind,
                VolumeType::Bind | VolumeType::Volume | VolumeType::Tmpfs
            );
            if needs_absolute && !volume.target.starts_with('/') {
                return Err(self.error(
                    ErrorKind::InvalidValue,
                    at,
                    format!(
                        "mount target \"{}\" must be an absolute path",
                        volume.target
                    ),
                ));
            }
        }
        for (i, secret) in service.secrets.iter().enumerate() {
            if !self.project.secrets.contains_key(&secret.source) {
                return Err(self.undefined(
                    path.key("secrets").index(i),
                    name,
                    "secret",
                    &secret.source,
                ));
            }
        }
        if let Some(build) = &service.build {
            for (i, secret) in build.secrets.iter().enumerate() {
                if !self.project.secrets.contains_key(&secret.source) {
                    return Err(self.undefined(
                        path.key("build").key("secrets").index(i),
                        name,
                        "secret",
                        &secret.source,
                    ));
                }
            }
        }
        for (i, config) in service.configs.iter().enumerate() {
            if !self.project.configs.contains_key(&config.source) {
                return Err(self.undefined(
                    path.key("configs").index(i),
                    name,
                    "config",
                    &config.source,
                ));
            }
        }
        let scale = service.scale.unwrap_or(1);
        if scale > MAX_SCALE {
            let key = match self.document.at(&path.clone().key("scale")) {
                Some(_) => path.clone().key("scale"),
                None => path.clone().key("deploy").key("replicas"),
            };
            return Err(self.error(
                ErrorKind::InvalidValue,
                key,
                format!(
                    "{scale} containers is more than the {MAX_SCALE} a service may have on one \
                     host"
                ),
            ));
        }
        if let Some(container_name) = &service.container_name
            && scale > 1
        {
            return Err(self.error(
                ErrorKind::Conflict,
                path.key("container_name"),
                format!(
                    "container_name \"{container_name}\" cannot be used with scale {scale}: \
                     container names must be unique"
                ),
            ));
        }
        if let Some(deploy) = &service.deploy
            && deploy.mode == Some(DeployMode::Global)
            && deploy.replicas.is_some()
        {
            return Err(self.error(
                ErrorKind::Conflict,
                path.key("deploy").key("replicas"),
                "deploy.replicas cannot be used with deploy.mode global: a global service runs \
                 one task per node",
            ));
        }
        Ok(())
    }
}
