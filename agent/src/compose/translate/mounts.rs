//! Mounts of a planned container: named volumes (by engine name), anonymous volumes (carried
//! over from the container it replaces, else new), binds and tmpfs; then the service's secrets
//! and configs (a file source bound read-only, a value written by the agent).

use compose_spec::model::ServiceVolume;
use compose_spec::model::VolumeType;
use orchestrator::compose::ContainerSpec;
use orchestrator::compose::files::FileSource;

use super::TranslateError;
use crate::proto;

/// Appends the service's `volumes` and `tmpfs` to the configuration's mounts.
pub(super) fn apply(
    spec: &ContainerSpec,
    config: &mut proto::ContainerConfig,
) -> Result<(), TranslateError> {
    for volume in &spec.definition.volumes {
        config.mounts.push(mount(spec, volume)?);
    }
    for entry in &spec.definition.tmpfs {
        config.mounts.push(tmpfs_entry(&spec.service, entry)?);
    }
    let files = spec
        .files
        .as_ref()
        .map_err(|message| TranslateError::new(&spec.service, message.clone()))?;
    for file in files {
        let mut wire = proto::Mount {
            target: file.target.clone(),
            read_only: true,
            ..Default::default()
        };
        match &file.source {
            FileSource::Path(path) => {
                wire.r#type = "bind".into();
                wire.source = path.clone();
            }
            FileSource::Content(content) => {
                wire.r#type = "file".into();
                wire.content = content.clone().into_bytes();
                wire.file_uid = file.uid;
                wire.file_gid = file.gid;
                wire.file_mode = file.mode;
            }
        }
        config.mounts.push(wire);
    }
    if let Some(m) = config
        .mounts
        .iter()
        .find(|m| engine::spec::is_root_target(std::path::Path::new(&m.target)))
    {
        return Err(TranslateError::new(
            &spec.service,
            format!(
                "invalid mount config for type {:?}: destination can't be '/' (target {:?})",
                m.r#type, m.target
            ),
        ));
    }
    Ok(())
}

fn mount(spec: &ContainerSpec, volume: &ServiceVolume) -> Result<proto::Mount, TranslateError> {
    let mut wire = proto::Mount {
        target: volume.target.clone(),
        read_only: volume.read_only,
        ..Default::default()
    };
    match volume.kind {
        VolumeType::Volume => {
            wire.r#type = "volume".into();
            wire.source = match &volume.source {
                Some(key) => spec.volumes.get(key).cloned().ok_or_else(|| {
                    TranslateError::new(
                        &spec.service,
                        format!("volume {key} is not defined in the project"),
                    )
                })?,
                // Empty: the agent makes a new anonymous volume.
                None => spec
                    .carried_volumes
                    .get(&volume.target)
                    .cloned()
                    .unwrap_or_default(),
            };
            if let Some(options) = &volume.volume {
                wire.no_copy = options.nocopy;
                wire.subpath = options.subpath.clone().unwrap_or_default();
            }
        }
        VolumeType::Bind => {
            wire.r#type = "bind".into();
            wire.source = volume.source.clone().ok_or_else(|| {
                TranslateError::new(
                    &spec.service,
                    format!("bind mount at {} has no source", volume.target),
                )
            })?;
            match &volume.bind {
                Some(options) => {
                    wire.create_host_path = options.create_host_path;
                    if let Some(propagation) = options.propagation {
                        wire.propagation = propagation.as_str().to_string();
                    }
                }
                // The short syntax creates a missing host directory, as Compose does.
                None => wire.create_host_path = true,
            }
        }
        VolumeType::Tmpfs => {
            wire.r#type = "tmpfs".into();
            if let Some(options) = &volume.tmpfs {
                wire.tmpfs_size = options
                    .size
                    .map(|s| u64::try_from(s.bytes()).unwrap_or(0))
                    .unwrap_or(0);
                wire.tmpfs_mode = options.mode.map(|m| m.0).unwrap_or(0);
            }
        }
        VolumeType::Image => {
            wire.r#type = "image".into();
            wire.read_only = true;
            wire.source = volume.source.clone().ok_or_else(|| {
                TranslateError::new(
                    &spec.service,
                    format!("image mount at {} has no source", volume.target),
                )
            })?;
            if let Some(options) = &volume.image {
                wire.subpath = options.subpath.clone().unwrap_or_default();
            }
        }
        other => {
            return Err(TranslateError::new(
                &spec.service,
                format!(
                    "mounts of type {} are not supported (at {})",
                    other.as_str(),
                    volume.target
                ),
            ));
        }
    }
    Ok(wire)
}

/// A `tmpfs:` entry: `/path[:size=64m,mode=1777]`.
fn tmpfs_entry(service: &str, entry: &str) -> Result<proto::Mount, TranslateError> {
    let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
    let mut wire = proto::Mount {
        r#type: "tmpfs".into(),
        target: target.to_string(),
        ..Default::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let bad = || TranslateError::new(service, format!("invalid tmpfs option {option:?}"));
        match option.split_once('=') {
            Some(("size", size)) => {
                let size = compose_spec::model::ByteSize::parse(size).map_err(|_| bad())?;
                wire.tmpfs_size = u64::try_from(size.bytes()).map_err(|_| bad())?;
            }
            Some(("mode", mode)) => {
                wire.tmpfs_mode = u32::from_str_radix(mode, 8).map_err(|_| bad())?;
            }
            _ if option == "ro" => wire.read_only = true,
            _ if matches!(option, "rw" | "noexec" | "nosuid" | "nodev" | "exec") => {}
            _ => return Err(bad()),
        }
    }
    Ok(wire)
}
