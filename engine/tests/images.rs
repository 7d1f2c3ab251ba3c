//! Image store integration tests (run as root): import and run, save/load round trips,
//! hand-assembled legacy and OCI archives, layer dedup, whiteouts, the hostile-tar corpus,
//! many-layer overlays and in-use refusal. The binary doubles as the runtime's re-exec target.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use engine::ContainerState;
use engine::image::{BuiltLayer, Digest, ImageError, ImageRef, ImageStore, Removed, extract_layer};
use engine::spec::ContainerSpec;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::json;
use testkit::image::{E, Env, busybox_tar, gzip, mounts_under, tar_of};

type TestResult = Result<(), Failed>;
type Case = (&'static str, fn() -> TestResult);

fn import_and_run_a_container() -> TestResult {
    let env = Env::new();
    let image = env.import_busybox(
        "bb:1",
        &[
            r#"ENTRYPOINT ["/bin/sh", "-c"]"#,
            r#"CMD ["echo $GREETING; pwd; echo hi > /written"]"#,
            "ENV GREETING=hello",
            "WORKDIR /srv",
        ],
    );
    let info = env.store.inspect("bb:1")?;
    assert_eq!(info.summary.repo_tags, vec!["bb:1".to_string()]);
    let config = info.config.clone().ok_or("no run config")?;
    let dir = env.data_root().join("containers-rootfs/c1");
    let rootfs = env.store.create_rootfs("c1", "bb:1", &dir)?;
    let mut args = config.entrypoint().clone().unwrap_or_default();
    args.extend(config.cmd().clone().unwrap_or_default());
    let mut spec = ContainerSpec::new(&rootfs, args);
    spec.env = config.env().clone().unwrap_or_default();
    spec.cwd = config.working_dir().clone().unwrap_or_default().into();
    let rt = env.runtime();
    let (state, out) = env.run(&rt, "c1", &spec);
    assert_eq!(
        state,
        ContainerState::Exited {
            code: 0,
            oom_killed: false
        },
        "{out}"
    );
    assert_eq!(out, "hello\n/srv\n");
    // The write went to the container's upper dir, never into the shared layer.
    assert_eq!(fs::read_to_string(dir.join("upper/written"))?, "hi\n");
    let layer = env.store.layers().diff_dir(&image.layers[0].chain_id);
    assert!(!layer.join("written").exists());
    rt.remove("c1", true)?;
    env.store.remove_rootfs("c1", &dir)?;
    assert!(!dir.exists());
    assert!(mounts_under(env.tmp.path()).is_empty());
    Ok(())
}

fn save_load_round_trip() -> TestResult {
    let env = Env::new();
    let image = env.import_busybox("app:v1", &["CMD [\"sh\"]"]);
    let mut archive = Vec::new();
    env.store.save(&["app:v1"], &mut archive)?;
    // The archive has both layouts docker load reads.
    let mut names = BTreeSet::new();
    for entry in tar::Archive::new(&archive[..]).entries()? {
        names.insert(entry?.path()?.display().to_string());
    }
    for want in ["manifest.json", "index.json", "oci-layout"] {
        assert!(names.contains(want), "{want} missing: {names:?}");
    }
    let other = Env::new();
    let loaded = other.store.load(&mut &archive[..])?;
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, image.id);
    assert_eq!(loaded[0].names, vec!["app:v1".to_string()]);
    let record = other.store.resolve("app:v1")?;
    assert_eq!(
        record.manifest, image.manifest,
        "manifest digest survives the round trip"
    );
    assert_eq!(
        other.store.inspect("app:v1")?.summary.repo_digests,
        vec![format!("app@{}", image.manifest)]
    );
    let dir = other.tmp.path().join("rfs");
    let merged = other.store.create_rootfs("x", "app:v1", &dir)?;
    assert!(merged.join("bin/busybox").is_file());
    other.store.remove_rootfs("x", &dir)?;
    // A corrupted archive blob is rejected and leaves nothing behind.
    let third = Env::new();
    let mut bad = archive.clone();
    let pos = bad
        .windows(7)
        .position(|w| w == b"busybox")
        .ok_or("no busybox bytes")?;
    let layer_hit = bad[pos + 600..]
        .windows(4)
        .position(|w| w == b"\x7fELF")
        .ok_or("no ELF")?;
    bad[pos + 600 + layer_hit + 100] ^= 0xff;
    let err = third.store.load(&mut &bad[..]).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(third.store.list()?.is_empty());
    assert!(
        third.store.blobs().list()?.is_empty(),
        "blobs left after a failed load"
    );
    Ok(())
}

