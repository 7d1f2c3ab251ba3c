use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

fn shown() -> Arc<Path> {
    Arc::from(Path::new("compose.yaml"))
}

fn message(path: &Path, role: Role) -> String {
    match text(path, role, shown()) {
        Ok(text) => panic!("{} read as {} bytes", path.display(), text.len()),
        Err(e) => e.to_string(),
    }
}

fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
    path
}

#[test]
fn devices_fifos_and_directories_are_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo(dir.path());
    let started = Instant::now();
    for (path, what) in [
        (Path::new("/dev/zero"), "a character device"),
        (Path::new("/dev/urandom"), "a character device"),
        (fifo.as_path(), "a fifo"),
        (dir.path(), "a directory"),
    ] {
        for role in [Role::Compose, Role::Env] {
            assert_eq!(
                message(path, role),
                format!("{}: not a regular file ({what})", path.display())
            );
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn files_over_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.env");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(MAX_ENV_FILE_BYTES + 1).unwrap();
    assert_eq!(
        message(&big, Role::Env),
        format!("{}: larger than the 4 MiB allowed", big.display())
    );
    file.set_len(MAX_ENV_FILE_BYTES).unwrap();
    let text = text(&big, Role::Compose, shown()).unwrap();
    assert_eq!(text.len() as u64, MAX_ENV_FILE_BYTES);
    assert_eq!(
        bytes(&big, 10).unwrap_err().kind(),
        io::ErrorKind::FileTooLarge
    );
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compose.yaml");
    std::fs::write(&path, b"services:\n  web:\n    image: \xc3\xa9\xff\n").unwrap();
    let err = text(&path, Role::Compose, shown()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "compose.yaml:3:13: invalid UTF-8: byte 0xff cannot start or continue a character \
         here, expected UTF-8 text"
    );
    assert_eq!(err.kind(), ErrorKind::Syntax);
    std::fs::write(&path, b"A=1\n\xe9\n").unwrap();
    let err = text(&path, Role::Env, shown()).unwrap_err();
    assert!(err.to_string().starts_with("compose.yaml:2:1: "), "{err}");
    assert_eq!(err.kind(), ErrorKind::EnvFile);
}

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compose.yaml");
    std::fs::write(&path, "\u{feff}services: {}\n\u{feff}").unwrap();
    assert_eq!(
        text(&path, Role::Compose, shown()).unwrap(),
        "services: {}\n\u{feff}"
    );
}
