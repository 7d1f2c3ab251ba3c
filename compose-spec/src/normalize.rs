//! One canonical form for a typed project: what `config` prints and what the config hash covers.
//!
//! - `env_file` contents merged under `environment` (explicit `environment` wins), and variables
//!   listed without a value taken from the environment (dropped when it does not set them);
//! - the implicit `default` network attached to services that name no network and defined at the
//!   top level when used;
//! - resource names: `<project>_<key>` unless `name` is given or the resource is external;
//! - implicit dependencies from `links`, `volumes_from` and `service:` namespace modes added to
//!   `depends_on`;
//! - `deploy.replicas` and `scale` reconciled into `scale`;
//! - `profiles` dropped from the enabled services: the selection is made, and the canonical
//!   form must load to the same project without `--profile` or service arguments (the disabled
//!   services keep theirs).

use std::collections::BTreeMap;
use std::path::Path;

use crate::dotenv;
use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{DependsOn, DependsOnCondition, Network, Project, Service};
use crate::path::KeyPath;
use crate::yaml::Node;

/// What normalization needs to know about the project's surroundings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The project directory.
    pub project_directory: &'a Path,
    /// The environment the project was interpolated with.
    pub environment: &'a Environment,
    /// The merged document the project was read from, to point errors at lines.
    pub document: &'a Node,
}

impl Context<'_> {
    fn error(&self, kind: ErrorKind, path: KeyPath, message: impl Into<String>) -> Error {
        let mark = self.document.closest_mark(&path).clone();
        Error::invalid(kind, Some(mark), path, message)
    }
}

/// The name of the network services join when they name none.
pub(crate) const DEFAULT_NETWORK: &str = "default";

/// Brings `project` into canonical form. A service whose `env_file` cannot be read does not
/// stop the project from loading: its error is returned by service name, for the commands
/// that act on that service to report (as Compose does, so that `up -d other` still works).
pub(crate) fn normalize(
    project: &mut Project,
    context: &Context<'_>,
) -> Result<BTreeMap<String, String>> {
    let mut env_file_errors = BTreeMap::new();
    for (name, service) in project.services.iter_mut() {
        if let Err(err) = resolve_environment(name, service, context) {
            env_file_errors.insert(name.clone(), err.to_string());
        }
        normalize_service(name, service, context)?;
        service.profiles.clear();
    }
    for (name, service) in project.disabled_services.iter_mut() {
        if let Err(err) = resolve_environment(name, service, context) {
            env_file_errors.insert(name.clone(), err.to_string());
        }
        normalize_service(name, service, context)?;
    }
    let uses_default = project
        .services
        .values()
        .any(|s| s.networks.contains_key(DEFAULT_NETWORK));
    if uses_default && !project.networks.contains_key(DEFAULT_NETWORK) {
        project
            .networks
            .insert(DEFAULT_NETWORK.to_string(), Network::default());
    }
    let prefix = project.name.clone();
    for (key, network) in project.networks.iter_mut() {
        network.name = Some(resource_name(
            &prefix,
            key,
            network.name.take(),
            network.external,
        ));
    }
    for (key, volume) in project.volumes.iter_mut() {
        volume.name = Some(resource_name(
            &prefix,
            key,
            volume.name.take(),
            volume.external,
        ));
    }
    for (key, secret) in project.secrets.iter_mut() {
        secret.name = Some(resource_name(
            &prefix,
            key,
            secret.name.take(),
            secret.external,
        ));
    }
    for (key, config) in project.configs.iter_mut() {
        config.name = Some(resource_name(
            &prefix,
            key,
            config.name.take(),
            config.external,
        ));
    }
    Ok(env_file_errors)
}

/// `name` when given; the key itself for external resources; otherwise `<project>_<key>`.
fn resource_name(project: &str, key: &str, name: Option<String>, external: bool) -> String {
    match name {
        Some(name) => name,
        None if external => key.to_string(),
        None => format!("{project}_{key}"),
    }
}

