//! Tests of the service mount syntaxes.

use super::*;
use serde_json::json;

fn bind(source: &str, target: &str) -> ServiceVolume {
    let mut v = ServiceVolume::new(VolumeType::Bind, Some(source.to_owned()), target);
    v.bind = Some(BindOptions::default());
    v
}

fn named(source: Option<&str>, target: &str) -> ServiceVolume {
    ServiceVolume::new(VolumeType::Volume, source.map(str::to_owned), target)
}

#[test]
fn short_syntax() {
    let mut ro = bind("/host", "/ctr");
    ro.read_only = true;
    let mut nocopy = named(Some("named"), "/data");
    nocopy.volume = Some(VolumeOptions {
        nocopy: true,
        ..VolumeOptions::default()
    });
    let mut labeled = bind("./src", "/app");
    labeled.bind = Some(BindOptions {
        selinux: Some(SeLinux::Private),
        propagation: Some(Propagation::RShared),
        ..BindOptions::default()
    });
    labeled.consistency = Some("cached".to_owned());
    let cases = vec![
        ("/host:/ctr:ro", ro),
        ("./rel:/ctr", bind("./rel", "/ctr")),
        ("~/x:/y/", bind("~/x", "/y")),
        ("../up:/a/./b", bind("../up", "/a/b")),
        ("named:/data:rw,nocopy", nocopy),
        ("named:/data", named(Some("named"), "/data")),
        ("/anon", named(None, "/anon")),
        ("./src:/app:Z,rshared,cached", labeled),
    ];
    for (text, want) in cases {
        assert_eq!(parse_volume(text), Ok(want), "{text}");
    }
}

#[test]
fn short_bind_sources_create_the_host_path() {
    let v = parse_volume("./data:/data").unwrap();
    assert!(v.bind.as_ref().is_some_and(|b| b.create_host_path));
}

#[test]
fn every_propagation_mode() {
    for p in Propagation::ALL {
        let v = parse_volume(&format!("/a:/b:{p}")).unwrap();
        assert_eq!(v.bind.and_then(|b| b.propagation), Some(*p));
    }
}

#[test]
fn short_syntax_errors() {
    let cases = [
        (
            "",
            "invalid volume \"\": empty volume, expected [SOURCE:]TARGET[:MODE]",
        ),
        (
            "a::b",
            "invalid volume \"a::b\": empty section between colons, expected [SOURCE:]TARGET[:MODE]",
        ),
        (
            "a:b:ro:x",
            "invalid volume \"a:b:ro:x\": too many colons, expected [SOURCE:]TARGET[:MODE]",
        ),
        (
            "/a:/b:rx",
            "invalid volume \"/a:/b:rx\": unknown mode \"rx\", expected ro, rw, z, Z, nocopy or a propagation such as rshared",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_volume(text), Err(want.to_owned()), "{text}");
    }
}

#[test]
fn long_syntax() {
    let v: ServiceVolume = serde_json::from_value(json!({
        "type": "bind",
        "source": "./data",
        "target": "/data",
        "read_only": "true",
        "bind": {"propagation": "rslave", "create_host_path": false, "selinux": "z", "recursive": "readonly"},
        "x-note": "kept"
    }))
    .unwrap();
    assert_eq!(v.kind, VolumeType::Bind);
    assert!(v.read_only);
    let b = v.bind.clone().unwrap();
    assert_eq!(b.propagation, Some(Propagation::RSlave));
    assert!(!b.create_host_path);
    assert_eq!(b.selinux, Some(SeLinux::Shared));
    assert_eq!(b.recursive, Some(Recursive::ReadOnly));
    assert_eq!(v.extensions["x-note"], json!("kept"));

    let t: ServiceVolume = serde_json::from_value(json!({
        "type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "64m", "mode": "1777"}
    }))
    .unwrap();
    let tmpfs = t.tmpfs.unwrap();
    assert_eq!(tmpfs.size, Some(ByteSize(64 << 20)));
    assert_eq!(tmpfs.mode, Some(FileMode(0o1777)));

    let n: ServiceVolume = serde_json::from_value(json!({
        "type": "volume", "source": "db", "target": "/var/lib", "volume": {"nocopy": true, "subpath": "x", "labels": ["a=b"]}
    }))
    .unwrap();
    let opts = n.volume.unwrap();
    assert!(opts.nocopy);
    assert_eq!(opts.subpath.as_deref(), Some("x"));
    assert_eq!(opts.labels["a"], "b");

    let i: ServiceVolume = serde_json::from_value(json!({
        "type": "image", "source": "alpine", "target": "/img", "image": {"subpath": "etc"}
    }))
    .unwrap();
    assert_eq!(i.image.and_then(|o| o.subpath).as_deref(), Some("etc"));
}

#[test]
fn bind_options_default_to_creating_the_host_path() {
    let v: ServiceVolume =
        serde_json::from_value(json!({"type": "bind", "source": "/a", "target": "/b", "bind": {}}))
            .unwrap();
    assert!(v.bind.unwrap().create_host_path);
}

#[test]
fn long_syntax_errors() {
    let err = |v| {
        serde_json::from_value::<ServiceVolume>(v)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(json!({"type": "nfs", "target": "/a"})),
        "invalid volume type \"nfs\": expected one of bind, volume, tmpfs, npipe, cluster, image"
    );
    assert_eq!(err(json!({"target": "/a"})), "missing field `type`");
    assert_eq!(
        err(json!({"type": "bind", "target": "/a", "bogus": 1})),
        "unknown key \"bogus\" (only keys starting with x- may be added)"
    );
}

#[test]
fn every_volume_type_round_trips() {
    for kind in VolumeType::ALL {
        let v = ServiceVolume::new(*kind, Some("src".to_owned()), "/t");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["type"], json!(kind.as_str()));
        assert_eq!(serde_json::from_value::<ServiceVolume>(json).unwrap(), v);
    }
}

#[test]
fn short_form_round_trips_through_the_long_form() {
    for text in [
        "/host:/ctr:ro,z",
        "named:/data:nocopy",
        "/anon",
        "./a:/b:rprivate",
    ] {
        let v = parse_volume(text).unwrap();
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            serde_json::from_value::<ServiceVolume>(json).unwrap(),
            v,
            "{text}"
        );
    }
}

#[test]
fn cleans_paths_like_go() {
    let cases = [
        ("/a/b/", "/a/b"),
        ("/a//b/./c/..", "/a/b"),
        ("/..", "/"),
        ("a/../..", ".."),
        ("", "."),
    ];
    for (input, want) in cases {
        assert_eq!(clean_path(input), want, "{input}");
    }
}
