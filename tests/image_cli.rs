//! End-to-end: `bosun image …` through the agent it starts (run as root): import, ls, inspect,
//! tag, rm, save → load, and push → pull against a local `docker-registry`, with a corrupted
//! blob rejected and nothing stored.

#![allow(clippy::unwrap_used)]

mod image_env;
use testkit::teardown;
mod test_images;

use image_env::{Env, text};
mod registry;
use registry::Registry;
use serde_json::Value;

fn inspect(env: &Env, image: &str) -> Value {
    let docs: Value = serde_json::from_str(&env.ok("image", &["inspect", image])).unwrap();
    docs[0].clone()
}

#[test]
fn import_ls_inspect_tag_rm() {
    let env = Env::new();
    let id = env.import_busybox("busybox:test");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let ls = env.ok("image", &["ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert!(lines[0].starts_with("REPOSITORY   TAG    IMAGE ID"), "{ls}");
    assert!(
        lines[1].starts_with("busybox      test   ") && lines[1].contains(&id[7..19]),
        "{ls}"
    );

    let doc = inspect(&env, "busybox:test");
    assert_eq!(doc["Id"], id);
    assert_eq!(doc["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(doc["RepoTags"], serde_json::json!(["busybox:test"]));
    assert_eq!(doc["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // By unique id prefix too.
    assert_eq!(inspect(&env, &id[7..19])["Id"], id);

    env.ok(
        "image",
        &["tag", "busybox:test", "localhost:5000/tools/bb:v1"],
    );
    // One line per tag, with docker's field names.
    assert_eq!(
        env.ok("image", &["ls", "--format", "json"])
            .lines()
            .map(|l| {
                let row = serde_json::from_str::<Value>(l).unwrap();
                format!("{}:{} {}", row["Repository"], row["Tag"], row["ID"])
            })
            .collect::<Vec<_>>(),
        [
            format!("\"busybox\":\"test\" \"{}\"", &id[7..19]),
            format!("\"localhost:5000/tools/bb\":\"v1\" \"{}\"", &id[7..19]),
        ]
    );
    assert_eq!(
        env.ok("image", &["ls", "-q", "localhost:5000/*"]),
        format!("{}\n", &id[7..19])
    );
    let history = env.ok("image", &["history", "busybox:test"]);
    assert!(history.contains("bosun image import"), "{history}");

    assert_eq!(
        env.ok("image", &["rm", "busybox:test"]),
        "Untagged: busybox:test\n"
    );
    assert_eq!(
        env.ok("image", &["rm", "localhost:5000/tools/bb:v1"]),
        format!("Untagged: localhost:5000/tools/bb:v1\nDeleted: {id}\n")
    );
    assert_eq!(env.ok("image", &["ls", "-aq"]), "");
    assert_eq!(
        env.blob_count(),
        0,
        "removing the last image frees its blobs"
    );
    let err = env.fails("image", &["inspect", "busybox:test"]);
    assert!(err.contains("no such image: busybox:test"), "{err}");
    let err = env.fails("image", &["rm", "Bad Name"]);
    assert!(err.contains("invalid reference format"), "{err}");
}

#[test]
fn save_then_load_roundtrip_by_file_and_stdin() {
    let env = Env::new();
    let id = env.import_busybox("busybox:test");
    let archive = env.tmp.path().join("bb.tar");
    env.ok(
        "image",
        &["save", "-o", archive.to_str().unwrap(), "busybox:test"],
    );
    env.ok("image", &["rm", "busybox:test"]);
    assert_eq!(env.ok("image", &["ls", "-aq"]), "");

    let out = env.ok("image", &["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: busybox:test\n");
    assert_eq!(inspect(&env, "busybox:test")["Id"], id);

    env.ok("image", &["rm", "-f", "busybox:test"]);
    let out = env
        .command("image", &["load"])
        .stdin(std::fs::File::open(&archive).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Loaded image: busybox:test\n");
    assert_eq!(inspect(&env, "busybox:test")["Id"], id);

    // A truncated archive is an error and stores nothing new.
    env.ok("image", &["rm", "-f", "busybox:test"]);
    let data = std::fs::read(&archive).unwrap();
    let cut = env.tmp.path().join("cut.tar");
    std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let err = env.fails("image", &["load", "-i", cut.to_str().unwrap()]);
    assert!(err.contains("error:"), "{err}");
    assert_eq!(env.ok("image", &["ls", "-aq"]), "");
    assert_eq!(env.blob_count(), 0, "a failed load leaves no blobs");
}

#[test]
fn push_pull_through_a_local_registry_and_reject_a_corrupted_blob() {
    let registry = Registry::start();
    let env = Env::new();
    let id = env.import_busybox("busybox:test");
    let remote = format!("{}/tests/busybox:test", registry.addr);
    env.ok("image", &["tag", "busybox:test", &remote]);
    let out = env.run("image", &["push", &remote]);
    assert!(out.status.success(), "push: {}", text(&out.stderr));
    let digest = text(&out.stdout).trim().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(
        text(&out.stderr).contains("Pushed"),
        "{}",
        text(&out.stderr)
    );
    // A second push finds every blob there.
    let again = env.run("image", &["push", &remote]);
    assert!(
        text(&again.stderr).contains("Layer already exists"),
        "{}",
        text(&again.stderr)
    );

    env.ok("image", &["rm", "-f", "busybox:test"]);
    env.ok("image", &["rm", "-f", &remote]);
    assert_eq!(env.blob_count(), 0);

    let out = env.run("image", &["pull", &remote]);
    assert!(out.status.success(), "pull: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Pull complete"),
        "{}",
        text(&out.stderr)
    );
    let doc = inspect(&env, &remote);
    assert_eq!(doc["Id"], id, "the pulled image is the pushed one");
    assert_eq!(doc["Manifest"]["Digest"], digest);
    assert_eq!(
        doc["RepoDigests"],
        serde_json::json!([format!("{}/tests/busybox@{digest}", registry.addr)])
    );
    // By digest as well.
    env.ok(
        "image",
        &["pull", &format!("{}/tests/busybox@{digest}", registry.addr)],
    );

    // Corrupt the layer in the registry's storage: the pull fails and stores nothing.
    env.ok("image", &["rm", "-f", &id]);
    assert_eq!(env.blob_count(), 0);
    let layer = doc["RootFS"]["Layers"][0].as_str().unwrap().to_string();
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let err = env.fails("image", &["pull", &remote]);
    assert!(err.contains(&format!("blob {layer} rejected")), "{err}");
    assert!(err.to_lowercase().contains("digest"), "{err}");
    assert_eq!(env.ok("image", &["ls", "-aq"]), "");
    assert_eq!(env.blob_count(), 0, "nothing of the failed pull is stored");
    let tmp = std::fs::read_dir(env.data_root().join("image/blobs/tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "no partial blob left");
}

#[test]
fn pull_of_a_missing_image_and_login_logout() {
    let registry = Registry::start();
    let env = Env::new();
    env.start_agent();
    let err = env.fails(
        "image",
        &["pull", &format!("{}/nothing/here:1", registry.addr)],
    );
    assert!(err.contains("pull"), "{err}");
    assert_eq!(env.ok("image", &["ls", "-aq"]), "");

    // The registry needs no credentials: login stores them (0600) and logout forgets them.
    let mut login = std::process::Command::new(image_env::BOSUN);
    login
        .env("BOSUN_CONFIG", env.tmp.path().join("config"))
        .args(["login", "-u", "alice", "--password-stdin", &registry.addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Login Succeeded\n");
    let file = env.tmp.path().join("config/auth.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["auths"][&registry.addr]["username"], "alice");
    let out = std::process::Command::new(image_env::BOSUN)
        .env("BOSUN_CONFIG", env.tmp.path().join("config"))
        .args(["logout", &registry.addr])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("Removing login credentials for {}\n", registry.addr)
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(saved["auths"].as_object().unwrap().is_empty());
}
