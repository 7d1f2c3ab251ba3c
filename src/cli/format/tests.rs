//! The renderer as a user sees it: docker's documented template examples on JSON rows.

use serde_json::{Value, json};

use super::header::{CONTAINER, PLAIN};
use super::*;

fn rows() -> Vec<Value> {
    vec![
        json!({"ID": "0123456789ab", "Image": "busybox", "Names": "web", "Status": "Up 2 seconds",
               "Labels": {"tier": "front", "app": "shop"}, "Size": 12}),
        json!({"ID": "ba9876543210", "Image": "alpine:3.20", "Names": "db", "Status": "Created",
               "Labels": {}, "Size": 3}),
    ]
}

fn render(format: &str) -> String {
    Format::parse(format)
        .expect("parses")
        .rows(&rows(), CONTAINER)
        .expect("renders")
        .expect("not the default table")
}

fn error(format: &str) -> String {
    match Format::parse(format) {
        Err(err) => err.to_string(),
        Ok(parsed) => parsed
            .rows(&rows(), CONTAINER)
            .expect_err("fails")
            .to_string(),
    }
}

#[test]
fn default_and_json() {
    assert!(Format::parse("").expect("parses").is_default());
    assert!(Format::parse("table").expect("parses").is_default());
    assert_eq!(
        render("json").lines().next(),
        Some(
            r#"{"ID":"0123456789ab","Image":"busybox","Names":"web","Status":"Up 2 seconds","Labels":{"tier":"front","app":"shop"},"Size":12}"#
        )
    );
}

#[test]
fn fields_one_line_per_row() {
    assert_eq!(
        render("{{.ID}}: {{.Names}}"),
        "0123456789ab: web\nba9876543210: db\n"
    );
    assert_eq!(render("{{.Names}}\\t{{.Size}}"), "web\t12\ndb\t3\n");
}

#[test]
fn json_of_the_row_keeps_field_order_and_sorts_maps() {
    assert_eq!(
        render("{{json .}}").lines().next(),
        Some(
            r#"{"ID":"0123456789ab","Image":"busybox","Names":"web","Status":"Up 2 seconds","Labels":{"app":"shop","tier":"front"},"Size":12}"#
        )
    );
    assert_eq!(
        render("{{json .Labels}}"),
        "{\"app\":\"shop\",\"tier\":\"front\"}\n{}\n"
    );
}

#[test]
fn table_has_docker_headers_and_aligned_columns() {
    assert_eq!(
        render("table {{.ID}}\\t{{.Image}}"),
        "CONTAINER ID   IMAGE\n0123456789ab   busybox\nba9876543210   alpine:3.20\n"
    );
    assert_eq!(
        render("table {{.Names | upper}}\t{{.Status}}\t{{.Size}}"),
        "NAMES     STATUS         SIZE\nWEB       Up 2 seconds   12\nDB        Created        3\n"
    );
}

#[test]
fn an_empty_table_still_has_its_header() {
    let text = Format::parse("table {{.ID}}\t{{.RunningFor}}\t{{.CreatedAt}}")
        .expect("parses")
        .rows(&[], CONTAINER)
        .expect("renders");
    assert_eq!(
        text.as_deref(),
        Some("CONTAINER ID   CREATED   CREATED AT\n")
    );
    let text = Format::parse("table {{.ID}}")
        .expect("parses")
        .rows(&[], PLAIN)
        .expect("renders");
    assert_eq!(text.as_deref(), Some("ID\n"));
}

#[test]
fn docker_functions() {
    for (template, want) in [
        ("{{lower .Image}}", "busybox"),
        ("{{upper .Names}}", "WEB"),
        ("{{title \"hello big-world_x\"}}", "Hello Big-World_x"),
        ("{{truncate .ID 4}}", "0123"),
        ("{{truncate .Names 10}}", "web"),
        ("[{{pad .Names 2 1}}]", "[  web ]"),
        ("[{{pad \"\" 2 1}}]", "[]"),
        ("{{join (split .Status \" \") \",\"}}", "Up,2,seconds"),
        ("{{len (split .Status \" \")}}", "3"),
        (
            "{{range $k, $v := .Labels}}{{if eq $k \"tier\"}}{{$v}}{{end}}{{end}}",
            "front",
        ),
        ("{{index .Labels \"app\"}}", "shop"),
        ("{{.Labels.missing}}", "<no value>"),
        ("{{println .Names}}", "web\n"),
        ("{{printf \"%s-%d\" .Names .Size}}", "web-12"),
        ("{{if gt .Size 5}}big{{else}}small{{end}}", "big"),
        ("{{len .}}", "6"),
    ] {
        let text = Format::parse(template)
            .expect("parses")
            .rows(&rows()[..1], CONTAINER)
            .expect("renders");
        assert_eq!(text, Some(format!("{want}\n")), "{template}");
    }
}

#[test]
fn inspect_formats() {
    let objects = vec![
        json!({"Name": "/web", "NetworkSettings": {"IPAddress": "10.0.0.2",
        "Networks": {"bridge": {"IPAddress": "10.0.0.2"}}}}),
    ];
    let default = Format::parse_inspect(None)
        .expect("parses")
        .objects(&objects)
        .expect("renders");
    assert!(
        default.starts_with("[\n  {\n    \"Name\": \"/web\""),
        "{default}"
    );
    let ip = Format::parse_inspect(Some("{{.NetworkSettings.IPAddress}}"))
        .expect("parses")
        .objects(&objects)
        .expect("renders");
    assert_eq!(ip, "10.0.0.2\n");
    let nested = Format::parse_inspect(Some(
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    ))
    .expect("parses")
    .objects(&objects)
    .expect("renders");
    assert_eq!(nested, "10.0.0.2\n");
    let json = Format::parse_inspect(Some("json"))
        .expect("parses")
        .objects(&objects)
        .expect("renders");
    assert_eq!(json.lines().count(), 1);
}

#[test]
fn errors_are_one_line_naming_the_template() {
    let unknown = error("{{.Nope}}");
    assert_eq!(
        unknown,
        "--format template \"{{.Nope}}\" failed: can't evaluate field Nope"
    );
    let unclosed = error("{{.ID");
    assert!(
        unclosed.starts_with("invalid --format template \"{{.ID\": "),
        "{unclosed}"
    );
    let function = error("{{nope .ID}}");
    assert!(function.contains("function nope not defined"), "{function}");
    let wrong = error("{{upper .Size}}");
    assert!(wrong.contains("upper: expected a string"), "{wrong}");
    let arity = error("{{truncate .ID}}");
    assert!(arity.contains("truncate requires exactly 2"), "{arity}");
    for message in [unknown, unclosed, function, wrong, arity] {
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn named_fields_are_the_top_level_ones() {
    assert_eq!(
        named_fields("{{.ID}}\t{{.State.Status}} {{ json .Labels }} {{$x.Y}}"),
        ["ID", "State", "Labels"]
    );
}

#[test]
fn whole_values_print_as_go_does() {
    assert_eq!(
        render("{{.Labels}} {{.Size}} {{.Labels.nope}}"),
        "map[app:shop tier:front] 12 <no value>\nmap[] 3 <no value>\n"
    );
    assert_eq!(
        render("{{- split .Image \":\" -}}|{{println .Names 1}}"),
        "[busybox]|web 1\n\n[alpine 3.20]|db 1\n\n"
    );
}
