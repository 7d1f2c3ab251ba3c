//! Differential builds against goldens made once with Docker: each directory under
//! `tests/dockerfiles/` is a build context with a `Dockerfile`; its `golden.json` holds what
//! Docker (BuildKit) built from it on the same busybox base: the image config's runtime fields
//! and, for each layer above the base, its entries (path, type, mode, owner, size, link
//! target; no times). `scripts/differential-goldens.sh` records them (how: see there).
//!
//! With `BOSUN_DIFF_BASE=FILE` the test writes the busybox base as a tar to FILE and stops;
//! with `BOSUN_DIFF_RECORD=DIR` it turns Docker's saved images `DIR/<case>.tar` into the
//! goldens instead of building.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use libtest_mimic::Failed;
use serde_json::{Value, json};

use super::{Bed, TestResult};

/// The config fields compared: what a container of the image runs with.
const CONFIG_KEYS: &[&str] = &[
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Healthcheck",
    "Labels",
    "OnBuild",
    "Shell",
    "StopSignal",
    "User",
    "Volumes",
    "WorkingDir",
];

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerfiles");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The files of a tar archive by name.
fn members(archive: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, Failed> {
    let mut out = BTreeMap::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(|e| format!("archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("archive entry: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| format!("archive path: {e}"))?
            .display()
            .to_string();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| format!("read {name}: {e}"))?;
        out.insert(name, data);
    }
    Ok(out)
}

/// One layer's entries, one line each, sorted.
fn layer_entries(data: &[u8]) -> Result<Vec<String>, Failed> {
    let plain = if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .map_err(|e| format!("gunzip a layer: {e}"))?;
        out
    } else {
        data.to_vec()
    };
    let mut lines = Vec::new();
    let mut tar = tar::Archive::new(&plain[..]);
    for entry in tar.entries().map_err(|e| format!("layer: {e}"))? {
        let entry = entry.map_err(|e| format!("layer entry: {e}"))?;
        let header = entry.header();
        let path = entry.path().map_err(|e| format!("layer path: {e}"))?;
        let path = path.display().to_string();
        let path = path.trim_start_matches("./").trim_end_matches('/');
        let mode = header.mode().map_err(|e| format!("mode of {path}: {e}"))? & 0o7777;
        let uid = header.uid().map_err(|e| format!("uid of {path}: {e}"))?;
        let gid = header.gid().map_err(|e| format!("gid of {path}: {e}"))?;
        let link = || {
            entry
                .link_name()
                .ok()
                .flatten()
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        };
        let what = match header.entry_type() {
            tar::EntryType::Directory => "dir".to_owned(),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                format!("file {}", header.size().unwrap_or_default())
            }
            tar::EntryType::Symlink => format!("symlink -> {}", link()),
            tar::EntryType::Link => format!("hardlink -> {}", link()),
            other => format!("{other:?}"),
        };
        lines.push(format!("{path} {what} {mode:o} {uid}:{gid}"));
    }
    lines.sort();
    Ok(lines)
}

/// What is compared of the first image in a `docker save`-shaped archive: the config's
/// runtime fields and the entries of every layer above the base.
fn describe(archive: &[u8]) -> Result<Value, Failed> {
    let files = members(archive)?;
    let manifest: Value = serde_json::from_slice(
        files
            .get("manifest.json")
            .ok_or("the archive has no manifest.json")?,
    )
    .map_err(|e| format!("manifest.json: {e}"))?;
    let image = &manifest[0];
    let file = |key: &Value| -> Result<&Vec<u8>, Failed> {
        let name = key.as_str().ok_or("manifest.json names no file")?;
        Ok(files
            .get(name)
            .ok_or_else(|| format!("{name} missing from the archive"))?)
    };
    let config: Value = serde_json::from_slice(file(&image["Config"])?)
        .map_err(|e| format!("image config: {e}"))?;
    let mut kept = serde_json::Map::new();
    for key in CONFIG_KEYS {
        match config["config"].get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(Value::Object(o)) if o.is_empty() => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(value) => {
                kept.insert((*key).to_owned(), value.clone());
            }
        }
    }
    let layers = image["Layers"]
        .as_array()
        .ok_or("manifest.json lists no layers")?;
    let mut described = Vec::new();
    for layer in layers.iter().skip(1) {
        described.push(json!(layer_entries(file(layer)?)?));
    }
    Ok(json!({"config": kept, "layers": described}))
}

/// Copies the context of a case (everything but its golden) into `to`.
fn copy_context(from: &Path, to: &Path) -> Result<(), Failed> {
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_name() == "golden.json" {
            continue;
        }
        if source.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("{e}"))?;
            copy_context(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(|e| format!("{}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// The lines of `want` and `got` that differ, as a readable list.
fn differences(want: &Value, got: &Value) -> String {
    let lines = |v: &Value| -> Vec<String> {
        serde_json::to_string_pretty(v)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let (w, g) = (lines(want), lines(got));
    let missing = w
        .iter()
        .filter(|l| !g.contains(l))
        .map(|l| format!("- {l}"));
    let extra = g
        .iter()
        .filter(|l| !w.contains(l))
        .map(|l| format!("+ {l}"));
    missing.chain(extra).collect::<Vec<_>>().join("\n")
}

/// Builds every case and compares it with Docker's golden.
pub(super) fn against_docker_goldens() -> TestResult {
    if let Some(path) = std::env::var_os("BOSUN_DIFF_BASE") {
        std::fs::write(&path, testkit::image::busybox_tar()).map_err(|e| format!("{e}"))?;
        return Ok(());
    }
    let record = std::env::var_os("BOSUN_DIFF_RECORD").map(PathBuf::from);
    let mut failures = Vec::new();
    for case in cases() {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let golden = case.join("golden.json");
        if let Some(dir) = &record {
            let archive = std::fs::read(dir.join(format!("{name}.tar")))
                .map_err(|e| format!("{name}: {e}"))?;
            let text =
                serde_json::to_string_pretty(&describe(&archive)?).map_err(|e| format!("{e}"))?;
            std::fs::write(&golden, text + "\n").map_err(|e| format!("{e}"))?;
            continue;
        }
        let want: Value = serde_json::from_slice(
            &std::fs::read(&golden).map_err(|e| format!("{}: {e}", golden.display()))?,
        )
        .map_err(|e| format!("{}: {e}", golden.display()))?;
        let bed = Bed::new();
        copy_context(&case, &bed.context)?;
        let dockerfile =
            std::fs::read_to_string(case.join("Dockerfile")).map_err(|e| format!("{name}: {e}"))?;
        let tag = format!("diff-{name}:1");
        bed.build(&tag, &dockerfile);
        let mut archive = Vec::new();
        bed.env
            .store
            .save(&[tag.as_str()], &mut archive)
            .map_err(|e| format!("save {tag}: {e}"))?;
        let got = describe(&archive)?;
        if got != want {
            failures.push(format!("{name}:\n{}", differences(&want, &got)));
        }
        bed.assert_clean();
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n\n").into())
    }
}
