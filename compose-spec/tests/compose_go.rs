//! The inputs of compose-go's own loader and CLI tests, loaded with the behaviour compose-go's
//! tests document for each of them: the services present, values after `extends`, `include` and
//! interpolation, project names, and which inputs must fail (dependency cycles, a service that
//! depends on itself, include cycles, remote files that cannot be fetched offline).
//!
//! The inputs live outside the repository, in `../shared/compose-spec/compose-go-testdata`
//! relative to the repository root; every test prints a note and passes when that directory is
//! absent. Nothing is written there: inputs of our own go to a temporary directory and name the
//! shared files by absolute path.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use compose_spec::discovery::ProjectOptions;
use compose_spec::env::Environment;
use compose_spec::loader::{self, LoadOptions, Loaded};
use compose_spec::{ErrorKind, Result, model};
use serde_json::{Value, json};

/// The compose-go testdata root, or None (with a note on stderr) when it is not there.
fn testdata() -> Option<PathBuf> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compose-spec/compose-go-testdata");
    match dir.canonicalize() {
        Ok(dir) if dir.is_dir() => Some(dir),
        _ => {
            eprintln!(
                "note: {} is absent, skipping the compose-go testdata test",
                dir.display()
            );
            None
        }
    }
}

/// compose-go's `loader/testdata`.
fn loader_dir() -> Option<PathBuf> {
    testdata().map(|d| d.join("loader/testdata"))
}

/// compose-go's `cli/testdata`.
fn cli_dir() -> Option<PathBuf> {
    testdata().map(|d| d.join("cli/testdata"))
}

/// How one load is invoked, like a command line.
#[derive(Default)]
struct Invocation {
    files: Vec<PathBuf>,
    working_dir: Option<PathBuf>,
    env: Vec<(&'static str, &'static str)>,
    name: Option<&'static str>,
    env_files: Vec<PathBuf>,
}

impl Invocation {
    fn files(files: &[PathBuf]) -> Self {
        Self {
            files: files.to_vec(),
            ..Self::default()
        }
    }

    fn env(mut self, env: &[(&'static str, &'static str)]) -> Self {
        self.env = env.to_vec();
        self
    }

    fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }

    fn load(&self) -> Result<Loaded> {
        let working_dir = self.working_dir.clone().unwrap_or_else(|| {
            self.files
                .first()
                .and_then(|f| f.parent())
                .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
        });
        let mut env: Environment = [("HOME", "/home/user")].into_iter().collect();
        for (k, v) in &self.env {
            env.set(*k, *v);
        }
        loader::load(&LoadOptions {
            project: ProjectOptions {
                files: self.files.clone(),
                project_name: self.name.map(str::to_string),
                env_files: self.env_files.clone(),
                working_dir,
                environment: env,
                ..Default::default()
            },
            interpolate: true,
            ..Default::default()
        })
    }
}

/// Loads `files` under project name `test`, expecting success; the canonical project as JSON.
fn config(files: &[PathBuf], env: &[(&'static str, &'static str)]) -> Value {
    let loaded = Invocation::files(files)
        .env(env)
        .name("test")
        .load()
        .unwrap_or_else(|e| panic!("{files:?} should load: {e}"));
    model::to_json(&loaded.project)
}

/// Loads `files`, expecting failure; the error kind and its one-line message.
fn failure(files: &[PathBuf]) -> (ErrorKind, String) {
    match Invocation::files(files).name("test").load() {
        Ok(loaded) => panic!(
            "{files:?} should fail, loaded:\n{}",
            compose_spec::render::to_yaml(&loaded.project, loaded.dollars).unwrap()
        ),
        Err(e) => (e.kind(), e.to_string()),
    }
}

/// A compose file of our own in a fresh temporary directory; `{T}` in `text` stands for the
/// absolute path of compose-go's `loader/testdata`.
fn inline(t: &Path, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, text.replace("{T}", &t.display().to_string())).unwrap();
    (dir, file)
}

fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing in {value:#}"))
}

