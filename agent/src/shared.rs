//! What a container takes from other containers at create time: their IPC namespace (`ipc:
//! container:`) and their mounts (`volumes_from`), with the references resolved to ids first.

use engine::Runtime;
use engine::spec::{ContainerSpec, IpcNamespace};

use super::AgentError;
use super::request::{ContainerConfig, IpcMode};

/// The containers a create shares with, as ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shared {
    /// The IPC namespace.
    pub ipc: IpcNamespace,
    /// The donors of mounts (id) and whether they are mounted read-only.
    pub volumes_from: Vec<(String, bool)>,
}

impl Shared {
    /// Resolves the references of `config` with `resolve` (name, id or prefix → id).
    pub(crate) fn resolve(
        config: &ContainerConfig,
        resolve: impl Fn(&str) -> Result<String, AgentError>,
    ) -> Result<Self, AgentError> {
        let ipc = match &config.ipc {
            IpcMode::Own => IpcNamespace::Own,
            IpcMode::Host => IpcNamespace::Host,
            IpcMode::Container(reference) => IpcNamespace::Container(resolve(reference)?),
        };
        let volumes_from = config
            .volumes_from
            .iter()
            .map(|v| Ok((resolve(&v.container)?, v.read_only)))
            .collect::<Result<_, AgentError>>()?;
        Ok(Self { ipc, volumes_from })
    }

    /// Sets the IPC namespace and adds each donor's mounts (volumes, binds, tmpfs) to `spec`,
    /// in order, except where `spec` (or an earlier donor) already mounts something.
    pub(crate) fn apply(
        &self,
        runtime: &Runtime,
        spec: &mut ContainerSpec,
    ) -> Result<(), AgentError> {
        spec.ipc = self.ipc.clone();
        for (donor, read_only) in &self.volumes_from {
            let theirs = runtime.spec(donor).map_err(AgentError::from)?;
            add_mounts(spec, &theirs, *read_only);
        }
        Ok(())
    }
}

/// Adds `donor`'s mounts to `spec`, read-only when asked, skipping the targets `spec` has.
fn add_mounts(spec: &mut ContainerSpec, donor: &ContainerSpec, read_only: bool) {
    for mount in &donor.mounts {
        if spec.mounts.iter().any(|m| m.target == mount.target) {
            continue;
        }
        let mut mount = mount.clone();
        mount.read_only |= read_only;
        spec.mounts.push(mount);
    }
    for (target, propagation) in &donor.bind_propagation {
        spec.bind_propagation
            .entry(target.clone())
            .or_insert_with(|| propagation.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::spec::{Mount, MountKind};
    use std::path::PathBuf;

    fn volume(name: &str, target: &str, read_only: bool) -> Mount {
        Mount {
            kind: MountKind::Volume {
                name: name.into(),
                subpath: None,
                no_copy: false,
            },
            target: PathBuf::from(target),
            read_only,
        }
    }

    #[test]
    fn a_donors_mounts_are_added_where_the_container_has_none() {
        let mut spec = ContainerSpec {
            mounts: vec![volume("own", "/data", false)],
            ..ContainerSpec::default()
        };
        let donor = ContainerSpec {
            mounts: vec![
                volume("theirs", "/data", false),
                volume("logs", "/logs", false),
            ],
            ..ContainerSpec::default()
        };
        add_mounts(&mut spec, &donor, true);
        assert_eq!(
            spec.mounts,
            [volume("own", "/data", false), volume("logs", "/logs", true)]
        );
    }

    #[test]
    fn references_resolve_to_ids() {
        let mut config = ContainerConfig::new("/r", Vec::new());
        config.ipc = IpcMode::Container("db".into());
        config.volumes_from = vec![crate::request::VolumesFrom::parse("store:ro").unwrap()];
        let shared = Shared::resolve(&config, |r| Ok(format!("id-of-{r}"))).unwrap();
        assert_eq!(shared.ipc, IpcNamespace::Container("id-of-db".into()));
        assert_eq!(shared.volumes_from, [("id-of-store".to_string(), true)]);
        let err = Shared::resolve(&config, |r| Err(AgentError::NotFound(r.to_string())));
        assert!(err.is_err());
    }
}
