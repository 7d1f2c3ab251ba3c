//! The semantic checks as a user meets them: a compose file loaded end to end, the first
//! problem reported with its line and key path.

use crate::discovery::ProjectOptions;
use crate::loader::{self, LoadOptions};

/// The one-line error of loading `yaml` as compose.yaml, or `None` when it loads.
fn error_of(yaml: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, yaml).expect("write compose.yaml");
    let options = LoadOptions {
        project: ProjectOptions {
            working_dir: dir.path().to_path_buf(),
            files: vec![file],
            ..Default::default()
        },
        interpolate: true,
        ..Default::default()
    };
    loader::load(&options).err().map(|e| e.to_string())
}

#[test]
fn each_check_reports_what_and_where() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "undefined network",
            "services:\n  web:\n    image: nginx\n    networks: [front]\n",
            "compose.yaml:4:15: services.web.networks.front: service \"web\" refers to undefined network \"front\"",
        ),
        (
            "undefined build secret",
            "services:\n  web:\n    build:\n      context: .\n      secrets: [npmrc]\n",
            "services.web.build.secrets[0]: service \"web\" refers to undefined secret \"npmrc\"",
        ),
        (
            "link to an undefined service",
            "services:\n  web:\n    image: nginx\n    links: [\"api:backend\"]\n",
            "compose.yaml:4:13: services.web.links[0]: service \"web\" links to undefined service \"api\"",
        ),
        (
            "volumes_from an undefined service",
            "services:\n  web:\n    image: nginx\n    volumes_from: [store]\n",
            "services.web.volumes_from[0]: service \"web\" mounts volumes from undefined service \"store\"",
        ),
        (
            "network_mode of an undefined service",
            "services:\n  web:\n    image: nginx\n    network_mode: service:vpn\n",
            "compose.yaml:4:19: services.web.network_mode: service \"web\" uses the network stack of undefined service \"vpn\"",
        ),
        (
            "cycle through links names the link",
            "services:\n  a:\n    image: x\n    links: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "compose.yaml:4:13: services.a.links[0]: dependency cycle detected: a -> b -> a (\"a\" links to \"b\")",
        ),
        (
            "cycle through depends_on list",
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "services.a.depends_on[0]: dependency cycle detected: a -> b -> a",
        ),
        (
            "bind mount without source",
            "services:\n  web:\n    image: nginx\n    volumes:\n      - type: bind\n        target: /data\n",
            "services.web.volumes[0]: a bind mount needs a source",
        ),
        (
            "tmpfs with source",
            "services:\n  web:\n    image: nginx\n    volumes:\n      - type: tmpfs\n        source: /x\n        target: /cache\n",
            "compose.yaml:6:17: services.web.volumes[0].source: a tmpfs mount cannot have a source",
        ),
        (
            "bind options on a volume mount",
            "services:\n  web:\n    image: nginx\n    volumes:\n      - type: volume\n        source: data\n        target: /data\n        bind:\n          propagation: rshared\nvolumes:\n  data: {}\n",
            "services.web.volumes[0].bind: bind options only apply to mounts of type bind",
        ),
        (
            "soft ulimit above hard",
            "services:\n  web:\n    image: nginx\n    ulimits:\n      nofile:\n        soft: 40000\n        hard: 20000\n",
            "services.web.ulimits.nofile: soft limit 40000 is above the hard limit 20000",
        ),
        (
            "healthcheck test and disable",
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      disable: true\n",
            "compose.yaml:6:16: services.web.healthcheck.disable: healthcheck.disable and healthcheck.test cannot be set together",
        ),
        (
            "healthcheck test kind",
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [\"RUN\", \"true\"]\n",
            "services.web.healthcheck.test: healthcheck test starts with \"RUN\"",
        ),
        (
            "dockerfile and dockerfile_inline",
            "services:\n  web:\n    build:\n      context: .\n      dockerfile: Dockerfile\n      dockerfile_inline: FROM x\n",
            "services.web.build.dockerfile_inline: dockerfile and dockerfile_inline cannot be set together",
        ),
        (
            "gpus count and device_ids",
            "services:\n  web:\n    image: nginx\n    gpus:\n      - count: 1\n        device_ids: [\"0\"]\n",
            "services.web.gpus[0].device_ids: count and device_ids cannot be set together",
        ),
        (
            "external volume with a driver",
            "services:\n  web:\n    image: nginx\nvolumes:\n  data:\n    external: true\n    driver: local\n",
            "compose.yaml:7:13: volumes.data.driver: volume \"data\" is external, so \"driver\" cannot be set",
        ),
        (
            "secret without a source",
            "services:\n  web:\n    image: nginx\nsecrets:\n  token:\n    name: t\n",
            "secrets.token: secret \"token\" has no source: set one of file, environment, or external: true",
        ),
        (
            "config with two sources",
            "services:\n  web:\n    image: nginx\nconfigs:\n  site:\n    file: ./site.conf\n    content: hello\n",
            "configs.site.content: config \"site\" sets both file and content",
        ),
        (
            "neither image nor build",
            "services:\n  web:\n    command: [\"true\"]\n",
            "services.web: service \"web\" has neither an image nor a build context specified",
        ),
    ];
    for (what, yaml, expected) in cases {
        let message = error_of(yaml).unwrap_or_else(|| panic!("{what}: loaded"));
        assert!(message.contains(expected), "{what}: {message}");
        assert!(!message.contains('\n'), "{what}: {message}");
    }
}

#[test]
fn valid_combinations_pass() {
    let cases: &[(&str, &str)] = &[
        (
            "external network with a name",
            "services:\n  web:\n    image: x\n    networks: [out]\nnetworks:\n  out:\n    external: true\n    name: shared\n",
        ),
        (
            "secret from a driver",
            "services:\n  web:\n    image: x\nsecrets:\n  s:\n    driver: vault\n",
        ),
        (
            "healthcheck disabled alone",
            "services:\n  web:\n    image: x\n    healthcheck:\n      disable: true\n",
        ),
        (
            "optional dependency on a missing service",
            "services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_started\n        required: false\n",
        ),
        (
            // Refused by the planner when both services are brought up, as Compose does, so
            // that each may still run alone.
            "two services with one container name",
            "services:\n  a:\n    image: x\n    container_name: app\n  b:\n    image: x\n    container_name: app\n",
        ),
        (
            "short bind syntax with propagation",
            "services:\n  web:\n    image: x\n    volumes: [\"/src:/dst:rshared\"]\n",
        ),
    ];
    for (what, yaml) in cases {
        assert_eq!(error_of(yaml), None, "{what}");
    }
}

#[test]
fn scale_is_bounded_per_service() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            "services:\n  web:\n    image: a\n    deploy:\n      replicas: 18446744073709551615\n",
            Some(
                "compose.yaml:5:17: services.web.deploy.replicas: 18446744073709551615 containers \
                 is more than the 1024 a service may have on one host",
            ),
        ),
        (
            "services:\n  web:\n    image: a\n    scale: 100000000\n",
            Some(
                "compose.yaml:4:12: services.web.scale: 100000000 containers is more than the \
                 1024 a service may have on one host",
            ),
        ),
        ("services:\n  web:\n    image: a\n    scale: 1024\n", None),
    ];
    for (yaml, want) in cases {
        assert_eq!(error_of(yaml).as_deref(), *want, "{yaml}");
    }
}
