//! The command-line fixtures of the Compose reference loader, with the results its own tests
//! expect for discovery, environment files and the project name.

use std::path::Path;

use tempfile::TempDir;

use super::tests::{options, tree};
use super::*;
use crate::error::ErrorKind;

/// The fixture tree, under a root directory named `cli` as in the reference repository.
fn fixtures() -> (TempDir, PathBuf) {
    let simple = "services:\n  simple:\n    image: nginx\n";
    let dir = tree(&[
        (
            "cli/testdata/UNNORMALIZED PATH/compose.yaml",
            "services:\n  nginx:\n    image: nginx\n",
        ),
        (
            "cli/testdata/env-file/.env",
            "COMPOSE_FILE=compose-with-env-file.yaml\nCOMPOSE_PROJECT_NAME=my_project_from_dot_env\nPORT=8000\n",
        ),
        ("cli/testdata/env-file/compose-with-env-file.yaml", simple),
        ("cli/testdata/env-file/compose-with-env-files.yaml", simple),
        ("cli/testdata/env-file/override.env", "PORT=9000\n"),
        ("cli/testdata/env-file/second-env", "DEFAULT_PORT=9090\n"),
        ("cli/testdata/env-file/simple-env", "DEFAULT_PORT=8080\n"),
        ("cli/testdata/simple/.env", "PUBLIC_PORT=8000\n"),
        (
            "cli/testdata/simple/compose-name.yaml",
            "name: test-${TEST}-test\n",
        ),
        ("cli/testdata/simple/compose-with-overrides.yaml", simple),
        ("cli/testdata/simple/compose-with-variables.yaml", simple),
        ("cli/testdata/simple/compose.yaml", simple),
    ]);
    let cli = dir.path().join("cli");
    (dir, cli)
}

/// Discovery and the project name (no top-level `name:`) for `opts`.
fn name_of(opts: &ProjectOptions) -> Result<String> {
    let found = discover(opts)?;
    project_name(
        opts.project_name.as_deref(),
        &found.environment,
        None,
        &found.project_directory,
    )
}

fn with_file(cli: &Path, file: &str, shell: &[(&str, &str)]) -> ProjectOptions {
    let mut opts = options(cli, shell);
    opts.files = vec![file.into()];
    opts
}

#[test]
fn project_names_as_the_reference_tests_expect() {
    let (_dir, cli) = fixtures();
    let simple = "testdata/simple/compose.yaml";
    let named = |name: &str| ProjectOptions {
        project_name: Some(name.to_owned()),
        ..with_file(&cli, simple, &[])
    };
    let cases: Vec<(&str, ProjectOptions, &str)> = vec![
        ("by name", named("my_project"), "my_project"),
        (
            "by name start with number",
            named("42my_project_num"),
            "42my_project_num",
        ),
        (
            "by env name start with number",
            with_file(
                &cli,
                simple,
                &[("COMPOSE_PROJECT_NAME", "42my_project_env")],
            ),
            "42my_project_env",
        ),
        ("by name empty", named(""), "simple"),
        (
            "by name empty working dir",
            ProjectOptions {
                project_directory: Some("/path/to/proj".into()),
                ..named("")
            },
            "proj",
        ),
        (
            "by working dir",
            ProjectOptions {
                project_directory: Some(".".into()),
                ..named("")
            },
            "cli",
        ),
        (
            "by compose file parent dir",
            with_file(&cli, simple, &[]),
            "simple",
        ),
        (
            "by compose file parent dir special",
            with_file(&cli, "testdata/UNNORMALIZED PATH/compose.yaml", &[]),
            "unnormalizedpath",
        ),
        (
            "by COMPOSE_PROJECT_NAME",
            with_file(
                &cli,
                simple,
                &[("COMPOSE_PROJECT_NAME", "my_project_from_env")],
            ),
            "my_project_from_env",
        ),
        (
            "by .env",
            options(&cli.join("testdata/env-file"), &[]),
            "my_project_from_dot_env",
        ),
        (
            "project name from working dir without .env",
            with_file(
                &cli,
                "testdata/env-file/compose-with-env-file.yaml",
                &[("COMPOSE_DISABLE_ENV_FILE", "1")],
            ),
            "env-file",
        ),
        (
            // With the .env next to the file read, as the compose command line does.
            "project name from the .env next to the file",
            with_file(&cli, "testdata/env-file/compose-with-env-file.yaml", &[]),
            "my_project_from_dot_env",
        ),
    ];
    for (name, opts, want) in cases {
        assert_eq!(
            name_of(&opts).unwrap_or_else(|e| panic!("{name}: {e}")),
            want,
            "{name}"
        );
    }
}

