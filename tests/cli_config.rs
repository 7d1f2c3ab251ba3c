//! End-to-end: the real `bosun` binary on the compose corpus, as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("compose-spec/tests/data")
        .join(kind);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("corpus directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// `bosun` run in a case directory with the case's `args` and `env` files applied.
fn bosun_in_case(dir: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::cargo_bin("bosun").expect("binary");
    cmd.current_dir(dir)
        .env_clear()
        .env("HOME", "/home/user")
        .env("PATH", "/usr/bin:/bin");
    if let Ok(text) = std::fs::read_to_string(dir.join("env")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            cmd.env(k, v);
        }
    }
    let mut services = Vec::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("args")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (flag, value) = line.split_once(' ').unwrap_or((line, ""));
            match flag {
                "service" => services.push(value.to_string()),
                "--no-interpolate" => {}
                _ => {
                    cmd.arg(flag).arg(value);
                }
            }
        }
    }
    cmd.arg("config").args(extra);
    if text_has(dir, "--no-interpolate") {
        cmd.arg("--no-interpolate");
    }
    cmd.args(services);
    cmd.output().expect("runs")
}

fn text_has(dir: &Path, needle: &str) -> bool {
    std::fs::read_to_string(dir.join("args")).is_ok_and(|t| t.contains(needle))
}

#[test]
fn every_invalid_project_exits_1_with_one_clear_line() {
    let dirs = corpus("invalid");
    assert!(dirs.len() >= 50);
    for dir in dirs {
        let out = bosun_in_case(&dir, &[]);
        let stderr =
            String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "$CASE");
        let name = dir.display();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: exit code, stderr: {stderr}"
        );
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("warning: "))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "{name}: expected one error line, got: {stderr}"
        );
        assert!(errors[0].starts_with("error: "), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let expected = std::fs::read_to_string(dir.join("error.txt")).expect("error.txt");
        assert!(
            stderr.contains(expected.trim()),
            "{name}: {stderr} lacks {expected}"
        );
        assert!(out.stdout.is_empty(), "{name}: printed to stdout on error");
    }
}

#[test]
fn every_valid_project_prints_its_golden_output() {
    for dir in corpus("valid") {
        let out = bosun_in_case(&dir, &[]);
        let name = dir.display();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout =
            String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "$CASE");
        let expected = std::fs::read_to_string(dir.join("expected.yaml")).expect("golden");
        assert_eq!(stdout, expected, "{name}");
    }
}

#[test]
fn listing_flags_print_one_name_per_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webapp");
    let run = |flag: &str| {
        let out = Command::cargo_bin("bosun")
            .expect("binary")
            .current_dir(&dir)
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_PROFILES")
            .args(["config", flag])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert_eq!(run("--services"), "api\ncache\ndb\nweb\n");
    assert_eq!(run("--volumes"), "dbdata\n");
    assert_eq!(run("--networks"), "back\nfront\n");
    assert_eq!(
        run("--images"),
        "busybox:latest\nredis:7\npostgres:16\nbusybox:latest\n"
    );
    let hashes = run("--hash=*");
    assert_eq!(hashes.lines().count(), 4, "{hashes}");
    assert!(
        hashes
            .lines()
            .all(|l| l.split(' ').nth(1).is_some_and(|h| h.len() == 64)),
        "{hashes}"
    );
}

#[test]
fn quiet_validates_without_output_and_json_is_json() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webapp");
    let out = Command::cargo_bin("bosun")
        .expect("binary")
        .current_dir(&dir)
        .args(["config", "-q"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let out = Command::cargo_bin("bosun")
        .expect("binary")
        .current_dir(&dir)
        .args(["compose", "config", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(value["name"], "webapp");
}

#[test]
fn usage_errors_and_missing_files_are_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("bosun")
        .expect("binary")
        .current_dir(dir.path())
        .env_remove("COMPOSE_FILE")
        .args(["config"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");

    let out = Command::cargo_bin("bosun")
        .expect("binary")
        .args(["config", "--bogus"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn version_and_completion_work() {
    let out = Command::cargo_bin("bosun")
        .expect("binary")
        .args(["version", "--short"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env!("CARGO_PKG_VERSION")
    );
    let out = Command::cargo_bin("bosun")
        .expect("binary")
        .args(["completion", "bash"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("_bosun"));
}

#[test]
fn a_compose_file_on_standard_input_loads_against_the_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".env"), "TAG=7\n").expect("write .env");
    let run = |stdin: &str| {
        let mut cmd = Command::cargo_bin("bosun").expect("binary");
        cmd.current_dir(dir.path())
            .env_clear()
            .env("HOME", "/home/user")
            .env("PATH", "/usr/bin:/bin")
            .args(["-f", "-", "-p", "demo", "config"])
            .write_stdin(stdin)
            .output()
            .expect("run bosun")
    };
    let out = run("services: {web: {image: \"nginx:${TAG}\"}}\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("image: \"nginx:7\""), "{text}");

    let out = run("services: {web: {image: nginx, ports: 12}}\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(err.starts_with("error: -:1:"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
