//! What a user sees when a compose file is read: values, marks, and the errors.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::path::KeyPath;
use crate::yaml::{Map, Tag, Value};

fn file() -> Arc<Path> {
    Arc::from(Path::new("compose.yaml"))
}

fn one(source: &str) -> Node {
    let mut docs = parse(source, file()).unwrap();
    assert_eq!(docs.len(), 1, "{source:?}");
    docs.remove(0)
}

fn error(source: &str) -> (ErrorKind, String) {
    let err = parse(source, file()).unwrap_err();
    (err.kind(), err.to_string())
}

fn at<'a>(node: &'a Node, path: &str) -> &'a Node {
    node.at(&KeyPath::parse(path))
        .unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn documents_come_in_order_and_empty_input_has_none() {
    assert!(parse("", file()).unwrap().is_empty());
    assert!(parse("# only a comment\n", file()).unwrap().is_empty());
    let docs = parse("a: 1\n---\nb: 2\n", file()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].get("a").unwrap().value, Value::Int(1));
    assert_eq!(docs[1].get("b").unwrap().value, Value::Int(2));
    assert!(one("---\n").is_null());
}

#[test]
fn every_node_has_a_one_based_mark() {
    let doc = one("services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n");
    let image = at(&doc, "services.web.image");
    assert_eq!(image.as_str(), Some("nginx"));
    assert_eq!(image.mark.to_string(), "compose.yaml:3:12");
    assert_eq!(
        at(&doc, "services.web.ports[0]").mark.to_string(),
        "compose.yaml:4:13"
    );
    assert_eq!(at(&doc, "services.web.ports").mark.line, 4);
    assert_eq!(doc.mark.line, 1);
}

#[test]
fn scalars_are_typed_like_compose() {
    let doc = one(concat!(
        "a: null\nb: ~\nc:\nd: True\ne: yes\nf: on\ng: 0x10\nh: 0o10\ni: 10\nj: 1.5\n",
        "k: .inf\nl: '10'\nm: \"true\"\nn: |\n  text\no: 0440\np: 80:80\n",
    ));
    let want = [
        ("a", Value::Null),
        ("b", Value::Null),
        ("c", Value::Null),
        ("d", Value::Bool(true)),
        ("e", Value::String("yes".into())),
        ("f", Value::String("on".into())),
        ("g", Value::Int(16)),
        ("h", Value::Int(8)),
        ("i", Value::Int(10)),
        ("j", Value::Float(1.5)),
        ("k", Value::Float(f64::INFINITY)),
        ("l", Value::String("10".into())),
        ("m", Value::String("true".into())),
        ("n", Value::String("text\n".into())),
        ("o", Value::Int(288)),
        ("p", Value::String("80:80".into())),
    ];
    for (key, value) in want {
        assert_eq!(doc.get(key).unwrap().value, value, "{key}");
    }
}

#[test]
fn standard_tags_are_respected() {
    let doc = one(
        "a: !!str 123\nb: !!int \"12\"\nc: !!float 3\nd: !!null ''\ne: !!seq [1]\nf: !!map {}\n",
    );
    assert_eq!(doc.get("a").unwrap().value, Value::String("123".into()));
    assert_eq!(doc.get("b").unwrap().value, Value::Int(12));
    assert_eq!(doc.get("c").unwrap().value, Value::Float(3.0));
    assert!(doc.get("d").unwrap().is_null());
    assert_eq!(doc.get("e").unwrap().as_seq().map(<[Node]>::len), Some(1));
    assert!(doc.get("f").unwrap().as_map().is_some_and(Map::is_empty));
    let (kind, msg) = error("a: !!int abc\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert_eq!(msg, "compose.yaml:1:10: a: cannot read \"abc\" as !!int");
    let (kind, msg) = error("a: !!seq {}\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert!(
        msg.ends_with("the !!seq tag is not allowed on a mapping"),
        "{msg}"
    );
}

#[test]
fn compose_tags_are_recorded_and_others_refused() {
    let doc = one("ports: !reset []\nimage: !reset null\nenvironment: !override\n  A: 1\n");
    assert_eq!(doc.get("ports").unwrap().tag, Some(Tag::Reset));
    assert!(doc.get("image").unwrap().is_null());
    assert_eq!(doc.get("image").unwrap().tag, Some(Tag::Reset));
    let env = doc.get("environment").unwrap();
    assert_eq!(env.tag, Some(Tag::Override));
    assert_eq!(env.get("A").unwrap().value, Value::Int(1));
    assert_eq!(doc.tag, None);
    let (kind, msg) = error("services:\n  web: !custom x\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert_eq!(
        msg,
        "compose.yaml:2:16: services.web: unknown tag \"!custom\""
    );
    assert_eq!(
        error("a: !!binary aGVsbG8=\n").1,
        "compose.yaml:1:13: a: unknown tag \"!!binary\""
    );
}