/// A legacy `docker save` archive: `<id>.json` config, `<dir>/layer.tar` layers (gzip'd when
/// `gz`), manifest.json with RepoTags.
fn legacy_archive(tag: &str, layers: &[Vec<u8>], gz: bool) -> (Vec<u8>, Digest) {
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let id = Digest::of(&config);
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut paths = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let path = format!("layer{i}/layer.tar");
        let data = if gz { gzip(layer) } else { layer.clone() };
        add(&mut b, &path, &data);
        paths.push(path);
    }
    add(&mut b, &format!("{}.json", id.hex()), &config);
    let manifest = serde_json::to_vec(
        &json!([{"Config": format!("{}.json", id.hex()), "RepoTags": [tag], "Layers": paths}]),
    )
    .unwrap();
    add(&mut b, "manifest.json", &manifest);
    (b.into_inner().unwrap(), id)
}

/// An archive whose manifest lists nothing is refused by what it lacks, not as a missing file.
fn empty_manifests_are_named() -> TestResult {
    let env = Env::new();
    let cases = [
        (
            tar_of(&[E::File("manifest.json", b"[]")]),
            "manifest.json lists no image",
        ),
        (
            tar_of(&[E::File(
                "index.json",
                br#"{"schemaVersion":2,"manifests":[]}"#,
            )]),
            "index.json lists no image manifest",
        ),
        (
            tar_of(&[E::File("other.txt", b"x")]),
            "neither index.json nor manifest.json found",
        ),
    ];
    for (archive, want) in cases {
        let err = env.store.load(&mut &archive[..]).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: got {err}");
    }
    Ok(())
}

fn legacy_and_oci_layout_archives() -> TestResult {
    let env = Env::new();
    let (legacy, id) = legacy_archive("old:style", &[busybox_tar()], true);
    let loaded = env.store.load(&mut &legacy[..])?;
    assert_eq!(loaded[0].id, id);
    let record = env.store.resolve("old:style")?;
    assert!(record.layers[0].media_type.ends_with("+gzip"));
    // An OCI layout directory with a zstd layer, named by annotation.
    let layer = tar_of(&[E::Dir("etc/"), E::File("etc/os-release", b"ID=oci\n")]);
    let zst = zstd::encode_all(&layer[..], 3)?;
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&layer).to_string()]},
    }))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::of(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": Digest::of(&zst).to_string(), "size": zst.len()}],
    }))?;
    let layout = env.tmp.path().join("layout");
    fs::create_dir_all(layout.join("blobs/sha256"))?;
    for blob in [&zst, &config, &manifest] {
        fs::write(
            layout.join("blobs/sha256").join(Digest::of(blob).hex()),
            blob,
        )?;
    }
    fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": Digest::of(&manifest).to_string(), "size": manifest.len(),
         "platform": {"architecture": "amd64", "os": "linux"},
         "annotations": {"org.opencontainers.image.ref.name": "example.com/oci/app:2"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", "1".repeat(64)), "size": 1,
         "platform": {"architecture": "s390x", "os": "linux"}}]});
    fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    let loaded = env.store.load_dir(&layout)?;
    assert_eq!(loaded.len(), 1, "the other platform is skipped");
    assert_eq!(loaded[0].names, vec!["example.com/oci/app:2".to_string()]);
    let dir = env.tmp.path().join("rfs");
    let merged = env
        .store
        .create_rootfs("oci", "example.com/oci/app:2", &dir)?;
    assert_eq!(
        fs::read_to_string(merged.join("etc/os-release"))?,
        "ID=oci\n"
    );
    env.store.remove_rootfs("oci", &dir)?;
    Ok(())
}

