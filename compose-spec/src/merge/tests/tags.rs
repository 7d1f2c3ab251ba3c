//! `!reset` and `!override`, marks, merge order and shape errors.

use serde_json::{Value as Json, json};

use super::super::*;
use super::{doc, mark, merged, web};
use crate::yaml;

/// A document whose value at `path` carries `tag`.
fn tagged(json: &Json, file: &str, path: &str, tag: Tag) -> Node {
    let mut node = doc(json, file);
    let mut at = &mut node;
    for key in path.split('.') {
        at = match &mut at.value {
            Value::Map(map) => map.get_mut(key).unwrap(),
            Value::Seq(items) => &mut items[key.parse::<usize>().unwrap()],
            _ => panic!("no {path} in test document"),
        };
    }
    at.tag = Some(tag);
    node
}

#[test]
fn reset_and_override_tags() {
    let base = json!({"services": {"web": {
        "image": "a", "ports": ["80:80"], "environment": {"A": "1", "B": "2"},
        "build": {"context": ".", "args": {"X": "1"}}, "deploy": {"resources": {"limits": {"cpus": "1"}}},
    }}});
    type Case = (&'static str, Json, &'static str, Tag, Json);
    let cases: Vec<Case> = vec![
        (
            "reset sequence",
            json!({"services": {"web": {"ports": []}}}),
            "services.web.ports",
            Tag::Reset,
            json!({"ports": null}),
        ),
        (
            "reset scalar",
            json!({"services": {"web": {"image": null}}}),
            "services.web.image",
            Tag::Reset,
            json!({"image": null}),
        ),
        (
            "reset map entry of list-or-dict",
            json!({"services": {"web": {"environment": {"A": null, "C": "3"}}}}),
            "services.web.environment.A",
            Tag::Reset,
            json!({"environment": {"B": "2", "C": "3"}}),
        ),
        (
            "reset deep",
            json!({"services": {"web": {"build": {"args": {"X": null}}}}}),
            "services.web.build.args.X",
            Tag::Reset,
            json!({"build": {"context": ".", "args": {}}}),
        ),
        (
            "reset service",
            json!({"services": {"web": null}}),
            "services.web",
            Tag::Reset,
            json!(null),
        ),
        (
            "override sequence",
            json!({"services": {"web": {"ports": ["8080:80"]}}}),
            "services.web.ports",
            Tag::Override,
            json!({"ports": ["8080:80"]}),
        ),
        (
            "override map",
            json!({"services": {"web": {"environment": {"C": "3"}}}}),
            "services.web.environment",
            Tag::Override,
            json!({"environment": {"C": "3"}}),
        ),
        (
            "override deep",
            json!({"services": {"web": {"deploy": {"resources": {"limits": {"memory": "1g"}}}}}}),
            "services.web.deploy.resources",
            Tag::Override,
            json!({"deploy": {"resources": {"limits": {"memory": "1g"}}}}),
        ),
    ];
    for (name, over, path, tag, want) in cases {
        let got = merge(
            doc(&base, "base.yaml"),
            tagged(&over, "over.yaml", path, tag),
        )
        .unwrap()
        .to_json();
        let mut expected = base.clone();
        match want {
            Json::Null => {
                expected["services"]
                    .as_object_mut()
                    .unwrap()
                    .shift_remove("web");
            }
            Json::Object(changes) => {
                let web = expected["services"]["web"].as_object_mut().unwrap();
                for (k, v) in changes {
                    match v {
                        Json::Null => {
                            web.shift_remove(&k);
                        }
                        v => {
                            web.insert(k, v);
                        }
                    }
                }
            }
            _ => unreachable!("cases give null or an object"),
        }
        assert_eq!(got, expected, "case {name}");
    }
}

#[test]
fn tags_in_a_single_document_are_resolved() {
    let mut one = tagged(
        &web(json!({"image": "a", "ports": ["80:80"], "command": ["x"]})),
        "a.yaml",
        "services.web.ports",
        Tag::Reset,
    );
    let Value::Map(services) = &mut one.as_map_mut().unwrap()["services"].value else {
        unreachable!()
    };
    services["web"].as_map_mut().unwrap()["command"].tag = Some(Tag::Override);
    let got = merge_all([one]).unwrap().unwrap();
    assert_eq!(got.to_json(), web(json!({"image": "a", "command": ["x"]})));
    assert_eq!(
        got.at(&KeyPath::parse("services.web.command")).unwrap().tag,
        None
    );
}

