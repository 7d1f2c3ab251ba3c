//! Files written for a container (compose secrets and configs given by value, a cluster
//! task's secrets and configs): each is written with the owner and mode asked for and
//! bind-mounted read-only at its target. Files given by value go under
//! `<data_root>/agent/files/<id>/`, a directory only root can enter; files asked to stay in
//! memory (a cluster task's) go on a tmpfs of the container's own mounted at
//! `<run_root>/agent/files/<id>/`, so they never reach the node's disk. Both go with the
//! container's metadata record (see [`crate::meta::MetaStore`]).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use engine::spec::MountKind;

use crate::error::AgentError;
use crate::request::ContainerConfig;

/// Room a tmpfs gives each file beyond its bytes (its inode and page rounding).
const PER_FILE_SLACK: u64 = 4096;

/// Where the files of one container go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileDirs {
    /// Files given by value, on the data root.
    pub(crate) disk: PathBuf,
    /// Files kept in memory: the mount point of the container's tmpfs, on the run root.
    pub(crate) memory: PathBuf,
}

/// The directories of the files of container `id`.
pub(crate) fn dirs(data_root: &Path, run_root: &Path, id: &str) -> FileDirs {
    FileDirs {
        disk: data_root.join("agent").join("files").join(id),
        memory: run_root.join("agent").join("files").join(id),
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AgentError + 'a {
    move |source| AgentError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` and its parent, readable by root only.
fn private_dir(dir: &Path) -> Result<(), AgentError> {
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
        .map_err(io("create", dir))
}

/// Writes the files of `config`'s `file` mounts into `dirs` (those asked to stay in memory
/// on a tmpfs mounted for them, the others on disk, each directory made 0700) and returns
/// the configuration with those mounts turned into read-only binds of the written files. A
/// configuration without such mounts is returned as is and nothing is written.
pub(crate) fn materialize(
    dirs: &FileDirs,
    config: &ContainerConfig,
) -> Result<ContainerConfig, AgentError> {
    let mut config = config.clone();
    let contents = || config.mounts.iter().filter_map(|m| m.content.as_ref());
    if contents().any(|c| !c.in_memory) {
        private_dir(&dirs.disk)?;
    }
    let in_memory: u64 = contents()
        .filter(|c| c.in_memory)
        .map(|c| c.bytes.len() as u64 + PER_FILE_SLACK)
        .sum();
    if in_memory > 0 {
        private_dir(&dirs.memory)?;
        engine::memdir::mount_tmpfs(&dirs.memory, in_memory)?;
    }
    for (index, request) in config.mounts.iter_mut().enumerate() {
        let Some(content) = &request.content else {
            continue;
        };
        let dir = if content.in_memory {
            &dirs.memory
        } else {
            &dirs.disk
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

/// Removes the files of a container (unmounting its tmpfs); a missing directory is not an
/// error.
pub(crate) fn remove(dirs: &FileDirs) -> Result<(), AgentError> {
    engine::memdir::remove(&dirs.memory)?;
    match std::fs::remove_dir_all(&dirs.disk) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io("remove", &dirs.disk)(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{FileContent, MountRequest};
    use engine::spec::Mount;
    use std::os::unix::fs::MetadataExt;

    fn file_mount(bytes: &[u8], mode: u32) -> MountRequest {
        file_mount_in(bytes, mode, false)
    }

    fn file_mount_in(bytes: &[u8], mode: u32, in_memory: bool) -> MountRequest {
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
                in_memory,
            }),
        }
    }

    #[test]
    fn written_private_with_the_mode_and_bound_read_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs(tmp.path(), &tmp.path().join("run"), "c1");
        let dir = dirs.disk.clone();
        let mut config = ContainerConfig::new("/rootfs", vec!["true".into()]);
        config.mounts = vec![file_mount(b"s3cr3t", 0o440)];
        let done = materialize(&dirs, &config).unwrap();
        let MountKind::Bind { source } = &done.mounts[0].mount.kind else {
            panic!("not a bind: {:?}", done.mounts[0]);
        };
        assert_eq!(std::fs::read(source).unwrap(), b"s3cr3t");
        assert_eq!(std::fs::metadata(source).unwrap().mode() & 0o7777, 0o440);
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        assert!(done.mounts[0].mount.read_only);
        assert!(!dirs.memory.exists(), "nothing asked to stay in memory");
        remove(&dirs).unwrap();
        assert!(!dir.exists());
        remove(&dirs).unwrap();
    }

    #[test]
    fn in_memory_files_go_on_a_tmpfs_of_their_own_and_never_to_the_data_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs(&tmp.path().join("data"), &tmp.path().join("run"), "c1");
        let mut config = ContainerConfig::new("/rootfs", vec!["true".into()]);
        config.mounts = vec![
            file_mount_in(b"in-memory", 0o400, true),
            file_mount_in(b"on-disk", 0o444, false),
        ];
        let done = materialize(&dirs, &config).unwrap();
        let source = |i: usize| match &done.mounts[i].mount.kind {
            MountKind::Bind { source } => source.clone(),
            other => panic!("not a bind: {other:?}"),
        };
        assert!(source(0).starts_with(&dirs.memory));
        assert!(engine::memdir::on_tmpfs(&source(0)).unwrap());
        assert_eq!(std::fs::read(source(0)).unwrap(), b"in-memory");
        assert_eq!(std::fs::metadata(source(0)).unwrap().mode() & 0o7777, 0o400);
        assert!(source(1).starts_with(&dirs.disk));
        remove(&dirs).unwrap();
        assert!(!dirs.memory.exists() && !dirs.disk.exists());
    }

    #[test]
    fn nothing_written_without_file_mounts() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs(tmp.path(), &tmp.path().join("run"), "c1");
        let config = ContainerConfig::new("/rootfs", vec!["true".into()]);
        assert_eq!(materialize(&dirs, &config).unwrap(), config);
        assert!(!dirs.disk.exists() && !dirs.memory.exists());
    }
}
