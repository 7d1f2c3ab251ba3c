//! RUN: the command runs in an engine container whose rootfs is an overlay of the stage's
//! layers; the overlay's upper directory, with the mount points the container setup created
//! removed again, becomes the step's layer. The container, the mount and the upper
//! directory are gone when this returns, whether the command succeeded or not.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use engine::image::ImageStore;
use engine::logs::LogQuery;
use engine::spec::{ContainerSpec, Mount, NetworkNamespace};
use engine::{ContainerState, Runtime};

use crate::error::{BuildError, Result};
use crate::layers::{Layer, commit_tar, diff_dirs};
use crate::progress::Stream;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The most output kept for the error of a failing command (its end).
const KEPT_OUTPUT: usize = 64 * 1024;

/// Paths the container setup creates as mount points when they are missing.
const SETUP_PATHS: [&str; 6] = [
    "/proc",
    "/sys",
    "/dev",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
];

/// The network of a RUN.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// The build's default: the host's network namespace (as a build daemon without a
    /// network plugin does).
    #[default]
    Default,
    /// A namespace of its own with only loopback.
    None,
    /// The host's namespace.
    Host,
}

impl Network {
    /// Parses `default`, `none` or `host`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "default" => Ok(Self::Default),
            "none" => Ok(Self::None),
            "host" => Ok(Self::Host),
            other => Err(BuildError::Invalid(format!(
                "network {other:?}: use default, none or host"
            ))),
        }
    }

    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::None => "none",
            Self::Host => "host",
        }
    }
}

/// What a RUN step runs.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    /// The command line.
    pub argv: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// The working directory.
    pub cwd: String,
    /// `user[:group]`.
    pub user: Option<String>,
    /// The network.
    pub network: Network,
    /// Extra mounts (cache, bind, tmpfs, secret, heredoc scripts).
    pub mounts: Vec<Mount>,
}

/// A mounted step rootfs; unmounted and removed with its upper directory when dropped.
pub(crate) struct StepRootfs<'a> {
    store: &'a ImageStore,
    owner: String,
    dir: PathBuf,
    merged: PathBuf,
}

impl<'a> StepRootfs<'a> {
    /// Mounts an overlay of `layers` under `<data_root>/build/work/`.
    pub(crate) fn mount(store: &'a ImageStore, data_root: &Path, layers: &[Layer]) -> Result<Self> {
        let owner = format!(
            "build-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let work = data_root.join("build").join("work");
        std::fs::create_dir_all(&work).map_err(BuildError::io("create", &work))?;
        let dir = work.join(&owner);
        let chains: Vec<_> = layers.iter().map(|l| l.chain_id.clone()).collect();
        if chains.is_empty() {
            return Err(BuildError::Invalid(
                "the stage has no files yet (FROM scratch): there is nothing to run".into(),
            ));
        }
        let merged = match store.create_rootfs_from_layers(&owner, &chains, &dir) {
            Ok(m) => m,
            Err(e) => {
                let _ = store.remove_rootfs(&owner, &dir);
                return Err(e.into());
            }
        };
        Ok(Self {
            store,
            owner,
            dir,
            merged,
        })
    }

    /// The mount point.
    pub(crate) fn merged(&self) -> &Path {
        &self.merged
    }

    /// The owner name (also usable as a container id).
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
}

impl Drop for StepRootfs<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.store.remove_rootfs(&self.owner, &self.dir) {
            tracing::warn!(dir = %self.dir.display(), cause = %err, "cannot remove a build rootfs");
        }
    }
}

/// Removes the container when dropped.
struct ContainerGuard<'a> {
    runtime: &'a Runtime,
    id: String,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.runtime.remove(&self.id, true) {
            tracing::warn!(container = self.id, cause = %err, "cannot remove a build container");
        }
    }
}

