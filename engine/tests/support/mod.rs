//! Test helpers: a busybox rootfs builder and a per-test environment that cleans up after itself.

#![allow(clippy::unwrap_used, missing_docs)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use engine::cgroups::Layout;
use engine::spec::ContainerSpec;
use engine::{ContainerState, Runtime, RuntimeConfig};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Builds a minimal busybox rootfs in `dir` with users root and alice (1000, also in staff=50).
pub(crate) fn build_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("home/alice")).unwrap();
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n",
    )
    .unwrap();
}

/// One test's runtime: own data root, run root, rootfs and cgroup parent.
pub(crate) struct Env {
    pub tmp: tempfile::TempDir,
    pub runtime: Runtime,
    pub parent: String,
}

impl Env {
    pub(crate) fn new() -> Env {
        Self::with_layout(Layout::probe().unwrap())
    }

    /// An environment whose runtime uses `layout` instead of the host's probed one.
    pub(crate) fn with_layout(layout: Layout) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        build_rootfs(&tmp.path().join("rootfs"));
        let parent = format!(
            "bosun-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut config =
            RuntimeConfig::new(tmp.path().join("data"), tmp.path().join("run")).unwrap();
        config.cgroup_parent = parent.clone();
        Env {
            runtime: Runtime::with_layout(config, layout).unwrap(),
            tmp,
            parent,
        }
    }

    pub(crate) fn rootfs(&self) -> PathBuf {
        self.tmp.path().join("rootfs")
    }

    pub(crate) fn spec(&self, script: &str) -> ContainerSpec {
        ContainerSpec::new(self.rootfs(), ["sh", "-c", script])
    }

    /// Creates, starts and waits for the container; returns its exit state and stdout.
    pub(crate) fn run(&self, id: &str, spec: &ContainerSpec) -> (ContainerState, String) {
        self.runtime.create(id, spec).unwrap();
        self.runtime.start(id).unwrap();
        let state = self
            .runtime
            .wait(id, Some(Duration::from_secs(30)))
            .unwrap();
        (state, self.stdout(id))
    }

    /// Creates and starts a container.
    pub(crate) fn start(&self, id: &str, spec: &ContainerSpec) -> engine::StateRecord {
        let record = self.runtime.create(id, spec).unwrap();
        self.runtime.start(id).unwrap();
        record
    }

    pub(crate) fn stdout(&self, id: &str) -> String {
        self.stream(id, "stdout")
    }

    pub(crate) fn stream(&self, id: &str, stream: &str) -> String {
        self.runtime
            .logs(id)
            .unwrap()
            .into_iter()
            .filter(|e| e.stream == stream)
            .map(|e| e.log)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.runtime.list().unwrap_or_default() {
            let _ = self.runtime.remove(&id, true);
        }
        for root in self.runtime.layout().hierarchies() {
            let _ = std::fs::remove_dir(root.join(&self.parent));
        }
    }
}

/// Every cgroup directory named like a test parent, anywhere in the host's hierarchies.
pub(crate) fn leftover_cgroups(prefix: &str) -> Vec<PathBuf> {
    let Ok(layout) = Layout::probe() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for root in layout.hierarchies() {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                out.push(entry.path());
            }
        }
    }
    out
}