fn service_names(value: &Value) -> Vec<String> {
    at(value, "/services")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn path(p: &Path) -> Value {
    Value::String(p.display().to_string())
}

// ---------------------------------------------------------------- loader/testdata: single files

#[test]
fn file_with_obsolete_version_loads_with_a_warning() {
    let Some(t) = loader_dir() else { return };
    let loaded = Invocation::files(&[t.join("compose-test-with-version.yaml")])
        .load()
        .unwrap();
    assert_eq!(loaded.project.name, "compose-test-with-version");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.path.to_string() == "version" && w.message.contains("obsolete")),
        "{:?}",
        loaded.warnings
    );
    let c = model::to_json(&loaded.project);
    assert_eq!(service_names(&c), ["other", "web"]);
    assert_eq!(
        at(&c, "/services/web/build/context"),
        &path(&t.join("Dockerfile"))
    );
    let web_networks: Vec<&String> = at(&c, "/services/web/networks")
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(web_networks, ["default", "front"]);
    assert_eq!(at(&c, "/services/web/volumes_from"), &json!(["other"]));
    assert_eq!(
        at(&c, "/services/other/image"),
        &json!("busybox:1.31.0-uclibc")
    );
    assert_eq!(at(&c, "/services/other/command"), &json!(["top"]));
    assert_eq!(
        at(&c, "/services/other/volumes/0"),
        &json!({"type": "volume", "target": "/data"})
    );
    assert_eq!(at(&c, "/volumes/data/driver"), &json!("local"));
    assert!(c.pointer("/networks/front").is_some(), "{c:#}");
}

#[test]
fn extends_from_a_subdirectory_keeps_its_env_file_relative_to_the_extended_file() {
    let Some(t) = loader_dir() else { return };
    let loaded = Invocation::files(&[t.join("compose-test-extends.yaml")])
        .load()
        .unwrap();
    assert_eq!(loaded.project.name, "compose-test-extends");
    let c = model::to_json(&loaded.project);
    assert_eq!(service_names(&c), ["importer"]);
    let importer = at(&c, "/services/importer");
    assert_eq!(at(importer, "/image"), &json!("nginx"));
    // SOURCE is only set by the env_file, which does not feed interpolation.
    assert_eq!(at(importer, "/container_name"), &json!("imported"));
    assert_eq!(at(importer, "/environment"), &json!({"SOURCE": "extends"}));
    assert_eq!(
        at(importer, "/env_file/0/path"),
        &path(&t.join("subdir/extra.env"))
    );
    assert_eq!(at(importer, "/env_file/0/required"), &json!(true));
    assert_eq!(
        at(importer, "/volumes/0"),
        &json!({"type": "bind", "source": "/opt/data", "target": "/var/lib/mysql",
                "bind": {"create_host_path": true}})
    );
}

#[test]
fn extends_keeps_a_url_build_context_as_written() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("compose-test-extends-with-context-url.yaml")], &[]);
    assert_eq!(service_names(&c), ["importer-with-https-url"]);
    assert_eq!(
        at(&c, "/services/importer-with-https-url/build/context"),
        &json!("https://github.com/docker/compose.git")
    );
}

#[test]
fn an_empty_compose_file_is_refused() {
    let Some(t) = loader_dir() else { return };
    let (_, message) = failure(&[t.join("empty.yaml")]);
    assert!(message.contains("empty compose file"), "{message}");
}

#[test]
fn dependency_cycles_are_refused_with_the_cycle_printed() {
    let Some(t) = loader_dir() else { return };
    let cases = [
        (
            "compose-depends-on-cycle.yaml",
            "service1 -> service2 -> service3 -> service1",
        ),
        // Same content as the file above in this version of the testdata: still a cycle.
        (
            "compose-depends-on-profile-no-cycle.yaml",
            "service1 -> service2 -> service3 -> service1",
        ),
        ("compose-depends-on-self.yaml", "service1 -> service1"),
    ];
    for (file, cycle) in cases {
        let (kind, message) = failure(&[t.join(file)]);
        assert_eq!(kind, ErrorKind::Cycle, "{file}: {message}");
        assert!(
            message.contains(&format!("dependency cycle detected: {cycle}")),
            "{file}: {message}"
        );
    }
}

