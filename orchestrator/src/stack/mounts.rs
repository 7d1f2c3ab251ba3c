//! A compose service's `volumes` and `tmpfs` as the mounts of its tasks: binds stay paths of
//! the node, named volumes become the node-local volume `<stack>_<name>` (or the name the
//! top-level definition gives), tmpfs keep their size and mode.

use compose_spec::model::{ByteSize, Project, Service, ServiceVolume, VolumeType};

use super::error::StackError;
use super::warnings::{Subject, Support, Warnings};
use crate::swarm::{Mount, MountKind};

fn size(service: &str, key: &'static str, size: ByteSize) -> Result<u64, StackError> {
    u64::try_from(size.bytes()).map_err(|_| {
        StackError::value(
            service,
            key,
            size.bytes().to_string(),
            "a size must not be negative",
        )
    })
}

fn volume_mount(
    project: &Project,
    stack: &str,
    service: &str,
    volume: &ServiceVolume,
    warnings: &mut Warnings,
) -> Result<Option<Mount>, StackError> {
    if volume.consistency.is_some() {
        warnings.not_yet("volumes.consistency", None, service);
    }
    let kind = match volume.kind {
        VolumeType::Bind => {
            let source = volume.source.clone().ok_or_else(|| {
                StackError::value(
                    service,
                    "volumes",
                    &volume.target,
                    "a bind mount needs a source",
                )
            })?;
            if let Some(bind) = &volume.bind {
                if bind.propagation.is_some() {
                    warnings.not_yet("volumes.bind.propagation", None, service);
                }
                if bind.selinux.is_some() {
                    warnings.not_yet("volumes.bind.selinux", None, service);
                }
                if bind.recursive.is_some() {
                    warnings.not_yet("volumes.bind.recursive", None, service);
                }
            }
            MountKind::Bind { source }
        }
        VolumeType::Volume => {
            if volume.volume.as_ref().is_some_and(|v| v.subpath.is_some()) {
                warnings.not_yet("volumes.volume.subpath", None, service);
            }
            let no_copy = volume.volume.as_ref().is_some_and(|v| v.nocopy);
            match &volume.source {
                None => MountKind::Volume {
                    source: None,
                    driver: None,
                    no_copy,
                },
                Some(key) => {
                    let defined = project.volumes.get(key);
                    let name = defined
                        .and_then(|v| v.name.clone())
                        .unwrap_or_else(|| super::service_name(stack, key));
                    MountKind::Volume {
                        source: Some(name),
                        driver: defined.and_then(|v| v.driver.clone()),
                        no_copy,
                    }
                }
            }
        }
        VolumeType::Tmpfs => {
            let options = volume.tmpfs.as_ref();
            MountKind::Tmpfs {
                size_bytes: options
                    .and_then(|o| o.size)
                    .map(|s| size(service, "volumes.tmpfs.size", s))
                    .transpose()?,
                mode: options.and_then(|o| o.mode).map(|m| m.0),
            }
        }
        other => {
            warnings.not_yet(format!("volumes of type {other}"), None, service);
            return Ok(None);
        }
    };
    Ok(Some(Mount {
        target: volume.target.clone(),
        read_only: volume.read_only,
        kind,
    }))
}

/// A `tmpfs:` entry: `/path[:size=64m,mode=1777,ro]`.
fn tmpfs_entry(service: &str, entry: &str) -> Result<Mount, StackError> {
    let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
    let (mut size_bytes, mut mode, mut read_only) = (None, None, false);
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let bad = || {
            StackError::value(
                service,
                "tmpfs",
                entry,
                format!("unknown option {option:?}, expected size=SIZE, mode=OCTAL, ro or rw"),
            )
        };
        match option.split_once('=') {
            Some(("size", text)) => {
                let parsed = ByteSize::parse(text).map_err(|_| bad())?;
                size_bytes = Some(size(service, "tmpfs", parsed)?);
            }
            Some(("mode", text)) => mode = Some(u32::from_str_radix(text, 8).map_err(|_| bad())?),
            None if option == "ro" => read_only = true,
            None if matches!(option, "rw" | "noexec" | "nosuid" | "nodev" | "exec") => {}
            _ => return Err(bad()),
        }
    }
    Ok(Mount {
        target: target.to_owned(),
        read_only,
        kind: MountKind::Tmpfs { size_bytes, mode },
    })
}

/// The mounts of `definition` (compose service `service`) in stack `stack`.
pub(super) fn mounts(
    project: &Project,
    stack: &str,
    service: &str,
    definition: &Service,
    warnings: &mut Warnings,
) -> Result<Vec<Mount>, StackError> {
    let mut out = Vec::new();
    for volume in &definition.volumes {
        out.extend(volume_mount(project, stack, service, volume, warnings)?);
    }
    for entry in &definition.tmpfs {
        out.push(tmpfs_entry(service, entry)?);
    }
    Ok(out)
}

/// Warnings for the parts of top-level volume definitions a node-local volume does not take.
pub(super) fn volume_warnings(project: &Project, warnings: &mut Warnings) {
    for (key, volume) in &project.volumes {
        if volume.driver.as_deref().is_some_and(|d| d != "local") {
            warnings.add(
                Subject::Volumes,
                "driver",
                Support::NotYet,
                Some("nodes create local volumes"),
                key,
            );
        }
        if !volume.driver_opts.is_empty() {
            warnings.add(Subject::Volumes, "driver_opts", Support::NotYet, None, key);
        }
        if !volume.labels.is_empty() {
            warnings.add(Subject::Volumes, "labels", Support::NotYet, None, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_entries_take_size_mode_and_ro() {
        let mount = tmpfs_entry("web", "/run:size=64m,mode=1777,ro").unwrap();
        assert_eq!(mount.target, "/run");
        assert!(mount.read_only);
        assert_eq!(
            mount.kind,
            MountKind::Tmpfs {
                size_bytes: Some(64 << 20),
                mode: Some(0o1777)
            }
        );
        assert_eq!(
            tmpfs_entry("web", "/run:huge").unwrap_err().to_string(),
            "service web: invalid tmpfs \"/run:huge\": unknown option \"huge\", expected size=SIZE, mode=OCTAL, ro or rw"
        );
    }
}
