//! Discovery rules, each on a temporary directory tree.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;
use crate::error::ErrorKind;

/// A temporary tree holding `files` (path relative to the root, contents).
pub(super) fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

pub(super) fn options(cwd: &Path, shell: &[(&str, &str)]) -> ProjectOptions {
    ProjectOptions {
        working_dir: cwd.to_path_buf(),
        environment: shell.iter().copied().collect(),
        ..ProjectOptions::default()
    }
}

fn paths(root: &Path, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| root.join(n)).collect()
}

fn error(opts: &ProjectOptions) -> String {
    let err = discover(opts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Discovery, "{err}");
    err.to_string()
}

/// Variables as (name, value) pairs.
type Pairs = &'static [(&'static str, &'static str)];

const SERVICE: &str = "services: {a: {image: a}}\n";

#[test]
fn finds_the_default_file_and_its_override() {
    let cases: [(&[&str], &[&str]); 5] = [
        (&["compose.yaml"], &["compose.yaml"]),
        (
            &["compose.yaml", "compose.override.yaml"],
            &["compose.yaml", "compose.override.yaml"],
        ),
        (
            &["docker-compose.yml", "docker-compose.override.yml"],
            &["docker-compose.yml", "docker-compose.override.yml"],
        ),
        (
            &["docker-compose.yaml", "compose.override.yml"],
            &["docker-compose.yaml", "compose.override.yml"],
        ),
        (&["compose.yml", "docker-compose.yml"], &["compose.yml"]),
    ];
    for (present, want) in cases {
        let files: Vec<_> = present.iter().map(|p| (*p, SERVICE)).collect();
        let dir = tree(&files);
        let found = discover(&options(dir.path(), &[])).unwrap();
        assert_eq!(found.files, paths(dir.path(), want), "{present:?}");
        assert_eq!(found.project_directory, dir.path());
    }
}

#[test]
fn several_default_files_warn_and_the_preferred_one_wins() {
    let dir = tree(&[("docker-compose.yml", SERVICE), ("compose.yaml", SERVICE)]);
    let found = discover(&options(dir.path(), &[])).unwrap();
    assert_eq!(found.files, paths(dir.path(), &["compose.yaml"]));
    let [warning] = found.warnings.as_slice() else {
        panic!("{:?}", found.warnings)
    };
    let (a, b) = (
        dir.path().join("compose.yaml"),
        dir.path().join("docker-compose.yml"),
    );
    let want = format!(
        "found multiple config files with supported names: {}, {}; using {}",
        a.display(),
        b.display(),
        a.display()
    );
    assert_eq!(warning.message, want);
}

#[test]
fn searches_parent_directories_and_reads_both_env_files() {
    let dir = tree(&[
        ("compose.yaml", SERVICE),
        ("compose.override.yaml", SERVICE),
        (".env", "ROOT=root\nBOTH=from root\n"),
        ("a/b/.env", "CWD=cwd\nBOTH=from cwd\n"),
    ]);
    let cwd = dir.path().join("a/b");
    let found = discover(&options(&cwd, &[])).unwrap();
    assert_eq!(
        found.files,
        paths(dir.path(), &["compose.yaml", "compose.override.yaml"])
    );
    assert_eq!(found.project_directory, dir.path());
    assert_eq!(found.env_files, [cwd.join(".env"), dir.path().join(".env")]);
    let env = &found.environment;
    assert_eq!(
        (env.get("ROOT"), env.get("CWD")),
        (Some("root"), Some("cwd"))
    );
    // The working directory's .env is read first, and what is set stays set.
    assert_eq!(env.get("BOTH"), Some("from cwd"));
}

#[test]
fn no_file_anywhere_is_an_error() {
    let dir = tree(&[("sub/readme.txt", "")]);
    let opts = options(&dir.path().join("sub"), &[]);
    let err = discover(&opts).expect_err("no file");
    assert_eq!(err.kind(), ErrorKind::NoConfigFile, "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("no configuration file provided: none of compose.yaml, compose.yml, "),
        "{message}"
    );
}