#[test]
fn a_file_including_itself_is_an_include_cycle() {
    let Some(t) = loader_dir() else { return };
    let (kind, message) = failure(&[t.join("compose-include-cycle.yaml")]);
    assert_eq!(kind, ErrorKind::Cycle, "{message}");
    assert!(message.contains("include cycle"), "{message}");
    assert!(message.contains("compose-include-cycle.yaml"), "{message}");
}

// ---------------------------------------------------------------- include

#[test]
fn include_adds_the_included_services_interpolated_in_their_own_project() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("compose-include.yaml")], &[]);
    assert_eq!(service_names(&c), ["bar", "imported"]);
    assert_eq!(at(&c, "/services/bar/environment"), &json!({"FOO": "BAR"}));
    assert_eq!(at(&c, "/services/imported/image"), &json!("nginx"));
    assert_eq!(
        at(&c, "/services/imported/container_name"),
        &json!("imported")
    );
    let c = config(&[t.join("compose-include.yaml")], &[("SOURCE", "override")]);
    assert_eq!(
        at(&c, "/services/imported/container_name"),
        &json!("override")
    );
}

const INCLUDE_WITH_ENV_FILE: &str = "
name: test-include
include:
  - path: {T}/subdir/compose-test-extends-imported.yaml
    env_file: {T}/subdir/extra.env
services:
  foo:
    image: busybox
    depends_on:
      - imported
";

#[test]
fn include_env_file_feeds_interpolation_of_the_included_file_under_the_shell() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(&t, INCLUDE_WITH_ENV_FILE);
    let c = config(std::slice::from_ref(&file), &[]);
    assert_eq!(service_names(&c), ["foo", "imported"]);
    assert_eq!(
        at(&c, "/services/foo/depends_on/imported/condition"),
        &json!("service_started")
    );
    assert_eq!(
        at(&c, "/services/foo/depends_on/imported/required"),
        &json!(true)
    );
    let imported = at(&c, "/services/imported");
    assert_eq!(at(imported, "/container_name"), &json!("extends"));
    assert_eq!(at(imported, "/environment"), &json!({"SOURCE": "extends"}));
    assert_eq!(
        at(imported, "/env_file/0/path"),
        &path(&t.join("subdir/extra.env"))
    );
    let c = config(&[file], &[("SOURCE", "override")]);
    assert_eq!(
        at(&c, "/services/imported/container_name"),
        &json!("override")
    );
}

#[test]
fn a_later_file_overrides_an_included_service() {
    let Some(t) = loader_dir() else { return };
    let (dir, main) = inline(
        &t,
        "name: test-include-override\ninclude:\n  - {T}/subdir/compose-test-extends-imported.yaml\n",
    );
    let over = dir.path().join("override.yaml");
    std::fs::write(&over, "services:\n  imported:\n    image: overridden\n").unwrap();
    let c = config(&[main, over], &[]);
    assert_eq!(at(&c, "/services/imported/image"), &json!("overridden"));
}

#[test]
fn including_the_same_service_twice_identically_is_not_a_conflict() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "
name: test-multi-include
include:
  - path: {T}/subdir/compose-test-extends-imported.yaml
    env_file: {T}/subdir/extra.env
  - path: {T}/compose-include.yaml
services:
  foo:
    image: busybox
    depends_on:
      - imported
",
    );
    let c = config(&[file], &[("SOURCE", "override")]);
    assert_eq!(service_names(&c), ["bar", "foo", "imported"]);
    assert_eq!(
        at(&c, "/services/imported/container_name"),
        &json!("override")
    );
}

