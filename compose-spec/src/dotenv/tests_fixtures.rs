//! The dotenv fixtures of the Compose reference loader, with the values its own tests expect.

use std::path::Path;
use std::sync::Arc;

use super::*;

/// A fixture's name and text.
const FIXTURES: &[(&str, &str)] = &[
    ("custom.format", include_str!("testdata/custom.format")),
    ("equals.env", include_str!("testdata/equals.env")),
    ("exported.env", include_str!("testdata/exported.env")),
    (
        "inherited-multi-var.env",
        include_str!("testdata/inherited-multi-var.env"),
    ),
    (
        "inherited-not-found.env",
        include_str!("testdata/inherited-not-found.env"),
    ),
    (
        "inherited-single-var.env",
        include_str!("testdata/inherited-single-var.env"),
    ),
    ("invalid1.env", include_str!("testdata/invalid1.env")),
    ("plain.env", include_str!("testdata/plain.env")),
    ("quoted.env", include_str!("testdata/quoted.env")),
    ("special.env", include_str!("testdata/special.env")),
    (
        "substitutions-default.env",
        include_str!("testdata/substitutions-default.env"),
    ),
    (
        "substitutions.env",
        include_str!("testdata/substitutions.env"),
    ),
    ("unquoted.env", include_str!("testdata/unquoted.env")),
    ("utf8-bom.env", include_str!("testdata/utf8-bom.env")),
];

fn fixture(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .expect("fixture exists")
}

fn load(name: &str, env: &[(&str, &str)]) -> Result<Vars> {
    let lookup = |key: &str| {
        env.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    };
    parse(fixture(name), Arc::from(Path::new(name)), &lookup)
}

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_fixture_loads_with_the_expected_values() {
    const OS_VAR: &[(&str, &str)] = &[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")];
    let plain = vars(&[
        ("OPTION_A", "1"),
        ("OPTION_B", "2"),
        ("OPTION_C", "3"),
        ("OPTION_D", "4"),
        ("OPTION_E", "5"),
        // Compose's .env and env_file readers keep keys that start with a digit.
        ("456", "ABC"),
        ("OPTION_F", ""),
        ("OPTION_G", ""),
        ("OPTION_H", "my string"),
    ]);
    type Pairs = &'static [(&'static str, &'static str)];
    let cases: Vec<(&str, Pairs, Vars)> = vec![
        (
            "custom.format",
            &[],
            vars(&[("FOO", "BAR"), ("ZOT", "QIX")]),
        ),
        (
            "equals.env",
            &[],
            vars(&[(
                "OPTION_A",
                "postgres://localhost:5432/database?sslmode=disable",
            )]),
        ),
        (
            "exported.env",
            &[],
            vars(&[("OPTION_A", "2"), ("OPTION_B", "\\n")]),
        ),
        (
            "inherited-multi-var.env",
            OS_VAR,
            vars(&[
                ("foo", "bar"),
                ("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"),
                ("bar", "baz"),
            ]),
        ),
        ("inherited-not-found.env", OS_VAR, Vars::new()),
        (
            "inherited-single-var.env",
            OS_VAR,
            vars(&[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")]),
        ),
        ("plain.env", &[], plain.clone()),
        (
            "quoted.env",
            &[],
            vars(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "2"),
                ("OPTION_C", ""),
                ("OPTION_D", "\\n"),
                ("OPTION_E", "1"),
                ("OPTION_F", "2"),
                ("OPTION_G", ""),
                ("OPTION_H", "\n"),
                ("OPTION_I", "echo 'asd'"),
                ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
                ("OPTION_K", "Let's go!"),
                ("OPTION_Z", "last value"),
            ]),
        ),
        (
            "special.env",
            &[],
            vars(&[
                ("VAR.WITH.DOTS", "dots"),
                ("VAR_WITH_UNDERSCORES", "underscores"),
                ("VAR-WITH-DASHES", "dashes"),
            ]),
        ),
        (
            "substitutions.env",
            &[],
            vars(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "1"),
                ("OPTION_C", "1"),
                ("OPTION_D", "1_1"),
                ("OPTION_E", ""),
            ]),
        ),
        // The shell environment wins over the file's own definitions in expansion.
        (
            "substitutions.env",
            &[("OPTION_A", "5")],
            vars(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ]),
        ),
        (
            "substitutions-default.env",
            &[],
            vars(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "1"),
                ("OPTION_C", "1"),
                ("OPTION_D", "1_1"),
                ("OPTION_E", ""),
            ]),
        ),
        (
            "substitutions-default.env",
            &[("OPTION_A", "5")],
            vars(&[
                ("OPTION_A", "5"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ]),
        ),
        (
            "unquoted.env",
            &[],
            vars(&[
                ("OPTION_A", "some quoted phrase"),
                ("OPTION_B", "first one with an unquoted phrase"),
                ("OPTION_C", "then another one with an unquoted phrase"),
                (
                    "OPTION_D",
                    "then another one with an unquoted phrase special è char",
                ),
                ("OPTION_E", "then another one quoted phrase"),
            ]),
        ),
        ("utf8-bom.env", &[], plain),
    ];
    for (name, env, want) in cases {
        let got = load(name, env).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name} with {env:?}");
        // Same keys in the same order, not only the same set.
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn the_bom_fixture_really_starts_with_a_bom() {
    assert!(fixture("utf8-bom.env").starts_with('\u{feff}'));
}

#[test]
fn invalid_fixture_fails_at_line_7_naming_the_key() {
    let err = load("invalid1.env", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EnvFile);
    assert_eq!(
        err.to_string(),
        "invalid1.env:7:1: variable name \"INVALID LINE\" cannot contain a space"
    );
}

#[test]
fn reads_fixture_files_from_disk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/dotenv/testdata");
    let got = read(&dir.join("exported.env"), &|_| None).unwrap();
    assert_eq!(got, vars(&[("OPTION_A", "2"), ("OPTION_B", "\\n")]));
}