#[test]
fn explicit_files_keep_their_order_and_must_exist() {
    let dir = tree(&[
        ("one.yaml", SERVICE),
        ("sub/two.yaml", SERVICE),
        ("compose.yaml", SERVICE),
    ]);
    let mut opts = options(dir.path(), &[("COMPOSE_FILE", "compose.yaml")]);
    opts.files = vec!["sub/../sub/two.yaml".into(), dir.path().join("one.yaml")];
    let found = discover(&opts).unwrap();
    assert_eq!(
        found.files,
        paths(dir.path(), &["sub/two.yaml", "one.yaml"])
    );
    assert_eq!(found.project_directory, dir.path().join("sub"));

    opts.files = vec!["one.yaml".into(), "missing.yaml".into()];
    let want = format!(
        "compose file {} not found",
        dir.path().join("missing.yaml").display()
    );
    assert_eq!(error(&opts), want);

    opts.files = vec!["-".into()];
    assert!(error(&opts).contains("standard input"));
}

#[test]
fn compose_file_variable_lists_files_with_its_separator() {
    let dir = tree(&[
        ("a.yaml", SERVICE),
        ("b.yaml", SERVICE),
        ("compose.yaml", SERVICE),
    ]);
    let cases: [(Pairs, &[&str]); 4] = [
        (&[("COMPOSE_FILE", "a.yaml:b.yaml")], &["a.yaml", "b.yaml"]),
        (
            &[
                ("COMPOSE_FILE", "b.yaml;a.yaml"),
                ("COMPOSE_PATH_SEPARATOR", ";"),
            ],
            &["b.yaml", "a.yaml"],
        ),
        (
            &[
                ("COMPOSE_FILE", "a.yaml,,b.yaml"),
                ("COMPOSE_PATH_SEPARATOR", ","),
            ],
            &["a.yaml", "b.yaml"],
        ),
        (&[("COMPOSE_FILE", "")], &["compose.yaml"]),
    ];
    for (shell, want) in cases {
        let found = discover(&options(dir.path(), shell)).unwrap();
        assert_eq!(found.files, paths(dir.path(), want), "{shell:?}");
    }
    let opts = options(dir.path(), &[("COMPOSE_FILE", "a.yaml:nope.yaml")]);
    let want = format!(
        "compose file from COMPOSE_FILE {} not found",
        dir.path().join("nope.yaml").display()
    );
    assert_eq!(error(&opts), want);
}

#[test]
fn compose_file_may_come_from_dot_env() {
    let dir = tree(&[
        ("x.yaml", SERVICE),
        ("compose.yaml", SERVICE),
        (".env", "COMPOSE_FILE=x.yaml\n"),
    ]);
    let found = discover(&options(dir.path(), &[])).unwrap();
    assert_eq!(found.files, paths(dir.path(), &["x.yaml"]));
    // The shell's COMPOSE_FILE wins over the one in .env.
    let found = discover(&options(dir.path(), &[("COMPOSE_FILE", "compose.yaml")])).unwrap();
    assert_eq!(found.files, paths(dir.path(), &["compose.yaml"]));
}

#[test]
fn project_directory_is_where_search_and_dot_env_start() {
    let dir = tree(&[
        ("proj/compose.yaml", SERVICE),
        ("proj/.env", "WHERE=proj\n"),
        ("compose.yaml", SERVICE),
        (".env", "WHERE=cwd\n"),
        ("other.yaml", SERVICE),
    ]);
    let mut opts = options(dir.path(), &[]);
    opts.project_directory = Some("proj".into());
    let found = discover(&opts).unwrap();
    assert_eq!(found.files, paths(dir.path(), &["proj/compose.yaml"]));
    assert_eq!(found.project_directory, dir.path().join("proj"));
    assert_eq!(found.environment.get("WHERE"), Some("proj"));
    assert_eq!(found.env_files, [dir.path().join("proj/.env")]);

    // -f stays relative to the working directory, not to the project directory.
    opts.files = vec!["other.yaml".into()];
    let found = discover(&opts).unwrap();
    assert_eq!(found.files, paths(dir.path(), &["other.yaml"]));
    assert_eq!(found.project_directory, dir.path().join("proj"));
}

#[test]
fn the_shell_wins_over_dot_env_which_sees_it() {
    let dir = tree(&[
        ("compose.yaml", SERVICE),
        (".env", "FOO=foo\nBAR=${FOO}\nONLY=dotenv\n"),
    ]);
    let found = discover(&options(dir.path(), &[("FOO", "zot")])).unwrap();
    let env = &found.environment;
    assert_eq!(
        (env.get("FOO"), env.get("BAR"), env.get("ONLY")),
        (Some("zot"), Some("zot"), Some("dotenv"))
    );
}

