//! A local `docker-registry` for tests that push and pull (Debian's package, started on
//! 127.0.0.1 with its storage in a temporary directory).

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const REGISTRY: &str = "/usr/bin/docker-registry";

/// The user of [`Registry::start_with_auth`].
pub(crate) const AUTH_USER: &str = "alice";
/// Its password.
pub(crate) const AUTH_PASSWORD: &str = "pw-7f3a9c-s3cret";
/// `AUTH_PASSWORD` hashed with bcrypt, as `docker-registry`'s htpasswd file wants it.
const AUTH_PASSWORD_BCRYPT: &str = "$2a$05$MftrmOrT1iRxBeOdYG/sqOcud8Y2y.Z1/pa1ZNB8eRazemxPgEIdS";

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

    /// A registry on 127.0.0.1 that wants basic auth: [`AUTH_USER`] with [`AUTH_PASSWORD`].
    pub(crate) fn start_with_auth() -> Registry {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Registry::start_configured(
            format!("127.0.0.1:{port}"),
            true,
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
        Registry::start_configured(addr, false, spawn, listens)
    }

    fn start_configured(
        addr: String,
        basic_auth: bool,
        spawn: impl FnOnce(Command) -> Child,
        listens: impl Fn(&str) -> bool,
    ) -> Registry {
        assert!(
            Path::new(REGISTRY).exists(),
            "{REGISTRY} is missing: run scripts/install-deps.sh (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("storage").display()
        );
        if basic_auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{AUTH_USER}:{AUTH_PASSWORD_BCRYPT}\n")).unwrap();
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: bosun-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, text).unwrap();
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
