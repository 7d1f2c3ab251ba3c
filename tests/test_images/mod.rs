//! The offline test images (busybox.tar, and redis.tar when redis-server is installed), built
//! once per test binary by `scripts/build-test-images.sh` into a temporary directory that goes
//! with the process.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the built image tarballs.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-test-images.sh");
        let out = Command::new("sh")
            .arg(script)
            .arg(dir.path())
            .output()
            .expect("sh runs");
        assert!(
            out.status.success(),
            "build-test-images: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .path()
}