fn built_images_and_layer_stack_rootfs() -> TestResult {
    let env = Env::new();
    let base = env.import_busybox("bb:1", &[]);
    let chains: Vec<Digest> = base.layers.iter().map(|l| l.chain_id.clone()).collect();
    let dir = env.data_root().join("build-rootfs");
    let merged = env
        .store
        .create_rootfs_from_layers("step-1", &chains, &dir)?;
    assert!(merged.join("bin/busybox").exists());
    fs::write(merged.join("new-file"), "x")?;
    assert_eq!(env.store.rootfs_owners()?, vec!["step-1".to_string()]);
    assert!(
        env.store
            .create_rootfs_from_layers(
                "step-2",
                &[Digest::of(b"absent")],
                &env.data_root().join("r2")
            )
            .is_err(),
        "a layer that is not unpacked"
    );
    env.store.remove_rootfs("step-1", &dir)?;
    assert!(!dir.exists() && env.store.rootfs_owners()?.is_empty());
    let layer = &base.layers[0];
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"], "Healthcheck": {"Test": ["NONE"]}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created_by": "built"}],
    });
    let built = env.store.add_built(
        &serde_json::to_vec(&config)?,
        &[BuiltLayer {
            blob: layer.blob.clone(),
            media_type: layer.media_type.clone(),
        }],
        &[ImageRef::parse("built:1")?],
    )?;
    assert_eq!(env.store.resolve("built:1")?.id, built.id);
    assert_eq!(
        built.layers[0].chain_id, layer.chain_id,
        "the layer is shared"
    );
    let raw: serde_json::Value = serde_json::from_slice(&env.store.blobs().read(&built.id)?)?;
    assert_eq!(
        raw["config"]["Healthcheck"]["Test"][0], "NONE",
        "the config is stored as given"
    );
    let missing = env.store.add_built(
        &serde_json::to_vec(&config)?,
        &[BuiltLayer {
            blob: Digest::of(b"absent"),
            media_type: layer.media_type.clone(),
        }],
        &[],
    );
    assert!(missing.is_err());
    Ok(())
}

fn layer_dedup_and_whiteouts() -> TestResult {
    let env = Env::new();
    let base = tar_of(&[
        E::Dir("a/"),
        E::File("a/gone", b"1"),
        E::File("a/kept", b"2"),
        E::Dir("d/"),
        E::File("d/old", b"3"),
    ]);
    let top = tar_of(&[
        E::File("a/.wh.gone", b""),
        E::Dir("d/"),
        E::File("d/.wh..wh..opq", b""),
        E::File("d/new", b"4"),
    ]);
    let (one, _) = legacy_archive("one:1", std::slice::from_ref(&base), false);
    let (two, _) = legacy_archive("two:1", &[base.clone(), top], false);
    env.store.load(&mut &one[..])?;
    env.store.load(&mut &two[..])?;
    let chains = env.store.layers().list()?;
    assert_eq!(
        chains.len(),
        2,
        "the shared base layer is unpacked once: {chains:?}"
    );
    let base_chain = Digest::of(&base);
    assert!(chains.contains(&base_chain));
    let two_rec = env.store.resolve("two:1")?;
    assert_eq!(two_rec.layers[0].chain_id, base_chain);
    let dir = env.tmp.path().join("rfs");
    let merged = env.store.create_rootfs("w", "two:1", &dir)?;
    let list = |p: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(&merged.join("a")), vec!["kept"]);
    assert_eq!(list(&merged.join("d")), vec!["new"]);
    env.store.remove_rootfs("w", &dir)?;
    Ok(())
}

/// Snapshot of every path under `dir` except `skip`, with file contents.
fn snapshot(dir: &Path, skip: &Path) -> BTreeSet<(PathBuf, Vec<u8>)> {
    let mut out = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.starts_with(skip) {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let content = if m.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            if m.is_dir() {
                pending.push(p.clone());
            }
            out.insert((p, content));
        }
    }
    out
}

