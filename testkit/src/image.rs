//! Helpers for the image and volume tests: tar builders (including hostile raw entries), a
//! busybox image, and a per-test environment that unmounts and cleans up even on failure.

#![allow(
    clippy::unwrap_used,
    clippy::new_without_default,
    missing_docs,
    dead_code
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::cgroups::Layout;
use engine::image::{ImageStore, ImportOptions, ImportSource};
use engine::spec::ContainerSpec;
use engine::{ContainerState, Runtime, RuntimeConfig};

/// One tar entry to write.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    FileMode(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Device(&'a str, u32, u32, bool),
}

/// A tar stream of `entries`, names written raw (no sanitizing), as a hostile tool could.
pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_old();
        let (name, data, mode, kind, link): (&str, &[u8], u32, tar::EntryType, Option<&str>) =
            match e {
                E::File(n, d) => (n, d, 0o644, tar::EntryType::Regular, None),
                E::FileMode(n, d, m) => (n, d, *m, tar::EntryType::Regular, None),
                E::Dir(n) => (n, b"", 0o755, tar::EntryType::Directory, None),
                E::Symlink(n, t) => (n, b"", 0o777, tar::EntryType::Symlink, Some(t)),
                E::Hardlink(n, t) => (n, b"", 0o644, tar::EntryType::Link, Some(t)),
                E::Device(n, ma, mi, block) => {
                    let kind = if *block {
                        tar::EntryType::Block
                    } else {
                        tar::EntryType::Char
                    };
                    h.set_device_major(*ma).ok();
                    h.set_device_minor(*mi).ok();
                    (n, b"", 0o600, kind, None)
                }
            };
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A busybox root filesystem as a tar stream: /bin/busybox and its applets, /etc/passwd.
pub fn busybox_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .unwrap();
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|a| *a != "busybox")
    {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(passwd.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "etc/passwd", &passwd[..]).unwrap();
    b.into_inner().unwrap()
}

/// Every mount point under `prefix`.
pub fn mounts_under(prefix: &Path) -> Vec<String> {
    let p = prefix.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&p))
        .collect()
}

/// A test's data root, image store and (lazily) runtime; unmounts everything under its
/// directory when dropped.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub store: ImageStore,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&tmp.path().join("data")).unwrap();
        Env { tmp, store }
    }

    pub fn data_root(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn import_busybox(&self, name: &str, changes: &[&str]) -> engine::image::ImageRecord {
        let tar = busybox_tar();
        let options = ImportOptions {
            reference: Some(name.to_string()),
            changes: changes.iter().map(|c| c.to_string()).collect(),
            message: None,
        };
        self.store
            .import(ImportSource::Tar(&mut &tar[..]), &options)
            .unwrap()
    }

    pub fn runtime(&self) -> Runtime {
        let mut config = RuntimeConfig::new(self.data_root(), self.tmp.path().join("run")).unwrap();
        config.cgroup_parent = format!("bosun-imgtest-{}", std::process::id());
        Runtime::new(config).unwrap()
    }

    /// Runs a container to completion; returns its exit state and stdout.
    pub fn run(&self, rt: &Runtime, id: &str, spec: &ContainerSpec) -> (ContainerState, String) {
        rt.create(id, spec).unwrap();
        rt.start(id).unwrap();
        let state = rt.wait(id, Some(Duration::from_secs(30))).unwrap();
        let out = rt
            .logs(id)
            .unwrap()
            .into_iter()
            .filter(|e| e.stream == "stdout")
            .map(|e| e.log)
            .collect();
        (state, out)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let mut mounts = mounts_under(self.tmp.path());
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let parent = format!("bosun-imgtest-{}", std::process::id());
        let roots = Layout::probe().map(|l| l.hierarchies()).unwrap_or_default();
        for root in roots {
            remove_cgroup_tree(&root.join(&parent));
        }
    }
}

/// Removes a cgroup directory and the (empty) groups below it, deepest first.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
