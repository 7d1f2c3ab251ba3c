//! Options of one service that are well-formed on their own but contradict each other: mount
//! types and their options, ulimits, healthcheck, build and device requests.

use std::collections::BTreeMap;

use super::{Checker, service_path};
use crate::error::{ErrorKind, Result};
use crate::model::{DeviceRequest, Service, Ulimit, VolumeType};
use crate::path::KeyPath;
use crate::yaml::Value;

/// The healthcheck test forms the engine knows.
const TEST_KINDS: [&str; 3] = ["NONE", "CMD", "CMD-SHELL"];

/// Checks the options of service `name`.
pub(super) fn check(check: &Checker<'_>, name: &str, service: &Service) -> Result<()> {
    let path = service_path(name);
    mounts(check, &path, service)?;
    ulimits(check, &path.key("ulimits"), &service.ulimits)?;
    if let Some(build) = &service.build {
        let build_path = path.key("build");
        if build.dockerfile.is_some() && build.dockerfile_inline.is_some() {
            return Err(check.error(
                ErrorKind::Conflict,
                build_path.key("dockerfile_inline"),
                "dockerfile and dockerfile_inline cannot be set together: use one of them",
            ));
        }
        ulimits(check, &build_path.key("ulimits"), &build.ulimits)?;
    }
    healthcheck(check, &path, service)?;
    device_requests(check, &path.key("gpus"), &service.gpus)?;
    if let Some(devices) = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.reservations.as_ref())
        .map(|r| &r.devices)
    {
        let at = path
            .key("deploy")
            .key("resources")
            .key("reservations")
            .key("devices");
        device_requests(check, &at, devices)?;
    }
    Ok(())
}

/// Each mount has what its type needs and only the options of its type.
fn mounts(check: &Checker<'_>, path: &KeyPath, service: &Service) -> Result<()> {
    for (i, mount) in service.volumes.iter().enumerate() {
        let at = path.key("volumes").index(i);
        let kind = mount.kind;
        let has_source = mount.source.as_deref().is_some_and(|s| !s.is_empty());
        if kind == VolumeType::Bind && !has_source {
            return Err(check.error(
                ErrorKind::InvalidValue,
                at,
                "a bind mount needs a source: the host path to mount",
            ));
        }
        if kind == VolumeType::Tmpfs && has_source {
            return Err(check.error(
                ErrorKind::Conflict,
                at.key("source"),
                "a tmpfs mount cannot have a source: remove source or use type bind",
            ));
        }
        let options = [
            ("bind", mount.bind.is_some(), VolumeType::Bind),
            ("volume", mount.volume.is_some(), VolumeType::Volume),
            ("tmpfs", mount.tmpfs.is_some(), VolumeType::Tmpfs),
            ("image", mount.image.is_some(), VolumeType::Image),
        ];
        for (key, set, owner) in options {
            // Only options written by the user count (the short syntax may imply some).
            let written = check.document.at(&at.key(key)).is_some();
            if set && written && kind != owner {
                return Err(check.error(
                    ErrorKind::Conflict,
                    at.key(key),
                    format!("{key} options only apply to mounts of type {key}"),
                ));
            }
        }
    }
    Ok(())
}

/// A soft limit above its hard limit is refused by the kernel.
fn ulimits(check: &Checker<'_>, path: &KeyPath, ulimits: &BTreeMap<String, Ulimit>) -> Result<()> {
    for (name, limit) in ulimits {
        if limit.soft > limit.hard {
            return Err(check.error(
                ErrorKind::InvalidValue,
                path.key(name.as_str()),
                format!(
                    "soft limit {} is above the hard limit {}: soft must not exceed hard",
                    limit.soft, limit.hard
                ),
            ));
        }
    }
    Ok(())
}

/// `disable: true` with a test, and tests the engine does not know.
fn healthcheck(check: &Checker<'_>, path: &KeyPath, service: &Service) -> Result<()> {
    let at = path.key("healthcheck");
    let written = check.document.at(&at);
    let disabled = written
        .and_then(|n| n.get("disable"))
        .is_some_and(|n| matches!(n.value, Value::Bool(true)));
    if disabled && written.and_then(|n| n.get("test")).is_some() {
        return Err(check.error(
            ErrorKind::Conflict,
            at.key("disable"),
            "healthcheck.disable and healthcheck.test cannot be set together: \
             remove test, or use test: [\"NONE\"] alone",
        ));
    }
    let kind = service
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .and_then(|t| t.first());
    if let Some(kind) = kind
        && !TEST_KINDS.contains(&kind.as_str())
    {
        return Err(check.error(
            ErrorKind::InvalidValue,
            at.key("test"),
            format!(
                "healthcheck test starts with \"{kind}\": expected \"CMD\", \"CMD-SHELL\" or \
                 \"NONE\" as the first item, or a string (run with the shell)"
            ),
        ));
    }
    Ok(())
}

/// `count` and `device_ids` select devices in two exclusive ways.
fn device_requests(check: &Checker<'_>, path: &KeyPath, requests: &[DeviceRequest]) -> Result<()> {
    for (i, request) in requests.iter().enumerate() {
        if request.count.is_some() && !request.device_ids.is_empty() {
            return Err(check.error(
                ErrorKind::Conflict,
                path.index(i).key("device_ids"),
                "count and device_ids cannot be set together: use one of them",
            ));
        }
    }
    Ok(())
}
