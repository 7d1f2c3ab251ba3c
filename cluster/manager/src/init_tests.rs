//! `cluster init` on disk: the root CA's private key never lands in a file in clear, neither
//! in the first records waiting for the first leader nor in the raft database.

use std::path::Path;

use super::daemon::Manager;
use super::state::cluster_dir;
use cluster_state::{Batch, Command, Record, SealKey};

/// The base64 body lines of a PEM block (what a leak of the key would contain).
fn pem_body(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 16)
        .map(str::to_owned)
        .collect()
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn init_never_writes_the_ca_key_in_clear() {
    let root = tempfile::tempdir().unwrap();
    Manager::init(root.path(), "127.0.0.1:1", "127.0.0.1:1", "host", None).unwrap();
    let dir = cluster_dir(root.path());
    let bootstrap = std::fs::read(dir.join("bootstrap.json")).unwrap();
    let mut batch = Batch::decode(&bootstrap).unwrap();
    let Some(Command::Create(mut record)) = batch.commands.drain(..1).next() else {
        panic!("the bootstrap batch starts with the cluster record")
    };
    let Record::Cluster(sealed) = record.clone() else {
        panic!("the bootstrap batch starts with the cluster record")
    };
    assert!(
        sealed.ca_key_pem.starts_with("sealed:"),
        "{}",
        sealed.ca_key_pem
    );
    SealKey::load(&dir)
        .unwrap()
        .open_record(&mut record)
        .unwrap();
    let Record::Cluster(info) = record else {
        unreachable!("opened the cluster record")
    };
    let body = pem_body(&info.ca_key_pem);
    assert!(!body.is_empty(), "{}", info.ca_key_pem);
    for path in files(root.path()) {
        let data = std::fs::read(&path).unwrap();
        for line in &body {
            assert!(
                !data.windows(line.len()).any(|w| w == line.as_bytes()),
                "the ca key is in clear in {}",
                path.display()
            );
        }
    }
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.join("bootstrap.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
