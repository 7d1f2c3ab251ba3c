//! Files written for a container (compose secrets and configs given by value): each is written
//! under `<data_root>/agent/files/<id>/`, a directory only root can enter, with the owner and
//! mode asked for, and bind-mounted read-only at its target. The directory goes with the
//! container's metadata record (see [`crate::meta::MetaStore`]).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use engine::spec::MountKind;

use crate::error::AgentError;
use crate::request::ContainerConfig;

/// The directory of the files of container `id` under `data_root`.
pub(crate) fn dir(data_root: &Path, id: &str) -> PathBuf {
    data_root.join("agent").join("files").join(id)
}

/// Writes the files of `config`'s `file` mounts into `dir` (made 0700) and returns the
/// configuration with those mounts turned into read-only binds of the written files. A
/// configuration without such mounts is returned as is and nothing is written.
pub(crate) fn materialize(
    dir: &Path,
    config: &ContainerConfig,
) -> Result<ContainerConfig, AgentError> {
    let mut config = config.clone();
    if config.mounts.iter().all(|m| m.content.is_none()) {
        return Ok(config);
    }
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| AgentError::Io { op, path, source }
    };
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io("create", parent))?;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create", dir))?;
    for (index, request) in config.mounts.iter_mut().enumerate() {
        let Some(content) = &request.content else {
            continue;
        };
        let path = dir.join(index.to_string());
        std::fs::write(&path, &content.bytes).map_err(io("write", &path))?;
        std::os::unix::fs::chown(&path, Some(content.uid), Some(content.gid))
            .map_err(io("chown", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(content.mode))
            .map_err(io("chmod", &path))?;
        request.mount.kind = MountKind::Bind { source: path };
        request.mount.read_only = true;
        request.create_host_path = false;
    }
    Ok(config)
}

/// Removes the files of a container; a missing directory is not an error.
pub(crate) fn remove(dir: &Path) -> Result<(), AgentError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(AgentError::Io {
            op: "remove",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{FileContent, MountRequest};
    use engine::spec::Mount;
    use std::os::unix::fs::MetadataExt;

    fn file_mount(bytes: &[u8], mode: u32) -> MountRequest {
        MountRequest {
            mount: Mount {
                kind: MountKind::Bind {
                    source: PathBuf::new(),
                },
                target: "/run/secrets/token".into(),
                read_only: false,
            },
            propagation: None,
            create_host_path: false,
            content: Some(FileContent {
                bytes: bytes.to_vec(),
                uid: nix::unistd::getuid().as_raw(),
                gid: nix::unistd::getgid().as_raw(),
                mode,
            }),
        }
    }

    #[test]
    fn written_private_with_the_mode_and_bound_read_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir(tmp.path(), "c1");
        let mut config = ContainerConfig::new("/rootfs", vec!["true".into()]);
        config.mounts = vec![file_mount(b"s3cr3t", 0o440)];
        let done = materialize(&dir, &config).unwrap();
        let MountKind::Bind { source } = &done.mounts[0].mount.kind else {
            panic!("not a bind: {:?}", done.mounts[0]);
        };
        assert_eq!(std::fs::read(source).unwrap(), b"s3cr3t");
        assert_eq!(std::fs::metadata(source).unwrap().mode() & 0o7777, 0o440);
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        assert!(done.mounts[0].mount.read_only);
        remove(&dir).unwrap();
        assert!(!dir.exists());
        remove(&dir).unwrap();
    }

    #[test]
    fn nothing_written_without_file_mounts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir(tmp.path(), "c1");
        let config = ContainerConfig::new("/rootfs", vec!["true".into()]);
        assert_eq!(materialize(&dir, &config).unwrap(), config);
        assert!(!dir.exists());
    }
}