fn normalize_service(name: &str, service: &mut Service, context: &Context<'_>) -> Result<()> {
    if service.networks.is_empty() && service.network_mode.is_none() {
        service.networks.insert(DEFAULT_NETWORK.to_string(), None);
    }
    add_implicit_dependencies(service);
    if let Some(replicas) = service.deploy.as_ref().and_then(|d| d.replicas) {
        match service.scale {
            Some(scale) if scale != replicas => {
                return Err(context.error(
                    ErrorKind::Conflict,
                    KeyPath::root().key("services").key(name).key("scale"),
                    format!("scale ({scale}) and deploy.replicas ({replicas}) disagree"),
                ));
            }
            _ => service.scale = Some(replicas),
        }
    }
    Ok(())
}

/// env_file values under `environment`; bare variables resolved from the environment.
fn resolve_environment(name: &str, service: &mut Service, context: &Context<'_>) -> Result<()> {
    let lookup = |k: &str| context.environment.get(k).map(str::to_string);
    let mut merged: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (i, env_file) in service.env_file.iter().enumerate() {
        let path = crate::paths::resolve(
            &env_file.path,
            context.project_directory,
            context.environment,
        );
        if !path.exists() {
            if env_file.required {
                return Err(context.error(
                    ErrorKind::EnvFile,
                    KeyPath::root()
                        .key("services")
                        .key(name)
                        .key("env_file")
                        .index(i),
                    format!("env file {} not found", path.display()),
                ));
            }
            continue;
        }
        let format_name = env_file.format.as_deref().unwrap_or("");
        let format = dotenv::Format::from_name(format_name).ok_or_else(|| {
            context.error(
                ErrorKind::EnvFile,
                KeyPath::root()
                    .key("services")
                    .key(name)
                    .key("env_file")
                    .index(i)
                    .key("format"),
                format!("unsupported env_file format \"{format_name}\": expected dotenv or raw"),
            )
        })?;
        let values = dotenv::read_format(&path, format, &lookup).map_err(|e| {
            let key = KeyPath::root()
                .key("services")
                .key(name)
                .key("env_file")
                .index(i);
            let mark = context.document.closest_mark(&key).clone();
            e.reading(ErrorKind::EnvFile, "env file", Some(mark), key)
        })?;
        for (k, v) in values {
            merged.insert(k, Some(v));
        }
    }
    for (k, v) in std::mem::take(&mut service.environment) {
        merged.insert(k, v);
    }
    service.environment = merged
        .into_iter()
        .filter_map(|(k, v)| match v {
            Some(v) => Some((k, Some(v))),
            None => context
                .environment
                .get(&k)
                .map(|v| (k, Some(v.to_string()))),
        })
        .collect();
    Ok(())
}

/// The service named by a `service:NAME` namespace mode.
pub(crate) fn service_reference(mode: Option<&str>) -> Option<&str> {
    mode.and_then(|m| m.strip_prefix("service:"))
}

/// The services a service needs besides its explicit `depends_on`.
pub(crate) fn implicit_dependencies(service: &Service) -> Vec<(String, bool)> {
    let mut deps = Vec::new();
    for link in &service.links {
        let target = link.split(':').next().unwrap_or(link);
        deps.push((target.to_string(), true));
    }
    for mode in [&service.network_mode, &service.ipc, &service.pid] {
        if let Some(target) = service_reference(mode.as_deref()) {
            deps.push((target.to_string(), true));
        }
    }
    for from in &service.volumes_from {
        if from.starts_with("container:") {
            continue;
        }
        let target = from.split(':').next().unwrap_or(from);
        deps.push((target.to_string(), false));
    }
    deps
}

fn add_implicit_dependencies(service: &mut Service) {
    for (target, restart) in implicit_dependencies(service) {
        service
            .depends_on
            .entry(target)
            .or_insert_with(|| DependsOn {
                condition: DependsOnCondition::ServiceStarted,
                restart,
                required: true,
                extensions: Default::default(),
            });
    }
}
