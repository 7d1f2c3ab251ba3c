//! Interpolation as a user sees it: the substituted values, the warnings and the errors.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::template::{Interpolated, InterpolationError};
use super::*;
use crate::yaml::parse;

/// FOO=first, BAR="" (set but empty), JSON={"json":2}; everything else unset.
fn lookup(name: &str) -> Option<String> {
    match name {
        "FOO" => Some("first".into()),
        "BAR" => Some(String::new()),
        "JSON" => Some(r#"{"json":2}"#.into()),
        _ => None,
    }
}

fn ok(input: &str) -> Interpolated {
    interpolate_str(input, &lookup).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

#[test]
fn every_form_substitutes_like_compose() {
    let cases: &[(&str, &str)] = &[
        ("no variables", "no variables"),
        ("$FOO", "first"),
        ("${FOO}", "first"),
        ("a $FOO b", "a first b"),
        ("$FOO-bar", "first-bar"),
        ("${FOO}bar", "firstbar"),
        ("$foo_1x", ""),
        // defaults
        ("${FOO:-def}", "first"),
        ("${BAR:-def}", "def"),
        ("${UNSET:-def}", "def"),
        ("${FOO-def}", "first"),
        ("${BAR-def}", ""),
        ("${UNSET-def}", "def"),
        ("${UNSET:-/non:-alphanumeric}", "/non:-alphanumeric"),
        ("${UNSET-myerror?msg}", "myerror?msg"),
        // required, satisfied
        ("${FOO:?err}", "first"),
        ("${FOO?err}", "first"),
        ("${BAR?err}", ""),
        ("${FOO?bar-baz}", "first"),
        // alternatives
        ("${FOO:+alt}", "alt"),
        ("${FOO+alt}", "alt"),
        ("${BAR:+alt}", ""),
        ("${BAR+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET+alt}", ""),
        // nesting
        ("${UNSET:-${FOO}}", "first"),
        ("${UNSET:-$FOO}", "first"),
        ("${UNSET-${FOO} ${FOO}}", "first first"),
        ("${UNSET:-${BAR-${FOO}}}", ""),
        ("${UNSET:-${UNSET2:-x}}", "x"),
        ("${BAR+$FOO ${FOO:+second}}", "first second"),
        ("${FOO:+${FOO},}B", "first,B"),
        ("${UNSET:+${UNSET},}B", "B"),
        // braces inside words
        (r#"${UNSET:-{"json":1}}"#, r#"{"json":1}"#),
        (r#"${JSON:-{"json":1}}"#, r#"{"json":2}"#),
        ("${UNSET:-x}}", "x}"),
        ("${UNSET:-{}", "{"),
        ("${FOO:-${B}", "first"),
        // escapes and lone dollars
        ("$$", "$"),
        ("$${FOO}", "${FOO}"),
        ("$$FOO", "$FOO"),
        ("a $ string", "a $ string"),
        ("^REGEX$", "^REGEX$"),
        ("$}", "$}"),
        ("$", "$"),
        ("$1", "$1"),
        ("100$-off", "100$-off"),
        ("é$FOO€", "éfirst€"),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input).value, *want, "{input:?}");
    }
}

#[test]
fn unset_variables_are_reported_once_and_lazily() {
    assert_eq!(ok("$A ${B} $A ${FOO}").unset, ["A", "B"]);
    assert!(
        ok("${A:-x} ${A-x} ${A:+x} ${A+x}").unset.is_empty(),
        "operators never warn"
    );
    assert_eq!(
        ok("${UNSET:-${B}}").unset,
        ["B"],
        "a default that is used warns"
    );
    assert!(
        ok("${FOO:-${B}}").unset.is_empty(),
        "an unused default is not evaluated"
    );
    assert!(
        ok("${FOO?${B}}").unset.is_empty(),
        "an unused message is not evaluated"
    );
    assert!(ok("${FOO:-${B:?never}}").unset.is_empty());
}

#[test]
fn missing_required_variables_name_the_variable_and_message() {
    let cases: &[(&str, &str)] = &[
        (
            "${DB_PASS:?set it in .env}",
            "required variable DB_PASS is missing a value: set it in .env",
        ),
        (
            "${BAR:?empty}",
            "required variable BAR is missing a value: empty",
        ),
        (
            "${UNSET?unset}",
            "required variable UNSET is missing a value: unset",
        ),
        ("${UNSET:?}", "required variable UNSET is missing a value"),
        ("${UNSET?}", "required variable UNSET is missing a value"),
        (
            "${UNSET?bar-baz}",
            "required variable UNSET is missing a value: bar-baz",
        ),
        (
            "${UNSET:?need ${FOO}}",
            "required variable UNSET is missing a value: need first",
        ),
        (
            "ok ${FOO} then ${X:?x}",
            "required variable X is missing a value: x",
        ),
    ];
    for (input, want) in cases {
        let err = interpolate_str(input, &lookup).unwrap_err();
        assert!(
            matches!(err, InterpolationError::MissingRequired { .. }),
            "{input:?}"
        );
        assert_eq!(err.to_string(), *want, "{input:?}");
    }
}

#[test]
fn malformed_expressions_are_refused() {
    let suffix = "; you may need to escape any $ with another $";
    let cases: &[(&str, &str)] = &[
        ("${", r#""${" is not closed by "}""#),
        ("a ${FOO", r#""${FOO" is not closed by "}""#),
        ("${FOO:-x", r#""${FOO" is not closed by "}""#),
        ("${FOO:-a\nb}", r#""${FOO" is not closed by "}""#),
        ("${}", r#""${}" names no variable"#),
        (
            "${ }",
            r#"a variable name must start with a letter or "_", found ' '"#,
        ),
        (
            "${ foo}",
            r#"a variable name must start with a letter or "_", found ' '"#,
        ),
        (
            "${1A}",
            r#"a variable name must start with a letter or "_", found '1'"#,
        ),
        (
            "${foo }",
            r#"unexpected ' ' after "${foo", expected "}" or one of :- - :? ? :+ +"#,
        ),
        (
            "${foo!}",
            r#"unexpected '!' after "${foo", expected "}" or one of :- - :? ? :+ +"#,
        ),
        (
            "${foo:x}",
            r#"unexpected ':' after "${foo", expected "}" or one of :- - :? ? :+ +"#,
        ),
        ("${UNSET:-${}}", r#""${}" names no variable"#),
        ("${UNSET:-${B}", r#""${B" is not closed by "}""#),
    ];
    for (input, reason) in cases {
        let err = interpolate_str(input, &lookup).unwrap_err();
        let want = format!("invalid interpolation format for {input:?}: {reason}{suffix}");
        assert_eq!(err.to_string(), want, "{input:?}");
    }
    let deep = format!("{}x{}", "${A:-".repeat(100), "}".repeat(100));
    let err = interpolate_str(&deep, &lookup).unwrap_err();
    assert!(
        err.to_string().contains("nested deeper than 64 levels"),
        "{err}"
    );
}

fn file() -> Arc<Path> {
    Arc::from(Path::new("compose.yaml"))
}

#[test]
fn nodes_are_interpolated_in_place_values_only() {
    let source = concat!(
        "services:\n",
        "  ${NAME}:\n",
        "    image: \"${IMAGE:-nginx}:$TAG\"\n",
        "    command: [echo, $$HOME, '${FOO}']\n",
        "    scale: 3\n",
        "    environment:\n",
        "      $KEY: ${MISSING}\n",
    );
    let mut node = parse(source, file()).unwrap().remove(0);
    let env: crate::env::Environment = [("TAG", "1.25"), ("FOO", "bar"), ("NAME", "web")]
        .into_iter()
        .collect();
    let mut warnings = Vec::new();
    interpolate_node(&mut node, &env, &KeyPath::root(), &mut warnings).unwrap();
    let service = node
        .at(&KeyPath::root().key("services").key("${NAME}"))
        .unwrap();
    assert_eq!(
        service.to_json(),
        serde_json::json!({
            "image": "nginx:1.25",
            "command": ["echo", "$HOME", "bar"],
            "scale": 3,
            "environment": {"$KEY": ""},
        })
    );
    let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "compose.yaml:7:13: services.${NAME}.environment.$KEY: the \"MISSING\" variable is \
             not set, defaulting to a blank string"
        ]
    );
}

#[test]
fn node_errors_point_at_the_value() {
    let mut node = parse(
        "services:\n  db:\n    environment:\n      - PASS=${DB_PASS:?set it in .env}\n",
        file(),
    )
    .unwrap()
    .remove(0);
    let err = interpolate_node(
        &mut node,
        &crate::env::Environment::new(),
        &KeyPath::root(),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interpolation);
    assert_eq!(
        err.to_string(),
        "compose.yaml:4:9: services.db.environment[0]: required variable DB_PASS is missing a \
         value: set it in .env"
    );
    let mut node = parse("image: ${oops\n", file()).unwrap().remove(0);
    let err = interpolate_node(
        &mut node,
        &crate::env::Environment::new(),
        &KeyPath::root().key("x"),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interpolation);
    assert!(
        err.to_string()
            .starts_with("compose.yaml:1:8: x.image: invalid interpolation format for \"${oops\""),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(
        input in "[${}:?+\\-_aAbB0 \n$é]{0,64}",
        env in proptest::collection::hash_map("[aAbB_]{1,2}", "[${}:a-]{0,6}", 0..4),
    ) {
        let env: HashMap<String, String> = env;
        let lookup = |name: &str| env.get(name).cloned();
        let result = interpolate_str(&input, &lookup).map(|done| done.value);
        if !input.contains('$') {
            prop_assert_eq!(result, Ok(input));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        let _ = interpolate_str(&input, &lookup);
    }
}

#[test]
fn variables_are_listed_with_their_defaults_alternates_and_requirements() {
    let document = serde_json::json!({
        "services": {"web": {
            "image": "nginx:${TAG:-latest}",
            "ports": ["${PORT:-8080}:80"],
            "environment": {"A": "${A:?need A}", "B": "${B+set}", "C": "$C and $$D",
                            "${KEY}": "keys are never variables"},
            "command": "${OUTER:-${INNER-x}}",
        }}
    });
    let found = super::variables(&document);
    let names: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(names, ["A", "B", "C", "INNER", "OUTER", "PORT", "TAG"]);
    assert!(found["A"].required);
    assert_eq!(found["B"].alternate.as_deref(), Some("set"));
    assert_eq!(
        found["C"],
        super::Variable {
            name: "C".into(),
            ..Default::default()
        }
    );
    assert_eq!(found["OUTER"].default.as_deref(), Some("${INNER-x}"));
    assert_eq!(found["INNER"].default.as_deref(), Some("x"));
    assert_eq!(found["PORT"].default.as_deref(), Some("8080"));
    assert!(!found["TAG"].required);
}