#[test]
fn env_file_flags_replace_dot_env_and_later_ones_win() {
    let dir = tree(&[
        ("compose.yaml", SERVICE),
        (".env", "A=dotenv\nDOT=1\n"),
        ("one.env", "A=one\nB=one\n"),
        ("two.env", "B=two\nC=${A}\n"),
    ]);
    let mut opts = options(dir.path(), &[]);
    opts.env_files = vec!["one.env".into(), "two.env".into()];
    let found = discover(&opts).unwrap();
    let env = &found.environment;
    assert_eq!(
        (env.get("A"), env.get("B"), env.get("C")),
        (Some("one"), Some("two"), Some("one"))
    );
    assert_eq!(env.get("DOT"), None);
    assert_eq!(found.env_files, paths(dir.path(), &["one.env", "two.env"]));

    opts.env_files = vec!["missing.env".into()];
    let want = format!(
        "env file {} not found",
        dir.path().join("missing.env").display()
    );
    assert_eq!(error(&opts), want);
}

#[test]
fn a_missing_dot_env_is_fine() {
    let dir = tree(&[("compose.yaml", SERVICE)]);
    let found = discover(&options(dir.path(), &[("X", "1")])).unwrap();
    assert!(found.env_files.is_empty());
    assert_eq!(found.environment, [("X", "1")].into_iter().collect());
}

#[test]
fn compose_disable_env_file_skips_only_the_default_file() {
    let dir = tree(&[
        ("compose.yaml", SERVICE),
        (".env", "A=dotenv\n"),
        ("x.env", "A=x\n"),
    ]);
    for (value, want) in [
        ("true", None),
        ("1", None),
        ("false", Some("dotenv")),
        ("0", Some("dotenv")),
    ] {
        let found = discover(&options(dir.path(), &[("COMPOSE_DISABLE_ENV_FILE", value)])).unwrap();
        assert_eq!(found.environment.get("A"), want, "{value}");
    }
    let mut opts = options(dir.path(), &[("COMPOSE_DISABLE_ENV_FILE", "true")]);
    opts.env_files = vec!["x.env".into()];
    assert_eq!(discover(&opts).unwrap().environment.get("A"), Some("x"));

    let opts = options(dir.path(), &[("COMPOSE_DISABLE_ENV_FILE", "maybe")]);
    assert!(error(&opts).starts_with("invalid COMPOSE_DISABLE_ENV_FILE value \"maybe\""));
}

#[test]
fn profiles_come_from_flags_else_compose_profiles() {
    let dir = tree(&[
        ("compose.yaml", SERVICE),
        (".env", "COMPOSE_PROFILES=dev, debug,,\n"),
    ]);
    let found = discover(&options(dir.path(), &[])).unwrap();
    assert_eq!(found.profiles, ["dev", "debug"]);
    let found = discover(&options(dir.path(), &[("COMPOSE_PROFILES", "shell")])).unwrap();
    assert_eq!(found.profiles, ["shell"]);
    let mut opts = options(dir.path(), &[("COMPOSE_PROFILES", "shell")]);
    opts.profiles = vec!["flag".into(), "other".into()];
    assert_eq!(discover(&opts).unwrap().profiles, ["flag", "other"]);
}

#[test]
fn standard_input_is_a_compose_file_of_the_working_directory() {
    use crate::loader::{LoadOptions, load};
    let dir = tree(&[
        (".env", "TAG=3\n"),
        ("over.yaml", "services: {a: {user: nobody}}\n"),
    ]);
    let mut opts = options(dir.path(), &[]);
    opts.files = vec!["-".into(), "over.yaml".into()];
    opts.stdin = Some("services: {a: {image: \"busybox:${TAG}\", volumes: [./data:/d]}}\n".into());
    let loaded = load(&LoadOptions {
        project: opts.clone(),
        interpolate: true,
        ..LoadOptions::default()
    })
    .unwrap();
    let a = &loaded.project.services["a"];
    assert_eq!(a.image.as_deref(), Some("busybox:3"));
    assert_eq!(a.user.as_deref(), Some("nobody"));
    assert_eq!(loaded.project_directory, dir.path());
    let volume = serde_json::to_value(&a.volumes[0]).unwrap();
    assert_eq!(
        volume["source"],
        dir.path().join("data").display().to_string()
    );

    // A mistake on standard input names it as `-`.
    opts.stdin = Some("services: {a: {image: 1, ports: {}}}\n".into());
    let err = load(&LoadOptions {
        project: opts.clone(),
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().starts_with("-:1:"), "{err}");

    opts.files = vec!["-".into(), "-".into()];
    assert!(error(&opts).contains("only once"));
}