/// Runs `request` on top of `layers`; returns the new layer (`None` when nothing changed).
/// `output` receives each line as it is written.
pub(crate) fn run(
    runtime: &Runtime,
    data_root: &Path,
    layers: &[Layer],
    request: &RunRequest,
    output: &mut dyn FnMut(Stream, &str),
) -> Result<Option<Layer>> {
    let store = runtime.images();
    let rootfs = StepRootfs::mount(store, data_root, layers)?;
    let mut targets: Vec<PathBuf> = SETUP_PATHS.iter().map(PathBuf::from).collect();
    targets.extend(request.mounts.iter().map(|m| m.target.clone()));
    let created = missing_paths(rootfs.merged(), &targets);
    let code = execute(runtime, &rootfs, request, output)?;
    store.unmount_rootfs(&rootfs.dir)?;
    code?;
    let upper = rootfs.upper();
    remove_stubs(&upper, &created);
    let lowers = diff_dirs(store, layers);
    commit_tar(store, layers.last(), |w| {
        crate::diff::write_upper(&upper, &lowers, w)
    })
}

fn execute(
    runtime: &Runtime,
    rootfs: &StepRootfs<'_>,
    request: &RunRequest,
    output: &mut dyn FnMut(Stream, &str),
) -> Result<Result<()>> {
    let mut spec = ContainerSpec::new(rootfs.merged(), request.argv.clone());
    spec.env = request.env.clone();
    spec.cwd = PathBuf::from(&request.cwd);
    spec.user = request.user.clone();
    spec.mounts = request.mounts.clone();
    spec.network.namespace = match request.network {
        Network::None => NetworkNamespace::Own,
        Network::Default | Network::Host => NetworkNamespace::Host,
    };
    let id = rootfs.owner().to_string();
    runtime.create(&id, &spec)?;
    let _container = ContainerGuard {
        runtime,
        id: id.clone(),
    };
    runtime.start(&id)?;
    let mut kept = String::new();
    for entry in runtime.follow_logs(&id, LogQuery::default())? {
        let entry = entry.map_err(BuildError::io("read the output of", &id))?;
        let stream = if entry.stream == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        output(stream, &entry.log);
        kept.push_str(&entry.log);
        if kept.len() > 2 * KEPT_OUTPUT {
            let cut = kept.len() - KEPT_OUTPUT;
            let cut = (cut..kept.len())
                .find(|&i| kept.is_char_boundary(i))
                .unwrap_or(kept.len());
            kept.drain(..cut);
        }
    }
    match runtime.wait(&id, None)? {
        ContainerState::Exited { code: 0, .. } => Ok(Ok(())),
        ContainerState::Exited { code, .. } => {
            Ok(Err(BuildError::RunFailed { code, output: kept }))
        }
        other => Err(BuildError::Invalid(format!(
            "build container {id} ended in state {other:?}"
        ))),
    }
}

/// The paths among `targets` and their ancestors that do not exist in `root` (deepest
/// first): what the container setup will create.
fn missing_paths(root: &Path, targets: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for target in targets {
        let rel = target.strip_prefix("/").unwrap_or(target);
        let mut path = rel.to_path_buf();
        loop {
            if path.as_os_str().is_empty() {
                break;
            }
            if std::fs::symlink_metadata(root.join(&path)).is_ok() {
                break;
            }
            if !out.contains(&path) {
                out.push(path.clone());
            }
            if !path.pop() {
                break;
            }
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

/// Removes from the upper directory the mount points that are still empty.
fn remove_stubs(upper: &Path, created: &[PathBuf]) {
    for rel in created {
        let path = upper.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let _ = std::fs::remove_dir(&path);
        } else if meta.is_file() && meta.len() == 0 {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_paths_lists_new_ancestors_deepest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        let got = missing_paths(
            dir.path(),
            &[PathBuf::from("/etc/hosts"), PathBuf::from("/run/secrets/x")],
        );
        assert_eq!(
            got,
            [
                PathBuf::from("run/secrets/x"),
                PathBuf::from("etc/hosts"),
                PathBuf::from("run/secrets"),
                PathBuf::from("run"),
            ]
        );
    }
}
