//! Semantic checks the JSON schema cannot express: references between services and resources,
//! dependency cycles, and options that cannot be combined. The first problem (services in name
//! order) is reported, pointing at the line of the offending key.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{DeployMode, Project, Service, VolumeType};
use crate::path::KeyPath;
use crate::yaml::Node;

/// Checks a normalized project; `document` is the merged tree it was read from (for lines).
pub fn validate(project: &Project, document: &Node) -> Result<()> {
    let check = Checker { project, document };
    let mut container_names: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, service) in &project.services {
        check.service(name, service)?;
        if let Some(container_name) = service.container_name.as_deref()
            && let Some(other) = container_names.insert(container_name, name)
        {
            return Err(check.error(
                ErrorKind::Conflict,
                service_path(name).key("container_name"),
                format!(
                    "container name \"{container_name}\" is already used by service \"{other}\""
                ),
            ));
        }
    }
    check.cycles()
}

fn service_path(name: &str) -> KeyPath {
    KeyPath::root().key("services").key(name)
}

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
            format!("service \"{service}\" refers to undefined {what} \"{name}\""),
        )
    }

    fn service(&self, name: &str, service: &Service) -> Result<()> {
        let path = service_path(name);
        if service.image.is_none() && service.build.is_none() {
            return Err(self.error(
                ErrorKind::InvalidValue,
                path,
                format!("service \"{name}\" has neither an image nor a build context specified"),
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
        for (dependency, spec) in &service.depends_on {
            // A dependency with `required: false` may be missing (or disabled by a profile).
            if spec.required && !self.project.services.contains_key(dependency) {
                return Err(self.error(
                    ErrorKind::UndefinedReference,
                    path.key("depends_on").key(dependency),
                    format!("service \"{name}\" depends on undefined service \"{dependency}\""),
                ));
            }
        }
        let scale = service.scale.unwrap_or(1);
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
                "deploy.replicas cannot be used with deploy.mode global",
            ));
        }
        Ok(())
    }

    /// Dependency cycles over depends_on (which already holds the implicit dependencies),
    /// printed `a -> b -> a`.
    fn cycles(&self) -> Result<()> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        for start in self.project.services.keys() {
            let mut stack: Vec<&str> = Vec::new();
            self.visit(start, &mut stack, &mut done)?;
        }
        Ok(())
    }

    fn visit<'p>(
        &'p self,
        name: &'p str,
        stack: &mut Vec<&'p str>,
        done: &mut BTreeSet<&'p str>,
    ) -> Result<()> {
        if done.contains(name) {
            return Ok(());
        }
        if let Some(pos) = stack.iter().position(|s| *s == name) {
            let mut cycle: Vec<&str> = stack[pos..].to_vec();
            cycle.push(name);
            let first = cycle[0];
            let second = cycle.get(1).copied().unwrap_or(first);
            return Err(self.error(
                ErrorKind::Cycle,
                service_path(first).key("depends_on").key(second),
                format!("dependency cycle detected: {}", cycle.join(" -> ")),
            ));
        }
        let Some(service) = self.project.services.get(name) else {
            return Ok(());
        };
        stack.push(name);
        for dependency in service.depends_on.keys() {
            self.visit(dependency, stack, done)?;
        }
        stack.pop();
        done.insert(name);
        Ok(())
    }
}