#[test]
fn a_local_service_merges_over_an_included_one_of_the_same_name() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "
name: test-multi-include
include:
  - path: {T}/subdir/compose-test-extends-imported.yaml
    env_file: {T}/subdir/extra.env
  - path: {T}/compose-include.yaml
    env_file: {T}/subdir/extra.env
services:
  bar:
    image: busybox
    environment: !override
      - ZOT=QIX
",
    );
    let c = config(&[file], &[("SOURCE", "override")]);
    assert_eq!(at(&c, "/services/bar/image"), &json!("busybox"));
    assert_eq!(at(&c, "/services/bar/environment"), &json!({"ZOT": "QIX"}));
}

#[test]
fn include_resolves_relative_paths_against_the_included_file() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("include/compose.yaml")], &[]);
    assert_eq!(service_names(&c), ["included"]);
    assert_eq!(
        at(&c, "/services/included/build/context"),
        &path(&t.join("include"))
    );
    assert_eq!(
        at(&c, "/services/included/volumes/0/source"),
        &path(&t.join("include"))
    );
}

#[test]
fn include_with_project_directory_resolves_paths_there() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("include/project-directory.yaml")], &[]);
    let service = at(&c, "/services/service");
    assert_eq!(at(service, "/build/context"), &path(&t.join("subdir")));
    assert_eq!(
        at(service, "/volumes/0/source"),
        &path(&t.join("subdir/compose-test-extends-imported.yaml"))
    );
    assert_eq!(
        at(service, "/env_file/0/path"),
        &path(&t.join("subdir/extra.env"))
    );
    assert_eq!(at(service, "/environment"), &json!({"SOURCE": "extends"}));
}

#[test]
fn include_of_a_file_that_extends_a_sibling() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("combined/compose.yaml")], &[]);
    assert_eq!(
        at(&c, "/services/service/build/context"),
        &path(&t.join("combined/dir"))
    );
}

#[test]
fn include_of_a_file_with_nested_extends() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "name: test-include-with-extends\ninclude:\n  - {T}/extends/nested.yaml\n",
    );
    let c = config(&[file], &[]);
    assert_eq!(
        at(&c, "/services/with-build/build/context"),
        &path(&t.join("extends"))
    );
}

// ---------------------------------------------------------------- extends

#[test]
fn extends_from_another_file_chained_and_overridden() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "
name: test-extends
services:
  test1:
    extends:
      file: {T}/extends/base.yaml
      service: base
    hostname: test1
  test2:
    extends:
      file: {T}/extends/base.yaml
      service: base
    hostname: test2
  test3:
    extends:
      file: {T}/extends/base.yaml
      service: another
    hostname: test3
",
    );
    let c = config(&[file], &[]);
    assert_eq!(service_names(&c), ["test1", "test2", "test3"]);
    for name in ["test1", "test2", "test3"] {
        assert_eq!(at(&c, &format!("/services/{name}/hostname")), &json!(name));
        assert_eq!(at(&c, &format!("/services/{name}/image")), &json!("base"));
    }
}

#[test]
fn extends_brings_ports_ulimits_and_relative_build_contexts() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "
services:
  ports:
    image: test
    extends: {file: {T}/extends/base.yaml, service: with-port}
  ulimits:
    extends: {file: {T}/extends/base.yaml, service: withUlimits}
  build:
    extends: {file: {T}/extends/base.yaml, service: with-build}
",
    );
    let c = config(&[file], &[]);
    assert_eq!(at(&c, "/services/ports/ports/0/target"), &json!(8000));
    assert_eq!(at(&c, "/services/ports/image"), &json!("test"));
    let nproc = at(&c, "/services/ulimits/ulimits/nproc");
    assert!(
        nproc == &json!(65535) || nproc == &json!({"soft": 65535, "hard": 65535}),
        "{nproc}"
    );
    assert_eq!(
        at(&c, "/services/ulimits/ulimits/nofile"),
        &json!({"soft": 20000, "hard": 40000})
    );
    // with-build extends sibling.yaml, whose `build: .` is relative to extends/.
    assert_eq!(
        at(&c, "/services/build/build/context"),
        &path(&t.join("extends"))
    );
}

