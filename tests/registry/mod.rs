//! A local `docker-registry` for tests that push and pull (Debian's package, started on
//! 127.0.0.1 with its storage in a temporary directory).

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const REGISTRY: &str = "/usr/bin/docker-registry";

/// A `docker-registry` serving from a temporary directory on 127.0.0.1; killed on drop.
pub(crate) struct Registry {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) addr: String,
    child: Child,
}

impl Registry {
    pub(crate) fn start() -> Registry {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Registry::start_with(
            format!("127.0.0.1:{port}"),
            |mut command| command.spawn().unwrap(),
            |addr| std::net::TcpStream::connect(addr).is_ok(),
        )
    }

    /// A `docker-registry` listening on `addr`, started by `spawn` (e.g. in a lab node's
    /// namespace), waited for until `listens(addr)`.
    pub(crate) fn start_with(
        addr: String,
        spawn: impl FnOnce(Command) -> Child,
        listens: impl Fn(&str) -> bool,
    ) -> Registry {
        assert!(
            Path::new(REGISTRY).exists(),
            "{REGISTRY} is missing: run scripts/install-deps.sh (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let mut command = Command::new(REGISTRY);
        command
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn(command);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listens(&addr) {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { dir, addr, child }
    }

    /// The file holding blob `digest` (`sha256:…`) in the registry's storage.
    pub(crate) fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
