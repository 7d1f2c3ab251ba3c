//! Turning a create request into an engine spec and the agent's record, with the side effects
//! that come first: the image looked up, bind sources checked (or created), named volumes
//! created on first use and anonymous volumes made. Blocking; runs on the blocking pool.

use engine::Runtime;
use engine::image::ImageError;
use engine::spec::{ContainerSpec, MountKind, NetworkConfig, NetworkNamespace};

use super::AgentError;
use super::meta::{Meta, NetworkPlan};
use super::plan::{self, ImageDefaults};
use super::request::{ContainerConfig, MountRequest, RootSource};
use super::spec;

/// Label set on the anonymous volumes a container creates.
pub(crate) const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The request's network mode as the namespace it gives, container references resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Own namespace joining networks (the default network when none is named).
    Networks,
    /// Own namespace with loopback only.
    None,
    /// The host's namespace.
    Host,
    /// Another container's namespace (its id).
    Container(String),
}

/// Builds the spec and completes `meta` (image, volumes, networks, ports) for `config`.
/// Anonymous volumes made here are in `meta.anonymous_volumes`, so a failure later can drop
/// them with [`discard_volumes`].
pub(crate) fn prepare(
    runtime: &Runtime,
    meta: &mut Meta,
    config: &ContainerConfig,
    mode: &Mode,
) -> Result<ContainerSpec, AgentError> {
    let (mut spec, image) = match &config.root {
        RootSource::Rootfs(rootfs) => (
            spec::with_image(config, &ImageDefaults::default(), rootfs)?,
            None,
        ),
        RootSource::Image(reference) => {
            let record = match runtime.images().resolve(reference) {
                Ok(r) => r,
                Err(ImageError::NotFound(_)) => {
                    return Err(AgentError::Invalid(format!("image {reference} not found")));
                }
                Err(e) => return Err(engine::Error::from(e).into()),
            };
            let defaults = ImageDefaults::of(runtime.images(), &record)?;
            let rootfs = runtime.image_rootfs_path(&meta.id);
            let mut spec = spec::with_image(config, &defaults, &rootfs)?;
            // The image's HEALTHCHECK applies unless the request has its own (or disables it).
            if config.healthcheck.is_none()
                && let Some(check) = &defaults.healthcheck
            {
                spec.healthcheck = Some(check.config()?);
            }
            spec.image = Some(record.id.to_string());
            meta.image = reference.clone();
            meta.image_id = record.id.to_string();
            (spec, Some(defaults))
        }
    };
    check_binds(&spec, &config.mounts)?;
    let ports = plan::ports(
        &config.ports,
        config.publish_all,
        image.as_ref().unwrap_or(&ImageDefaults::default()),
    )?;
    let (namespace, attachments) = match mode {
        Mode::Networks => (
            NetworkNamespace::Own,
            plan::attachments(
                &config.networks,
                &config.network_mode,
                engine::runtime::DEFAULT_NETWORK,
            ),
        ),
        Mode::None => (NetworkNamespace::Own, Vec::new()),
        Mode::Host => (NetworkNamespace::Host, Vec::new()),
        Mode::Container(id) => (NetworkNamespace::Container(id.clone()), Vec::new()),
    };
    if !ports.is_empty() && attachments.is_empty() {
        return Err(AgentError::Invalid(format!(
            "ports cannot be published in network mode {}",
            config.network_mode
        )));
    }
    for a in &attachments {
        match runtime.networks().inspect(&a.network) {
            Ok(_) => {}
            // The default network always exists; made here if the agent could not at start.
            Err(engine::network::NetworkError::NotFound(_))
                if a.network == engine::runtime::DEFAULT_NETWORK =>
            {
                runtime
                    .networks()
                    .create(&engine::network::CreateNetwork {
                        name: a.network.clone(),
                        ..Default::default()
                    })
                    .map_err(engine::Error::from)?;
            }
            Err(e) => return Err(engine::Error::from(e).into()),
        }
    }
    meta.network_mode = config.network_mode.to_string();
    meta.networks = attachments
        .iter()
        .map(|a| NetworkPlan {
            network: a.network.clone(),
            aliases: a.aliases.clone(),
            ipv4: a.ipv4,
            mac: a.mac.clone(),
        })
        .collect();
    meta.ports = ports.clone();
    spec.network = NetworkConfig {
        namespace,
        name: meta.name.clone(),
        attachments,
        ports,
    };
    if spec.hostname.is_none() && matches!(mode, Mode::Host) {
        spec.hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok());
    }
    make_volumes(runtime, meta, &mut spec)?;
    resolve_images(runtime, &mut spec)?;
    Ok(spec)
}

/// Pins the image of every image mount to its id, so that a tag moved later changes nothing
/// in the container; a missing image is an error naming it.
fn resolve_images(runtime: &Runtime, spec: &mut ContainerSpec) -> Result<(), AgentError> {
    for m in &mut spec.mounts {
        let MountKind::Image { image, .. } = &mut m.kind else {
            continue;
        };
        let record = match runtime.images().resolve(image) {
            Ok(record) => record,
            Err(ImageError::NotFound(_)) => {
                return Err(AgentError::Invalid(format!(
                    "image {image} of the mount at {} not found",
                    m.target.display()
                )));
            }
            Err(e) => return Err(engine::Error::from(e).into()),
        };
        *image = record.id.to_string();
    }
    Ok(())
}

/// Bind sources must exist; a missing one whose mount asks for `create_host_path` is made as
/// a directory.
fn check_binds(spec: &ContainerSpec, requested: &[MountRequest]) -> Result<(), AgentError> {
    for m in &spec.mounts {
        let MountKind::Bind { source } = &m.kind else {
            continue;
        };
        if source.exists() {
            continue;
        }
        let create = requested.iter().any(|r| {
            r.create_host_path
                && matches!(&r.mount.kind, MountKind::Bind { source: s } if s == source)
        });
        if !create {
            return Err(AgentError::Invalid(format!(
                "bind source path does not exist: {}",
                source.display()
            )));
        }
        std::fs::create_dir_all(source).map_err(|e| AgentError::Io {
            op: "create",
            path: source.clone(),
            source: e,
        })?;
    }
    Ok(())
}

/// Creates missing named volumes (no labels) and a new anonymous volume for every volume
/// mount without a name, recording both in `meta`.
fn make_volumes(
    runtime: &Runtime,
    meta: &mut Meta,
    spec: &mut ContainerSpec,
) -> Result<(), AgentError> {
    let volumes = runtime.volumes();
    for m in &mut spec.mounts {
        let MountKind::Volume { name, .. } = &mut m.kind else {
            continue;
        };
        if name.is_empty() {
            let labels = [(ANONYMOUS_LABEL.to_string(), String::new())].into();
            let v = volumes
                .create(None, labels, Default::default())
                .map_err(engine::Error::from)?;
            *name = v.name.clone();
            meta.anonymous_volumes.push(v.name);
        } else {
            volumes
                .create(Some(name), Default::default(), Default::default())
                .map_err(engine::Error::from)?;
            if !meta.volumes.contains(name) {
                meta.volumes.push(name.clone());
            }
        }
    }
    Ok(())
}

/// Removes the anonymous volumes of `meta` (after a failed create, or `rm -v`); errors are
/// logged, not returned.
pub(crate) fn discard_volumes(runtime: &Runtime, meta: &Meta) {
    for name in &meta.anonymous_volumes {
        if let Err(err) = runtime.volumes().remove(name, &|_| false) {
            tracing::warn!(volume = %name, cause = %err, "cannot remove anonymous volume");
        }
    }
}
