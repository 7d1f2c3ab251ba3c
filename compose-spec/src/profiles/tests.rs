//! Profile selection, one table row per rule.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::yaml::Mark;

fn doc(services: serde_json::Value) -> Node {
    let mark = Mark::new(Arc::from(Path::new("compose.yaml")), 1, 1);
    Node::from_json(&json!({ "services": services }), &mark)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn names(map: &Map) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

/// A project exercising every kind of reference.
fn project() -> serde_json::Value {
    json!({
        "web": { "image": "web" },
        "db": { "image": "db", "profiles": ["dev"] },
        "cache": { "image": "cache", "profiles": ["dev", "cache"] },
        "debug": { "image": "d", "profiles": ["debug"], "depends_on": ["db"] },
        "tool": {
            "image": "t",
            "profiles": ["tools"],
            "depends_on": { "helper": { "condition": "service_healthy" } },
            "links": ["linked:alias"],
            "volumes_from": ["data:ro", "container:external"],
            "network_mode": "service:net",
        },
        "helper": { "image": "h", "profiles": ["never"], "depends_on": ["deep"] },
        "deep": { "image": "d", "profiles": ["never"] },
        "linked": { "image": "l", "profiles": ["never"] },
        "data": { "image": "d", "profiles": ["never"] },
        "net": { "image": "n", "profiles": ["never"], "ipc": "service:ipc" },
        "ipc": { "image": "i", "profiles": ["never"] },
    })
}

#[test]
fn selects_services_by_profiles_and_requests() {
    const ALL: &[&str] = &[
        "web", "db", "cache", "debug", "tool", "helper", "deep", "linked", "data", "net", "ipc",
    ];
    type Names = &'static [&'static str];
    let cases: [(&str, Names, Names, Names); 7] = [
        (
            "no profile: only services without profiles",
            &[],
            &[],
            &["web"],
        ),
        ("one active profile", &["dev"], &[], &["web", "db", "cache"]),
        (
            "any of a service's profiles",
            &["cache"],
            &[],
            &["web", "cache"],
        ),
        (
            "unknown profile enables nothing more",
            &["nope"],
            &[],
            &["web"],
        ),
        ("star activates every profile", &["*"], &[], ALL),
        (
            "a requested service brings its dependencies, transitively, whatever their profiles, \
             and nothing else",
            &[],
            &["tool"],
            &["tool", "helper", "deep", "linked", "data", "net", "ipc"],
        ),
        (
            "a request selects services even when profiles are active",
            &["dev"],
            &["debug"],
            &["db", "debug"],
        ),
    ];
    for (name, active, requested, want) in cases {
        let mut doc = doc(project());
        let disabled = select(&mut doc, &strings(active), &strings(requested))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let services = doc.get("services").and_then(Node::as_map).unwrap();
        assert_eq!(names(services), want, "{name}");
        // The disabled services come back, in document order, so nothing is lost.
        let expected_disabled: Vec<&str> =
            ALL.iter().copied().filter(|s| !want.contains(s)).collect();
        assert_eq!(names(&disabled), expected_disabled, "{name}");
        assert!(
            disabled.values().all(|s| s.get("image").is_some()),
            "{name}"
        );
    }
}

#[test]
fn a_named_service_is_enabled_with_its_needs_beside_the_active_profiles() {
    let mut selected = doc(project());
    let disabled = select_enabling(
        &mut selected,
        &strings(&["cache"]),
        &[],
        &strings(&["debug"]),
    )
    .expect("selects");
    let services = selected.get("services").and_then(Node::as_map).unwrap();
    assert_eq!(names(services), ["web", "db", "cache", "debug"]);
    assert_eq!(
        names(&disabled),
        ["tool", "helper", "deep", "linked", "data", "net", "ipc"]
    );

    let mut unknown = doc(project());
    let err = select_enabling(&mut unknown, &[], &[], &strings(&["foo"])).unwrap_err();
    assert_eq!(err.to_string(), "no such service: foo");
}

#[test]
fn an_unknown_requested_service_is_an_error() {
    let mut doc = doc(project());
    let err = select(&mut doc, &[], &strings(&["web", "foo"])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UndefinedReference);
    assert_eq!(err.to_string(), "no such service: foo");

    let mark = Mark::new(Arc::from(Path::new("compose.yaml")), 1, 1);
    for empty in [json!({ "name": "x" }), json!({ "services": null })] {
        let mut empty = Node::from_json(&empty, &mark);
        assert_eq!(select(&mut empty, &[], &[]).unwrap().len(), 0);
        let err = select(&mut empty, &[], &strings(&["foo"])).unwrap_err();
        assert_eq!(err.to_string(), "no such service: foo");
    }
}

#[test]
fn an_enabled_service_needing_a_disabled_one_is_an_error() {
    let cases = [
        (
            json!({ "depends_on": ["db"] }),
            "services.app.depends_on[0]",
        ),
        (
            json!({ "depends_on": { "db": { "condition": "service_started" } } }),
            "services.app.depends_on.db",
        ),
        (
            json!({ "depends_on": { "db": { "required": true } } }),
            "services.app.depends_on.db",
        ),
        (json!({ "links": ["db:database"] }), "services.app.links[0]"),
        (
            json!({ "volumes_from": ["db:rw"] }),
            "services.app.volumes_from[0]",
        ),
        (
            json!({ "network_mode": "service:db" }),
            "services.app.network_mode",
        ),
        (json!({ "pid": "service:db" }), "services.app.pid"),
    ];
    for (app, path) in cases {
        let mut doc =
            doc(json!({ "app": app, "db": { "image": "db", "profiles": ["dev", "test"] } }));
        let err = select(&mut doc, &[], &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UndefinedReference, "{path}");
        let want = format!(
            "compose.yaml:1:1: {path}: service \"app\" needs service \"db\", which is disabled \
             because none of its profiles (dev, test) is active"
        );
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn an_optional_dependency_on_a_disabled_service_is_kept() {
    for required in [json!(false), json!("false")] {
        let mut doc = doc(json!({
            "app": { "depends_on": { "db": { "condition": "service_started", "required": required } }, "links": ["db"] },
            "db": { "image": "db", "profiles": ["dev"] },
        }));
        let disabled = select(&mut doc, &[], &[]).unwrap();
        assert_eq!(names(&disabled), ["db"]);
        let app = doc
            .at(&KeyPath::parse("services.app.depends_on.db"))
            .unwrap();
        assert!(
            app.get("condition").is_some(),
            "the entry stays for the runtime to skip"
        );
    }
}

#[test]
fn references_to_undefined_services_are_left_to_validation() {
    let mut doc = doc(json!({ "app": { "depends_on": ["ghost"], "links": ["spirit"] } }));
    assert!(
        select(&mut doc, &[], &strings(&["app"]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_needed_service_enabled_by_profile_is_fine_and_container_sources_are_ignored() {
    let mut doc = doc(json!({
        "app": { "depends_on": ["db"], "volumes_from": ["container:other"], "network_mode": "host" },
        "db": { "image": "db", "profiles": ["dev"] },
    }));
    assert!(
        select(&mut doc, &strings(&["dev"]), &[])
            .unwrap()
            .is_empty()
    );
}