fn hostile_tar_corpus() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let host = tmp.path().join("host");
    fs::create_dir_all(host.join("etc"))?;
    fs::write(host.join("etc/passwd"), b"host secret")?;
    let host_abs = host.display().to_string();
    let passwd_abs = format!("{host_abs}/etc/passwd");
    let rustsec_dir = format!("{host_abs}/rustsec");
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "dotdot file",
            tar_of(&[E::File("../../host/etc/passwd", b"pwned")]),
            false,
        ),
        (
            "inner dotdot",
            tar_of(&[E::File("a/../../x", b"pwned")]),
            false,
        ),
        (
            "absolute path",
            tar_of(&[E::File(&passwd_abs, b"pwned")]),
            true,
        ),
        (
            "symlink then write through",
            tar_of(&[
                E::Symlink("link", &format!("{host_abs}/etc")),
                E::File("link/passwd", b"pwned"),
            ]),
            true,
        ),
        (
            "RUSTSEC-2021-0080 dir via symlink",
            tar_of(&[
                E::Symlink("foo", "../../../../../../../../"),
                E::Dir(&format!("foo{rustsec_dir}/")),
                E::File(&format!("foo{rustsec_dir}/x"), b"pwned"),
            ]),
            true,
        ),
        (
            "relative symlink escape",
            tar_of(&[
                E::Symlink("up", "../../.."),
                E::Dir("up/made/"),
                E::File("up/made/f", b"pwned"),
            ]),
            true,
        ),
        (
            "file replaces symlink",
            tar_of(&[E::Symlink("p", &passwd_abs), E::File("p", b"pwned")]),
            true,
        ),
        (
            "hardlink out of root",
            tar_of(&[E::Hardlink("h", "../../host/etc/passwd")]),
            false,
        ),
        (
            "hardlink to absolute host file",
            tar_of(&[E::Hardlink("h", &passwd_abs)]),
            false,
        ),
        (
            "hardlink through symlink dir",
            tar_of(&[
                E::Symlink("s", &format!("{host_abs}/etc")),
                E::Hardlink("h", "s/passwd"),
            ]),
            false,
        ),
        (
            "device nodes",
            tar_of(&[E::Device("sda", 8, 0, true), E::Device("mem", 1, 1, false)]),
            true,
        ),
        (
            "setuid file",
            tar_of(&[E::FileMode("suid", b"#!", 0o4755)]),
            true,
        ),
        (
            "whiteout of dotdot",
            tar_of(&[E::File("../.wh.host", b"")]),
            false,
        ),
    ];
    let mut escapes = Vec::new();
    for (name, tar, should_succeed) in cases {
        let before = snapshot(tmp.path(), &tmp.path().join("dest"));
        let dest = tmp.path().join("dest");
        fs::create_dir_all(&dest)?;
        let result = extract_layer(&tar[..], &dest, name);
        assert_eq!(result.is_ok(), should_succeed, "{name}: {result:?}");
        if name == "device nodes" {
            assert_eq!(result.as_ref().unwrap().skipped_devices, 2);
            assert_eq!(fs::read_dir(&dest)?.count(), 0, "no device node created");
        }
        if name == "setuid file" {
            assert_eq!(fs::metadata(dest.join("suid"))?.mode() & 0o7777, 0o4755);
        }
        if snapshot(tmp.path(), &dest) != before {
            escapes.push(name);
        }
        fs::remove_dir_all(&dest)?;
    }
    assert_eq!(fs::read(host.join("etc/passwd"))?, b"host secret");
    assert!(escapes.is_empty(), "entries escaped the layer: {escapes:?}");
    // Set-id programs in unpacked layers are out of reach of host users.
    let env = Env::new();
    assert_eq!(
        fs::metadata(env.store.root())?.permissions().mode() & 0o777,
        0o700
    );
    Ok(())
}