#[test]
fn aliases_copy_the_anchored_node_with_the_alias_mark() {
    let doc = one("x-env: &env\n  A: 1\n  B: two\nweb:\n  environment: *env\n");
    let copy = at(&doc, "web.environment");
    assert_eq!(copy.to_json(), serde_json::json!({"A": 1, "B": "two"}));
    assert_eq!(copy.mark.to_string(), "compose.yaml:5:16");
    assert_eq!(
        copy.get("A").unwrap().mark.line,
        2,
        "inner nodes keep the anchored text's marks"
    );
    let doc = one("a: &v 5\nb: *v\n");
    assert_eq!(doc.get("b").unwrap().value, Value::Int(5));
    let (kind, msg) = error("a: *nope\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert!(msg.starts_with("compose.yaml:1:"), "{msg}");
    let (kind, _) = error("a: &x 1\n---\nb: *x\n");
    assert_eq!(kind, ErrorKind::Syntax, "anchors do not cross documents");
}

#[test]
fn merge_keys_fill_in_without_overriding() {
    let doc = one(concat!(
        "base: &base {image: a, restart: always}\n",
        "other: &other {image: b, user: root, restart: no}\n",
        "one:\n  image: mine\n  <<: *base\n",
        "two:\n  <<: [*other, *base]\n  user: me\n",
    ));
    assert_eq!(
        at(&doc, "one").to_json(),
        serde_json::json!({"image": "mine", "restart": "always"})
    );
    assert_eq!(
        at(&doc, "two").to_json(),
        serde_json::json!({"image": "b", "user": "me", "restart": "no"})
    );
    let doc = one("'<<': {a: 1}\n");
    assert!(doc.get("<<").is_some(), "a quoted << is an ordinary key");
    let (kind, msg) = error("a:\n  <<: 5\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert_eq!(
        msg,
        "compose.yaml:2:7: a.<<: a merge key (<<) needs a mapping or a sequence of mappings"
    );
    assert_eq!(error("a:\n  <<: [{x: 1}, 2]\n").0, ErrorKind::Syntax);
}

#[test]
fn scalar_keys_become_strings_and_complex_keys_are_refused() {
    let doc = one("8080: x\ntrue: y\n1.5: z\n~: n\n");
    let keys: Vec<&str> = doc.as_map().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["8080", "true", "1.5", "~"]);
    let doc = one("a: &k 42\n*k : v\n");
    assert_eq!(doc.get("42").unwrap().as_str(), Some("v"));
    let (kind, msg) = error("? [a, b]\n: x\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert!(
        msg.ends_with("a mapping key must be a scalar, not a sequence or mapping"),
        "{msg}"
    );
    assert_eq!(error("a: &m {x: 1}\n*m : v\n").0, ErrorKind::Syntax);
}

#[test]
fn duplicate_keys_are_refused_at_the_second_occurrence() {
    let (kind, msg) = error("services:\n  web:\n    image: a\n    ports: []\n    image: b\n");
    assert_eq!(kind, ErrorKind::DuplicateKey);
    assert_eq!(
        msg,
        "compose.yaml:5:5: services.web.image: duplicate key \"image\" (first defined at line 3)"
    );
    assert_eq!(error("a: 1\n'a': 2\n").0, ErrorKind::DuplicateKey);
    assert_eq!(
        error("x: {<<: {a: 1}, <<: {b: 2}}\n").0,
        ErrorKind::DuplicateKey
    );
    // keys that came from a merge may be overridden, before or after the merge
    let doc = one("b: &b {a: 1, c: 3}\nx:\n  a: 0\n  <<: *b\n  c: 4\n");
    assert_eq!(at(&doc, "x").to_json(), serde_json::json!({"a": 0, "c": 4}));
}

#[test]
fn syntax_errors_carry_the_parser_position() {
    let (kind, msg) = error("services:\n  web:\n    image: [a\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert!(msg.starts_with("compose.yaml:"), "{msg}");
    let (kind, msg) = error("a: b: c\n");
    assert_eq!(kind, ErrorKind::Syntax);
    assert!(msg.starts_with("compose.yaml:1:5: "), "{msg}");
}

#[test]
fn a_billion_laughs_is_refused_quickly() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut previous = "a";
    for name in names {
        let refs = vec![format!("*{previous}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        previous = name;
    }
    let started = Instant::now();
    let err = parse(&bomb, file()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AliasLimit);
    assert!(err.to_string().contains("more than 1000000 nodes"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn limits_bound_nodes_and_depth() {
    let small = Limits {
        max_nodes: 10,
        max_depth: 3,
    };
    let ok = parse_with_limits("a: [1, 2]\n", file(), &small).unwrap();
    assert_eq!(ok.len(), 1);
    let err = parse_with_limits("a: &a [1, 2, 3]\nb: [*a, *a]\n", file(), &small).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AliasLimit);
    let err = parse_with_limits("a: [[[[1]]]]\n", file(), &small).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Syntax);
    assert!(
        err.to_string().contains("nests deeper than 3 levels"),
        "{err}"
    );
    let err = parse_with_limits("a: &a [[1]]\nb: [[*a]]\n", file(), &small).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AliasLimit);
    // long strings count towards the budget, so copies of them are bounded too
    let long = format!("a: &a {}\nb: [*a, *a, *a]\n", "x".repeat(1000));
    let err = parse_with_limits(
        &long,
        file(),
        &Limits {
            max_nodes: 30,
            max_depth: 8,
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AliasLimit);
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let deep = "[".repeat(100_000);
    assert_eq!(parse(&deep, file()).unwrap_err().kind(), ErrorKind::Syntax);
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(parse(&deep, file()).unwrap().len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text, file());
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[-a-z0-9:{}\\[\\],&*!<>|'\" \n#?.~]{0,120}") {
        let _ = parse(&text, file());
    }
}