#[test]
fn extends_of_an_empty_service_definition() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "services:\n  test:\n    image: test\n    extends:\n      file: {T}/extends/base.yaml\n      service: nil\n",
    );
    let c = config(&[file], &[]);
    assert_eq!(at(&c, "/services/test/image"), &json!("test"));
}

#[test]
fn extends_without_a_service_is_refused() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "services:\n  test:\n    image: test\n    extends:\n      file: {T}/extends/base.yaml\n",
    );
    let (_, message) = failure(&[file]);
    assert!(message.contains("services.test.extends"), "{message}");
    assert!(message.contains("service"), "{message}");
}

#[test]
fn extending_a_service_of_a_file_also_loaded_keeps_ports_unique() {
    let Some(t) = loader_dir() else { return };
    let (dir, over) = inline(
        &t,
        "services:\n  test:\n    extends:\n      file: {T}/extends/ports.yaml\n      service: test\n",
    );
    let c = config(&[t.join("extends/ports.yaml"), over], &[]);
    drop(dir);
    assert_eq!(at(&c, "/services/test/ports").as_array().unwrap().len(), 1);
    assert_eq!(at(&c, "/services/test/ports/0/target"), &json!(8080));
}

#[test]
fn extends_does_not_import_the_services_an_extended_service_refers_to() {
    let Some(t) = loader_dir() else { return };
    for base in [
        "with_volumes_from",
        "with_depends_on",
        "with_ipc",
        "with_network_mode",
    ] {
        let text = format!(
            "services:\n  bar:\n    extends:\n      file: {{T}}/extends/depends_on.yaml\n      service: {base}\n"
        );
        let (_dir, file) = inline(&t, &text);
        let (kind, message) = failure(std::slice::from_ref(&file));
        assert_eq!(kind, ErrorKind::UndefinedReference, "{base}: {message}");
        assert!(message.contains("zot"), "{base}: {message}");
        assert!(message.contains("bar"), "{base}: {message}");

        let (_dir, file) = inline(&t, &format!("{text}  zot:\n    image: zot\n"));
        let c = config(&[file], &[]);
        assert_eq!(service_names(&c), ["bar", "zot"], "{base}");
    }
}

#[test]
fn extends_in_the_same_file_with_override_tag() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "
services:
  service_a:
    image: a
    depends_on:
      - service_c
  service_b:
    extends: service_a
    depends_on: !override
      - service_a
  service_c:
    image: c
",
    );
    let c = config(&[file], &[]);
    let deps: Vec<&String> = at(&c, "/services/service_b/depends_on")
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(deps, ["service_a"]);
}

#[test]
fn extends_of_a_service_with_a_reset_command() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "services:\n  test:\n    extends:\n      file: {T}/extends/reset.yaml\n      service: base\n",
    );
    let c = config(&[file], &[]);
    assert_eq!(at(&c, "/services/test/image"), &json!("alpine:latest"));
    assert!(c.pointer("/services/test/command").is_none(), "{c:#}");
}

#[test]
fn extended_file_is_interpolated() {
    let Some(t) = loader_dir() else { return };
    let (_dir, file) = inline(
        &t,
        "services:\n  test:\n    extends: { file: {T}/extends/interpolated.yaml, service: foo }\n",
    );
    let c = config(std::slice::from_ref(&file), &[]);
    assert_eq!(
        at(&c, "/services/test/volumes/0/source"),
        &json!("/dev/null")
    );
    assert_eq!(at(&c, "/services/test/volumes/0/read_only"), &json!(true));
    let c = config(&[file], &[("SOURCE", "/srv/src")]);
    assert_eq!(
        at(&c, "/services/test/volumes/0/source"),
        &json!("/srv/src")
    );
}

#[test]
fn extends_chain_through_directories() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("extends/withdir/compose.yaml")], &[]);
    assert_eq!(at(&c, "/services/test/image"), &json!("hello-world"));
}

