//! `extends` over real files in a temporary directory, parsed with the crate's YAML reader.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::*;
use crate::yaml;

/// Writes `text` to `dir/name` (creating directories) and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

/// Reads and parses one compose file, as the loader's `load` would.
fn read(path: &Path) -> Result<Node> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let doc = yaml::parse(&text, Arc::from(path))?.into_iter().next();
    Ok(
        doc.unwrap_or_else(|| {
            Node::new(Value::Null, crate::yaml::Mark::new(Arc::from(path), 1, 1))
        }),
    )
}

/// Resolves the extends of `file`; returns the document and the files `load` was asked for.
fn resolve(file: &Path) -> (Result<Node>, Vec<PathBuf>) {
    let loaded = RefCell::new(Vec::new());
    let mut load = |p: &Path| {
        loaded.borrow_mut().push(p.to_path_buf());
        read(p)
    };
    let result =
        read(file).and_then(|mut doc| resolve_extends(&mut doc, file, &mut load).map(|()| doc));
    (result, loaded.into_inner())
}

/// The resolved services of `file` as JSON.
fn services(file: &Path) -> Json {
    resolve(file).0.unwrap().to_json()["services"].clone()
}

/// The diagnostic of a failed resolution: kind, `path: message` and the line it points at.
fn failure(file: &Path) -> (ErrorKind, String, usize) {
    let err = resolve(file).0.unwrap_err();
    let d = err.diagnostic().expect("a user error");
    (
        d.kind,
        format!("{}: {}", d.path, d.message),
        d.mark.as_ref().map_or(0, |m| m.line),
    )
}

#[test]
fn same_file_short_long_and_nested() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "compose.yaml",
        "\
services:
  core:
    image: core
    command: [core]
    environment: [A=1, B=2]
    ports: ['80:80']
  base:
    extends: core
    user: me
  web:
    extends: {service: base}
    command: web
    environment: {B: 3}
    ports: ['81:81', '80:80']
  nothing:
  from-nothing:
    extends: nothing
    image: x
",
    );
    let got = services(&file);
    assert_eq!(
        got["base"],
        json!({"image": "core", "command": ["core"], "environment": ["A=1", "B=2"], "ports": ["80:80"], "user": "me"})
    );
    assert_eq!(
        got["web"],
        json!({"image": "core", "command": "web", "environment": {"A": "1", "B": 3}, "ports": ["80:80", "81:81"], "user": "me"})
    );
    assert_eq!(
        got["core"],
        json!({"image": "core", "command": ["core"], "environment": ["A=1", "B=2"], "ports": ["80:80"]})
    );
    assert_eq!(got["from-nothing"], json!({"image": "x"}));
}

#[test]
fn other_file_is_read_once_and_rebased() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "lib/base.yaml",
        "\
services:
  app:
    build: .
    env_file: app.env
    volumes: ['./data:/data', 'named:/named', '/abs:/abs']
    label_file: [labels]
  worker:
    build: {dockerfile: Dockerfile.worker}
    volumes: [{type: bind, source: ../shared, target: /shared}]
",
    );
    let file = write(
        dir.path(),
        "compose.yaml",
        "\
services:
  web:
    extends: {file: lib/base.yaml, service: app}
    env_file: [web.env]
  worker:
    extends: {file: ./lib/../lib/base.yaml, service: worker}
",
    );
    let (doc, loaded) = resolve(&file);
    let got = doc.unwrap().to_json()["services"].clone();
    let root = dir.path().display().to_string();
    let lib = dir.path().join("lib").display().to_string();
    assert_eq!(
        got["web"],
        json!({
            "build": lib,
            "env_file": [format!("{lib}/app.env"), "web.env"],
            "volumes": [format!("{lib}/data:/data"), "named:/named", "/abs:/abs"],
            "label_file": [format!("{lib}/labels")],
        })
    );
    assert_eq!(
        got["worker"],
        json!({
            "build": {"dockerfile": "Dockerfile.worker", "context": lib},
            "volumes": [{"type": "bind", "source": format!("{root}/shared"), "target": "/shared"}],
        })
    );
    assert_eq!(loaded, vec![dir.path().join("lib/base.yaml")]);
}

#[test]
fn nested_across_directories() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "common/core.yaml",
        "services:\n  core:\n    image: core\n    env_file: core.env\n    build: {context: ctx}\n",
    );
    write(
        dir.path(),
        "sub/mid.yaml",
        "\
services:
  mid:
    extends: {file: ../common/core.yaml, service: core}
    env_file: mid.env
",
    );
    let file = write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    extends: {file: sub/mid.yaml, service: mid}\n",
    );
    let got = services(&file);
    let d = dir.path().display();
    assert_eq!(
        got["web"],
        json!({"image": "core", "env_file": [format!("{d}/common/core.env"), format!("{d}/sub/mid.env")], "build": {"context": format!("{d}/common/ctx")}})
    );
}

