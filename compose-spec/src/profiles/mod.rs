//! Profiles: which services of the merged document are enabled.
//!
//! A service without `profiles` is always enabled. A service with profiles is enabled when one
//! of them is active (`--profile`, `COMPOSE_PROFILES`; `*` activates every profile). When
//! services are named on the command line, the selection is exactly those services and every
//! service they need, transitively (`depends_on`, `links`, `volumes_from`,
//! `network_mode: service:x`, `ipc`, `pid`, `uts`, `cgroup`), whatever their profiles; every
//! other service is disabled, as Compose does for `config web`. A command that acts on the
//! services it names (`up web`, `run web`) enables them and what they need in addition to the
//! services of the active profiles ([`select_enabling`]).
//!
//! As in Compose, an enabled service that needs a disabled service is an error, unless the need
//! is a `depends_on` entry with `required: false`: that entry is kept and simply has nothing to
//! wait for.

mod deps;

#[cfg(test)]
mod tests;

use indexmap::IndexSet;

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::{Map, Node};

/// Removes from `doc.services` every service that is not enabled, and returns the removed
/// services in document order. With no `requested` services, the `active` profiles decide; with
/// some, the requested services and those they need are enabled, and nothing else.
///
/// Errors: a requested service that does not exist (`no such service: foo`), or an enabled
/// service that needs a disabled one (see the module documentation).
#[cfg(test)]
pub(crate) fn select(doc: &mut Node, active: &[String], requested: &[String]) -> Result<Map> {
    select_enabling(doc, active, requested, &[])
}

/// [`select`], with the `enabled` services (named on the command line of a command that acts
/// on them: `up web`, `run web`) and those they need enabled too, whatever their profiles, in
/// addition to what `active` and `requested` enable — as Compose enables a service named on
/// its command line.
///
/// Errors: those of [`select`], and an `enabled` service that does not exist.
pub(crate) fn select_enabling(
    doc: &mut Node,
    active: &[String],
    requested: &[String],
    enabled: &[String],
) -> Result<Map> {
    let services = doc
        .as_map_mut()
        .and_then(|m| m.get_mut("services"))
        .and_then(Node::as_map_mut);
    let Some(services) = services else {
        // No services at all (`services:` absent or empty): nothing to select from.
        return match requested.iter().chain(enabled).next() {
            Some(name) => Err(no_such_service(name)),
            None => Ok(Map::default()),
        };
    };
    let enabled = enabled_services(services, active, requested, enabled)?;
    check_needs(services, &enabled)?;

    let mut disabled = Map::default();
    for name in services.keys().cloned().collect::<Vec<_>>() {
        if !enabled.contains(&name)
            && let Some(service) = services.shift_remove(&name)
        {
            disabled.insert(name, service);
        }
    }
    Ok(disabled)
}

/// The names of the enabled services.
fn enabled_services(
    services: &Map,
    active: &[String],
    requested: &[String],
    named: &[String],
) -> Result<IndexSet<String>> {
    let mut enabled: IndexSet<String> = services
        .iter()
        .filter(|(_, service)| requested.is_empty() && profiles_active(service, active))
        .map(|(name, _)| name.clone())
        .collect();
    for name in requested.iter().chain(named) {
        if !services.contains_key(name) {
            return Err(no_such_service(name));
        }
        let mut pending = vec![name.clone()];
        let mut seen = IndexSet::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(service) = services.get(&name) else {
                // A reference to an undefined service is reported by semantic validation.
                continue;
            };
            let path = services_path().key(&name);
            pending.extend(deps::of(service, &path).into_iter().map(|d| d.name));
            enabled.insert(name);
        }
    }
    Ok(enabled)
}

/// Fails when an enabled service needs a service that exists but is disabled.
fn check_needs(services: &Map, enabled: &IndexSet<String>) -> Result<()> {
    for (name, service) in services.iter().filter(|(name, _)| enabled.contains(*name)) {
        for dependency in deps::of(service, &services_path().key(name)) {
            let Some(needed) = services.get(&dependency.name) else {
                continue;
            };
            if enabled.contains(&dependency.name) || !dependency.required {
                continue;
            }
            let profiles = profiles_of(needed).join(", ");
            return Err(Error::invalid(
                ErrorKind::UndefinedReference,
                Some(dependency.mark),
                dependency.path,
                format!(
                    "service {name:?} needs service {:?}, which is disabled because none of its \
                     profiles ({profiles}) is active",
                    dependency.name,
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `service` has no profiles or one of them is active.
fn profiles_active(service: &Node, active: &[String]) -> bool {
    let profiles = profiles_of(service);
    profiles.is_empty()
        || active
            .iter()
            .any(|a| a == "*" || profiles.contains(&a.as_str()))
}

/// The profiles a service declares.
fn profiles_of(service: &Node) -> Vec<&str> {
    service
        .get("profiles")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .collect()
}

fn services_path() -> KeyPath {
    KeyPath::root().key("services")
}

fn no_such_service(name: &str) -> Error {
    Error::invalid(
        ErrorKind::UndefinedReference,
        None,
        KeyPath::root(),
        format!("no such service: {name}"),
    )
}