// ---------------------------------------------------------------- remote resources

#[test]
fn remote_fixture_loads_as_a_local_project() {
    let Some(t) = loader_dir() else { return };
    let c = config(&[t.join("remote/compose.yaml")], &[]);
    let foo = at(&c, "/services/foo");
    assert_eq!(at(foo, "/image"), &json!("foo"));
    assert_eq!(at(foo, "/environment"), &json!({"FOO": "BAR"}));
    assert_eq!(at(foo, "/env_file/0/path"), &path(&t.join("remote/env")));
    assert_eq!(at(foo, "/volumes/0/source"), &path(&t.join("remote")));
    assert_eq!(at(foo, "/volumes/0/target"), &json!("/foo"));
}

#[test]
fn references_to_a_resource_loader_fail_naming_the_reference() {
    let Some(t) = loader_dir() else { return };
    for (file, reference) in [
        (
            "remote/nested/compose.yaml",
            "remote:nested/compose-nested.yaml",
        ),
        (
            "remote/cycle/compose.yaml",
            "remote:cycle/compose-cycle.yaml",
        ),
    ] {
        let (_, message) = failure(&[t.join(file)]);
        assert!(message.contains(reference), "{file}: {message}");
        assert!(
            message.contains("services.foo.extends"),
            "{file}: {message}"
        );
    }
}

#[test]
fn remote_includes_fail_offline_with_the_url_as_written() {
    let Some(t) = loader_dir() else { return };
    for url in [
        "https://github.com/docker/awesome-compose.git#master:nginx-golang",
        "git@github.com:docker/awesome-compose.git",
        "oci://docker.io/example/app:latest",
        "remote:nested/compose.yaml",
    ] {
        let (_dir, file) = inline(
            &t,
            &format!("name: test-remote\ninclude:\n  - {url}\nservices:\n  a:\n    image: a\n"),
        );
        let (_, message) = failure(&[file]);
        assert!(message.contains("include[0]"), "{url}: {message}");
        assert!(message.contains(url), "{url}: {message}");
    }
}

// ---------------------------------------------------------------- cli/testdata

#[test]
fn project_name_from_flag_environment_file_or_directory() {
    let Some(c) = cli_dir() else { return };
    let simple = c.join("simple/compose.yaml");
    let name = |inv: Invocation| inv.load().map(|l| l.project.name);
    assert_eq!(
        name(Invocation::files(std::slice::from_ref(&simple)).name("my_project")).unwrap(),
        "my_project"
    );
    assert_eq!(
        name(Invocation::files(std::slice::from_ref(&simple)).name("42my_project_num")).unwrap(),
        "42my_project_num"
    );
    assert_eq!(
        name(
            Invocation::files(std::slice::from_ref(&simple))
                .env(&[("COMPOSE_PROJECT_NAME", "42my_project_env")])
        )
        .unwrap(),
        "42my_project_env"
    );
    assert_eq!(
        name(Invocation::files(std::slice::from_ref(&simple))).unwrap(),
        "simple"
    );
    assert_eq!(
        name(Invocation::files(&[
            c.join("UNNORMALIZED PATH/compose.yaml")
        ]))
        .unwrap(),
        "unnormalizedpath"
    );
    assert_eq!(
        name(Invocation::files(&[c.join("simple/compose-name.yaml")]).env(&[("TEST", "expected")]))
            .unwrap(),
        "test-expected-test"
    );
    for bad in ["-my_project", "_my_project", "www.my.project", "MY_PROJECT"] {
        for invocation in [
            Invocation::files(std::slice::from_ref(&simple)).name(bad),
            Invocation::files(std::slice::from_ref(&simple)).env(&[("COMPOSE_PROJECT_NAME", bad)]),
        ] {
            let message = name(invocation).unwrap_err().to_string();
            assert!(
                message.contains(&format!("invalid project name \"{bad}\"")),
                "{message}"
            );
        }
    }
}