#[test]
fn cycles_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let same = write(
        dir.path(),
        "same.yaml",
        "services:\n  web:\n    extends: base\n  base:\n    extends: web\n",
    );
    let own = write(
        dir.path(),
        "own.yaml",
        "services:\n  web:\n    image: x\n    extends: web\n",
    );
    write(
        dir.path(),
        "other.yaml",
        "services:\n  base:\n    extends: {file: cross.yaml, service: web}\n",
    );
    let cross = write(
        dir.path(),
        "cross.yaml",
        "services:\n  web:\n    extends: {file: other.yaml, service: base}\n",
    );
    let cases = [
        (
            same,
            "services.base.extends: extends cycle: web -> base -> web",
            5,
        ),
        (own, "services.web.extends: extends cycle: web -> web", 4),
        (
            cross,
            "services.base.extends: extends cycle: web (cross.yaml) -> base (other.yaml) -> web (cross.yaml)",
            3,
        ),
    ];
    for (file, message, line) in cases {
        assert_eq!(failure(&file), (ErrorKind::Cycle, message.to_owned(), line));
    }
}

#[test]
fn unknown_service_or_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.yaml", "services:\n  app:\n    image: a\n");
    let cases = [
        (
            "services:\n  web:\n    extends: nope\n",
            ErrorKind::UndefinedReference,
            "services.web.extends: service \"nope\" not found",
        ),
        (
            "services:\n  web:\n    extends: {file: base.yaml, service: nope}\n",
            ErrorKind::UndefinedReference,
            "services.web.extends: service \"nope\" not found in base.yaml",
        ),
        (
            "services:\n  web:\n    extends: {file: base.yaml}\n",
            ErrorKind::Schema,
            "services.web.extends: extends requires a service name",
        ),
    ];
    for (i, (text, kind, message)) in cases.into_iter().enumerate() {
        let file = write(dir.path(), &format!("c{i}.yaml"), text);
        assert_eq!(failure(&file), (kind, message.to_owned(), 3), "case {i}");
    }
    let file = write(
        dir.path(),
        "missing.yaml",
        "services:\n  web:\n    extends: {file: gone.yaml, service: app}\n",
    );
    let (kind, message, line) = failure(&file);
    assert_eq!((kind, line), (ErrorKind::UndefinedReference, 3));
    assert!(
        message.starts_with("services.web.extends.file: cannot read extended file gone.yaml: "),
        "{message}"
    );
}

#[test]
fn tags_act_on_the_extended_service_and_later_merges() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: a\n    ports: ['80:80']\n",
    );
    let second = write(
        dir.path(),
        "override.yaml",
        "\
services:
  init:
    image: alpine
    command: sleep infinity
    environment: {A: '1', B: '2'}
  web:
    extends: init
    command: !reset
    environment: {A: !reset}
    ports: !reset []
",
    );
    let mut over = read(&second).unwrap();
    resolve_extends(&mut over, &second, &mut read).unwrap();
    let merged = merge::merge(read(&first).unwrap(), over).unwrap().to_json();
    assert_eq!(
        merged["services"]["web"],
        json!({"image": "alpine", "environment": {"B": "2"}})
    );
    assert_eq!(
        merged["services"]["init"]["command"],
        json!("sleep infinity")
    );
}

/// The compose-go loader test inputs, when present.
fn compose_go_testdata() -> Option<PathBuf> {
    let dir = Path::new("/work/shared/compose-spec/compose-go-testdata/loader/testdata/extends");
    dir.is_dir().then(|| dir.to_path_buf())
}

#[test]
fn compose_go_inputs() {
    let Some(data) = compose_go_testdata() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let extends = |file: &str, service: &str| {
        let text = format!(
            "services:\n  test:\n    extends: {{file: {}/{file}, service: {service}}}\n",
            data.display()
        );
        let root = write(dir.path(), "compose.yaml", &text);
        services(&root)["test"].clone()
    };
    assert_eq!(extends("base.yaml", "another"), json!({"image": "base"}));
    assert_eq!(
        extends("base.yaml", "with-build"),
        json!({"build": data.display().to_string()})
    );
    assert_eq!(extends("base.yaml", "nil"), json!({}));
    assert_eq!(
        extends("reset.yaml", "base"),
        json!({"image": "alpine:latest"})
    );
    assert_eq!(
        extends("depends_on.yaml", "with_depends_on"),
        json!({"image": "foo", "depends_on": ["zot"]})
    );
    assert_eq!(
        extends("depends_on.yaml", "with_network_mode"),
        json!({"image": "foo", "network_mode": "service:zot"})
    );
    assert_eq!(
        extends("withdir/compose.yaml", "test"),
        json!({"image": "hello-world"})
    );
    let ulimits = extends("base.yaml", "withUlimits");
    assert_eq!(ulimits["ulimits"]["nproc"], json!(65535));
}