fn many_layers_fit_one_mount() -> TestResult {
    let env = Env::new();
    let layers: Vec<Vec<u8>> = (0..125)
        .map(|i| tar_of(&[E::File(&format!("f{i}"), format!("{i}").as_bytes())]))
        .collect();
    let (archive, _) = legacy_archive("tall:1", &layers, false);
    env.store.load(&mut &archive[..])?;
    let dir = env.tmp.path().join("rfs");
    let full_paths: usize = env
        .store
        .layers()
        .list()?
        .iter()
        .map(|c| env.store.layers().diff_dir(c).display().to_string().len() + 1)
        .sum();
    assert!(
        full_paths > 4096,
        "the test must exceed a page with plain paths ({full_paths})"
    );
    let merged = env.store.create_rootfs("tall", "tall:1", &dir)?;
    assert_eq!(fs::read_to_string(merged.join("f0"))?, "0");
    assert_eq!(fs::read_to_string(merged.join("f124"))?, "124");
    env.store.remove_rootfs("tall", &dir)?;
    Ok(())
}

fn removal_of_an_image_in_use_is_refused() -> TestResult {
    let env = Env::new();
    let image = env.import_busybox("used:1", &[]);
    env.store.tag("used:1", "alias:1")?;
    let dir = env.tmp.path().join("rfs");
    env.store.create_rootfs("c1", "used:1", &dir)?;
    // Removing one of two tags only untags.
    assert_eq!(
        env.store.remove("alias:1", false, &|_| false)?,
        vec![Removed::Untagged("alias:1".into())]
    );
    let err = env.store.remove("used:1", false, &|_| false).unwrap_err();
    assert!(
        err.to_string().contains("is being used by a container"),
        "{err}"
    );
    env.store.remove_rootfs("c1", &dir)?;
    let err = env
        .store
        .remove(image.id.hex(), false, &|id| *id == image.id)
        .unwrap_err();
    assert!(matches!(err, ImageError::Conflict { .. }), "{err}");
    let removed = env.store.remove("used:1", false, &|_| false)?;
    assert_eq!(removed.last(), Some(&Removed::Deleted(image.id.clone())));
    assert!(env.store.list()?.is_empty());
    assert!(env.store.layers().list()?.is_empty(), "layers swept");
    assert!(env.store.blobs().list()?.is_empty(), "blobs swept");
    // A forced removal of an image in use keeps its layers for the rootfs.
    env.import_busybox("used:2", &[]);
    env.store.create_rootfs("c2", "used:2", &dir)?;
    env.store.remove("used:2", true, &|_| false)?;
    assert_eq!(env.store.layers().list()?.len(), 1);
    env.store.remove_rootfs("c2", &dir)?;
    let report = env.store.prune(true, &|_| false)?;
    assert!(report.space_reclaimed > 0);
    assert!(env.store.layers().list()?.is_empty());
    Ok(())
}

fn reopened_store_and_history() -> TestResult {
    let env = Env::new();
    env.import_busybox("h:1", &["CMD [\"sh\"]"]);
    let store = ImageStore::open(&env.data_root())?;
    let err = store.history("h").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no such image: h",
        "h means h:latest, not h:1"
    );
    let history = store.history("h:1")?;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].created_by, "bosun image import");
    assert!(
        history[0].size > 1_000_000,
        "busybox layer size: {}",
        history[0].size
    );
    Ok(())
}

fn main() {
    if let Some(code) = engine::entry::dispatch_from_env() {
        std::process::exit(code);
    }
    let args = Arguments::from_args();
    let tests: Vec<Case> = vec![
        ("import_and_run_a_container", import_and_run_a_container),
        ("save_load_round_trip", save_load_round_trip),
        (
            "legacy_and_oci_layout_archives",
            legacy_and_oci_layout_archives,
        ),
        ("empty_manifests_are_named", empty_manifests_are_named),
        ("layer_dedup_and_whiteouts", layer_dedup_and_whiteouts),
        (
            "built_images_and_layer_stack_rootfs",
            built_images_and_layer_stack_rootfs,
        ),
        ("hostile_tar_corpus", hostile_tar_corpus),
        ("many_layers_fit_one_mount", many_layers_fit_one_mount),
        (
            "removal_of_an_image_in_use_is_refused",
            removal_of_an_image_in_use_is_refused,
        ),
        ("reopened_store_and_history", reopened_store_and_history),
    ];
    let trials = tests.into_iter().map(|(n, f)| Trial::test(n, f)).collect();
    libtest_mimic::run(&args, trials).exit();
}