#[test]
fn the_root_directory_cannot_name_a_project() {
    let (_dir, cli) = fixtures();
    let mut opts = with_file(&cli, "testdata/simple/compose.yaml", &[]);
    opts.project_directory = Some("/".into());
    let err = name_of(&opts).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("project name must not be empty"),
        "{err}"
    );
}

#[test]
fn invalid_explicit_and_env_names_are_rejected() {
    let (_dir, cli) = fixtures();
    for bad in ["-my_project", "_my_project", "www.my.project", "MY_PROJECT"] {
        let want = format!("invalid project name \"{bad}\"");
        let mut opts = with_file(&cli, "testdata/simple/compose.yaml", &[]);
        opts.project_name = Some(bad.to_owned());
        let err = name_of(&opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Discovery);
        assert!(err.to_string().starts_with(&want), "{err}");
        let opts = with_file(
            &cli,
            "testdata/simple/compose.yaml",
            &[("COMPOSE_PROJECT_NAME", bad)],
        );
        assert!(name_of(&opts).unwrap_err().to_string().starts_with(&want));
    }
}

#[test]
fn the_top_level_name_is_used_after_interpolation() {
    let (_dir, cli) = fixtures();
    let opts = with_file(
        &cli,
        "testdata/simple/compose-name.yaml",
        &[("TEST", "expected")],
    );
    let found = discover(&opts).unwrap();
    let env = &found.environment;
    let name = crate::interpolate::interpolate_str("test-${TEST}-test", &|v| {
        env.get(v).map(str::to_owned)
    })
    .unwrap()
    .value;
    let got = project_name(None, env, Some(&name), &found.project_directory).unwrap();
    assert_eq!(got, "test-expected-test");
}

#[test]
fn compose_files_as_the_reference_tests_expect() {
    let (_dir, cli) = fixtures();
    let simple = cli.join("testdata/simple");

    // Default file of a project directory.
    let mut opts = options(&cli, &[]);
    opts.project_directory = Some("testdata/simple/".into());
    assert_eq!(
        discover(&opts).unwrap().files,
        [simple.join("compose.yaml")]
    );

    // A set of -f files, absolute and in order.
    let mut opts = options(&cli, &[]);
    opts.files = vec![
        "testdata/simple/compose.yaml".into(),
        "testdata/simple/compose-with-overrides.yaml".into(),
    ];
    let found = discover(&opts).unwrap();
    assert_eq!(
        found.files,
        [
            simple.join("compose.yaml"),
            simple.join("compose-with-overrides.yaml")
        ]
    );
    assert_eq!(found.project_directory, simple);
}

#[test]
fn environments_as_the_reference_tests_expect() {
    let (_dir, cli) = fixtures();
    let env_dir = cli.join("testdata/env-file");

    // The .env next to a -f file, read from its directory.
    let simple = cli.join("testdata/simple");
    let found = discover(&with_file(&simple, "compose-with-variables.yaml", &[])).unwrap();
    assert_eq!(found.environment.get("PUBLIC_PORT"), Some("8000"));
    assert_eq!(found.env_files, [simple.join(".env")]);

    // Several --env-file: the later wins.
    let mut opts = with_file(&cli, "testdata/env-file/compose-with-env-files.yaml", &[]);
    opts.env_files = vec![
        "testdata/env-file/.env".into(),
        "testdata/env-file/override.env".into(),
    ];
    let found = discover(&opts).unwrap();
    assert_eq!(found.environment.get("PORT"), Some("9000"));
    assert_eq!(
        found.env_files,
        [env_dir.join(".env"), env_dir.join("override.env")]
    );

    // .env sets COMPOSE_FILE, which selects the compose file.
    let found = discover(&options(&env_dir, &[])).unwrap();
    assert_eq!(found.files, [env_dir.join("compose-with-env-file.yaml")]);
}

#[test]
fn variable_precedence_as_the_reference_tests_expect() {
    type Pairs = &'static [(&'static str, &'static str)];
    let cases: [(Pairs, &str, &str); 2] = [(&[], "foo", "foo"), (&[("FOO", "zot")], "zot", "zot")];
    for (shell, foo, bar) in cases {
        let dir = tree(&[
            (".env", "FOO=foo\nBAR=${FOO}"),
            ("compose.yaml", "services: {}\n"),
        ]);
        let found = discover(&options(dir.path(), shell)).unwrap();
        assert_eq!(found.environment.get("FOO"), Some(foo), "{shell:?}");
        assert_eq!(found.environment.get("BAR"), Some(bar), "{shell:?}");
    }
}
