//! The offline test images (busybox.tar, and redis.tar when redis-server is installed), built by
//! `scripts/build-test-images.sh` once into cargo's target tmp directory and shared by every test
//! process (nextest runs each test in its own process; a per-process temporary directory held in
//! a static would never be removed).

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the built image tarballs.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build).as_path()
}

/// Builds the images unless a finished build for the same script and host packages exists.
/// Concurrent test processes each build into their own staging directory; the first rename wins
/// and the others drop theirs.
fn build() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-test-images.sh");
    let text = std::fs::read(&script).expect("the image build script is readable");
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    for tool in ["/bin/busybox", "/usr/bin/redis-server"] {
        let stamp = std::fs::metadata(tool)
            .ok()
            .map(|m| (m.len(), m.modified().ok()));
        stamp.hash(&mut hasher);
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let done = root.join(format!("test-images-{:016x}", hasher.finish()));
    if done.join("busybox.tar").exists() {
        return done;
    }
    let staging = tempfile::tempdir_in(root).expect("a staging directory");
    let out = Command::new("sh")
        .arg(&script)
        .arg(staging.path())
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "build-test-images: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Losing the race leaves `staging` to be removed on drop.
    let _ = std::fs::rename(staging.path(), &done);
    assert!(
        done.join("busybox.tar").exists(),
        "test images missing in {}",
        done.display()
    );
    done
}