#[test]
fn three_files_merge_in_order() {
    let got = merged(&[
        web(json!({"image": "a", "ports": ["80:80"], "environment": ["A=1"]})),
        web(json!({"image": "b", "ports": ["81:81"], "environment": {"B": "2"}})),
        web(json!({"image": "c", "ports": ["80:80/udp"], "environment": ["A=3"], "command": "go"})),
    ]);
    let want = web(json!({
        "image": "c", "ports": ["80:80", "81:81", "80:80/udp"],
        "environment": {"A": "3", "B": "2"}, "command": "go",
    }));
    assert_eq!(got, want);
    assert_eq!(merge_all(Vec::new()).unwrap(), None);
}

#[test]
fn merged_values_keep_the_mark_of_their_file() {
    let base = doc(
        &web(json!({"image": "a", "environment": {"A": "1"}, "ports": ["80:80"]})),
        "base.yaml",
    );
    let mut over = doc(
        &web(json!({"image": "b", "environment": ["B=2"], "ports": ["81:81"]})),
        "over.yaml",
    );
    over.mark = mark("over.yaml", 7);
    let got = merge(base, over).unwrap();
    let file = |p: &str| {
        got.at(&KeyPath::parse(p))
            .unwrap()
            .mark
            .file
            .display()
            .to_string()
    };
    assert_eq!(file("services.web.image"), "over.yaml");
    assert_eq!(file("services.web.environment.A"), "base.yaml");
    assert_eq!(file("services.web.environment.B"), "over.yaml");
    assert_eq!(file("services.web.environment"), "base.yaml");
    assert_eq!(file("services.web.ports[0]"), "base.yaml");
    assert_eq!(file("services.web.ports[1]"), "over.yaml");
    assert_eq!(got.mark.line, 1, "a merged mapping keeps the base's mark");
}

#[test]
fn incompatible_shapes_are_errors() {
    let cases = [
        (
            json!({"deploy": {"replicas": 1}}),
            json!({"deploy": "big"}),
            "services.web.deploy",
            "cannot override a mapping with a string",
        ),
        (
            json!({"security_opt": ["a"]}),
            json!({"security_opt": {"a": 1}}),
            "services.web.security_opt",
            "cannot override a sequence with a mapping",
        ),
        (
            json!({"environment": {"A": "1"}}),
            json!({"environment": [["A"]]}),
            "services.web.environment[0]",
            "expected a KEY=value string",
        ),
    ];
    for (base, over, path, message) in cases {
        let err = merge(doc(&web(base), "a.yaml"), doc(&web(over), "b.yaml")).unwrap_err();
        let diagnostic = err.diagnostic().unwrap();
        assert_eq!(diagnostic.path.to_string(), path);
        assert_eq!(diagnostic.message, message);
        assert_eq!(
            diagnostic.mark.as_ref().unwrap().file.display().to_string(),
            "b.yaml"
        );
    }
}

#[test]
fn tags_parsed_from_yaml() {
    let parse = |text: &str, file: &str| {
        let file: std::sync::Arc<std::path::Path> =
            std::sync::Arc::from(std::path::Path::new(file));
        yaml::parse(text, file).unwrap().remove(0)
    };
    let base = parse(
        "services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: [A=1, B=2]\n    deploy: {resources: {limits: {cpus: '1'}}}\n",
        "compose.yaml",
    );
    let over = parse(
        "services:\n  web:\n    image: !reset null\n    ports: !override ['8080:80']\n    environment: {A: !reset , C: '3'}\n    deploy: {resources: !override {reservations: {cpus: '1'}}}\n",
        "compose.override.yaml",
    );
    let got = merge(base, over).unwrap();
    assert_eq!(
        got.to_json(),
        web(
            json!({"ports": ["8080:80"], "environment": {"B": "2", "C": "3"}, "deploy": {"resources": {"reservations": {"cpus": "1"}}}})
        )
    );
    let ports = got.at(&KeyPath::parse("services.web.ports")).unwrap();
    assert_eq!(
        (ports.mark.file.display().to_string(), ports.mark.line),
        ("compose.override.yaml".to_owned(), 4)
    );
}