#[test]
fn project_name_and_files_from_dot_env_in_the_working_directory() {
    let Some(c) = cli_dir() else { return };
    let dir = c.join("env-file");
    let loaded = Invocation {
        working_dir: Some(dir.clone()),
        ..Invocation::default()
    }
    .load()
    .unwrap();
    assert_eq!(loaded.project.name, "my_project_from_dot_env");
    assert_eq!(loaded.files, [dir.join("compose-with-env-file.yaml")]);
}

#[test]
fn project_name_from_the_directory_when_env_files_are_disabled() {
    let Some(c) = cli_dir() else { return };
    let loaded = Invocation::files(&[c.join("env-file/compose-with-env-file.yaml")])
        .env(&[("COMPOSE_DISABLE_ENV_FILE", "true")])
        .load()
        .unwrap();
    assert_eq!(loaded.project.name, "env-file");
}

#[test]
fn later_files_override_earlier_ones() {
    let Some(c) = cli_dir() else { return };
    let cfg = config(
        &[
            c.join("simple/compose.yaml"),
            c.join("simple/compose-with-overrides.yaml"),
        ],
        &[],
    );
    assert_eq!(at(&cfg, "/services/simple/image"), &json!("haproxy"));
}

#[test]
fn default_file_is_found_in_the_working_directory() {
    let Some(c) = cli_dir() else { return };
    let loaded = Invocation {
        working_dir: Some(c.join("simple")),
        name: Some("my_project"),
        ..Invocation::default()
    }
    .load()
    .unwrap();
    assert_eq!(loaded.files, [c.join("simple/compose.yaml")]);
    assert_eq!(
        model::to_json(&loaded.project)
            .pointer("/services/simple/image")
            .unwrap(),
        &json!("nginx")
    );
}

#[test]
fn dot_env_feeds_interpolation() {
    let Some(c) = cli_dir() else { return };
    let cfg = config(&[c.join("simple/compose-with-variables.yaml")], &[]);
    assert_eq!(
        at(&cfg, "/services/simple/ports/0/published"),
        &json!("8000")
    );
    assert_eq!(at(&cfg, "/services/simple/ports/0/target"), &json!(80));
}

#[test]
fn service_env_file_values_reach_the_environment() {
    let Some(c) = cli_dir() else { return };
    let cfg = config(&[c.join("env-file/compose-with-env-file.yaml")], &[]);
    assert_eq!(
        at(&cfg, "/services/simple/environment/DEFAULT_PORT"),
        &json!("8080")
    );
    assert_eq!(
        at(&cfg, "/services/simple/ports/0/published"),
        &json!("8000")
    );
}

#[test]
fn explicit_env_files_replace_dot_env_and_later_ones_win() {
    let Some(c) = cli_dir() else { return };
    let dir = c.join("env-file");
    let loaded = Invocation {
        files: vec![dir.join("compose-with-env-files.yaml")],
        env_files: vec![dir.join(".env"), dir.join("override.env")],
        ..Invocation::default()
    }
    .load()
    .unwrap();
    let cfg = model::to_json(&loaded.project);
    assert_eq!(
        at(&cfg, "/services/simple/environment/DEFAULT_PORT"),
        &json!("9090")
    );
    assert_eq!(
        at(&cfg, "/services/simple/ports/0/published"),
        &json!("9000")
    );
}

#[test]
fn bind_mount_paths_resolve_against_the_project_directory() {
    let Some(c) = cli_dir() else { return };
    let cfg = config(&[c.join("simple/compose-with-paths.yaml")], &[]);
    let volumes = at(&cfg, "/services/test/volumes");
    // A Windows absolute path is kept as written, like compose-go does on every platform.
    assert_eq!(at(volumes, "/0/source"), &json!("C:\\docker\\project"));
    assert_eq!(at(volumes, "/1/source"), &path(&c.join("simple/relative")));
    assert_eq!(at(volumes, "/2/source"), &path(&c.join("simple/relative2")));
    assert_eq!(at(volumes, "/2/target"), &json!("/test-relative2"));
}
