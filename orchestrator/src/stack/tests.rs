//! Small compose projects, loaded by the compose loader as `stack deploy` loads them, mapped
//! to stacks.

use std::time::Duration;

use compose_spec::discovery::ProjectOptions;
use compose_spec::loader::{LoadOptions, load};

use super::*;
use crate::swarm::{Mode, MountKind, Protocol, PublishMode, RestartCondition, ServiceSpec};

/// Loads `yaml` as project `stack`, as `stack deploy` loads it.
pub(super) fn project(stack: &str, yaml: &str) -> compose_spec::model::Project {
    load_project(stack, yaml, "")
}

fn load_project(stack: &str, yaml: &str, env: &str) -> compose_spec::model::Project {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("compose.yaml"), yaml).expect("write compose.yaml");
    std::fs::write(dir.path().join(".env"), env).expect("write .env");
    let options = LoadOptions {
        project: ProjectOptions {
            files: vec![dir.path().join("compose.yaml")],
            project_name: Some(stack.to_owned()),
            working_dir: dir.path().to_owned(),
            ..ProjectOptions::default()
        },
        interpolate: true,
        ..LoadOptions::default()
    };
    load(&options).expect("the project loads").project
}

/// Loads `yaml` (with `.env` holding `env`) as project `stack` and maps it.
fn deploy(
    stack: &str,
    yaml: &str,
    env: &str,
) -> Result<(Vec<StackService>, Vec<String>), StackError> {
    let project = load_project(stack, yaml, env);
    let (services, warnings) = services(&project, stack)?;
    Ok((services, warnings.iter().map(ToString::to_string).collect()))
}

fn spec_of<'a>(services: &'a [StackService], name: &str) -> &'a ServiceSpec {
    &services
        .iter()
        .find(|s| s.service == name)
        .expect("the service is mapped")
        .spec
}

#[test]
fn deploy_keys_map_to_the_swarm_spec() {
    let (services, warnings) = deploy(
        "shop",
        r#"
services:
  web:
    image: nginx:${TAG}
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: /docker-entrypoint.sh
    environment: {MODE: prod, EMPTY: ""}
    labels: {tier: front}
    user: "101:101"
    working_dir: /srv
    hostname: web
    init: true
    read_only: true
    stop_grace_period: 20s
    stop_signal: SIGQUIT
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1024, hard: 2048}, core: -1}
    healthcheck: {test: ["CMD", "true"], interval: 5s, timeout: 2s, retries: 3, start_period: 1s}
    ports: [{target: 80, published: 8080, mode: host, protocol: tcp}]
    volumes: [data:/data, /srv/static:/static:ro, {type: tmpfs, target: /cache, tmpfs: {size: 1m}}]
    tmpfs: ["/run:size=64m,mode=1777"]
    deploy:
      replicas: 3
      labels: {owner: team-a}
      resources:
        limits: {cpus: "0.5", memory: 256m}
        reservations: {cpus: "0.25", memory: 64m}
      restart_policy: {condition: on-failure, delay: 2s, max_attempts: 4, window: 1m}
      placement:
        constraints: ["node.role == worker", "node.labels.zone==east"]
        preferences: [{spread: node.labels.rack}]
        max_replicas_per_node: 2
volumes:
  data: {}
"#,
        "TAG=1.27\n",
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(services[0].name, "shop_web");
    let web = spec_of(&services, "web");
    assert_eq!(web.image, "nginx:1.27");
    assert_eq!(web.mode, Mode::Replicated { replicas: 3 });
    assert_eq!(
        web.command.as_deref().unwrap(),
        ["nginx", "-g", "daemon off;"]
    );
    assert_eq!(
        web.entrypoint.as_deref().unwrap(),
        ["/docker-entrypoint.sh"]
    );
    assert_eq!(web.env["MODE"], "prod");
    assert_eq!(web.env["EMPTY"], "");
    assert_eq!(web.labels[NAMESPACE_LABEL], "shop");
    assert_eq!(web.labels[IMAGE_LABEL], "nginx:1.27");
    assert_eq!(web.labels["owner"], "team-a");
    assert!(!web.labels.contains_key("tier"));
    assert_eq!(web.container_labels["tier"], "front");
    assert_eq!(web.container_labels[NAMESPACE_LABEL], "shop");
    assert_eq!(
        (
            web.user.as_deref(),
            web.workdir.as_deref(),
            web.hostname.as_deref()
        ),
        (Some("101:101"), Some("/srv"), Some("web"))
    );
    assert_eq!((web.init, web.read_only), (Some(true), true));
    assert_eq!(web.stop_grace_period, Some(Duration::from_secs(20)));
    assert_eq!(web.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(
        (web.cap_add.clone(), web.cap_drop.clone()),
        (vec!["NET_ADMIN".to_owned()], vec!["MKNOD".to_owned()])
    );
    assert_eq!(web.sysctls["net.core.somaxconn"], "1024");
    let core = web.ulimits.iter().find(|u| u.name == "core").unwrap();
    assert_eq!((core.soft, core.hard), (u64::MAX, u64::MAX));
    let nofile = web.ulimits.iter().find(|u| u.name == "nofile").unwrap();
    assert_eq!((nofile.soft, nofile.hard), (1024, 2048));
    let check = web.healthcheck.as_ref().unwrap();
    assert_eq!(check.test, ["CMD", "true"]);
    assert_eq!(
        (check.interval, check.retries),
        (Some(Duration::from_secs(5)), Some(3))
    );
    assert_eq!(web.ports.len(), 1);
    assert_eq!(web.ports[0].host_port(), Some((8080, Protocol::Tcp)));
    assert_eq!(web.ports[0].mode, PublishMode::Host);
    let kinds: Vec<_> = web
        .mounts
        .iter()
        .map(|m| (m.target.as_str(), m.read_only, m.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "/data",
                false,
                MountKind::Volume {
                    source: Some("shop_data".into()),
                    driver: None,
                    no_copy: false
                }
            ),
            (
                "/static",
                true,
                MountKind::Bind {
                    source: "/srv/static".into()
                }
            ),
            (
                "/cache",
                false,
                MountKind::Tmpfs {
                    size_bytes: Some(1 << 20),
                    mode: None
                }
            ),
            (
                "/run",
                false,
                MountKind::Tmpfs {
                    size_bytes: Some(64 << 20),
                    mode: Some(0o1777)
                }
            ),
        ]
    );
    assert_eq!(web.resources.limits.nano_cpus, 500_000_000);
    assert_eq!(web.resources.limits.memory_bytes, 256 << 20);
    assert_eq!(web.resources.reservations.nano_cpus, 250_000_000);
    assert_eq!(web.resources.reservations.memory_bytes, 64 << 20);
    let policy = web.restart_policy;
    assert_eq!(policy.condition, RestartCondition::OnFailure);
    assert_eq!(
        (policy.delay, policy.max_attempts, policy.window),
        (
            Duration::from_secs(2),
            Some(4),
            Some(Duration::from_secs(60))
        )
    );
    let placement: Vec<String> = web
        .placement
        .constraints
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(placement, ["node.role==worker", "node.labels.zone==east"]);
    assert_eq!(web.placement.preferences[0].label, "rack");
    assert_eq!(web.placement.max_replicas_per_node, Some(2));
}

#[test]
fn modes_and_the_restart_fallback() {
    let (services, _) = deploy(
        "ops",
        r#"
services:
  agent: {image: busybox, deploy: {mode: global}, restart: "no"}
  migrate: {image: busybox, deploy: {mode: replicated-job, replicas: 2}, restart: on-failure:3}
  sweep: {image: busybox, deploy: {mode: global-job}}
  web: {image: busybox, restart: unless-stopped}
"#,
        "",
    )
    .unwrap();
    assert_eq!(spec_of(&services, "agent").mode, Mode::Global);
    assert_eq!(
        spec_of(&services, "agent").restart_policy.condition,
        RestartCondition::None
    );
    assert_eq!(
        spec_of(&services, "migrate").mode,
        Mode::ReplicatedJob {
            total_completions: 2,
            max_concurrent: 2
        }
    );
    let migrate = spec_of(&services, "migrate").restart_policy;
    assert_eq!(
        (migrate.condition, migrate.max_attempts),
        (RestartCondition::OnFailure, Some(3))
    );
    assert_eq!(spec_of(&services, "sweep").mode, Mode::GlobalJob);
    assert_eq!(
        spec_of(&services, "web").mode,
        Mode::Replicated { replicas: 1 }
    );
    assert_eq!(
        spec_of(&services, "web").restart_policy.condition,
        RestartCondition::Any
    );
}

#[test]
fn update_and_rollback_configs_become_the_services_knobs() {
    let (services, warnings) = deploy(
        "app",
        r#"
services:
  web:
    image: nginx
    deploy:
      update_config: {parallelism: 2, delay: 10s, order: start-first, failure_action: rollback, monitor: 1m, max_failure_ratio: 0.25}
      rollback_config: {parallelism: 0, failure_action: continue}
"#,
        "",
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let spec = spec_of(&services, "web");
    let update = spec.update_config;
    assert_eq!(update.parallelism, 2);
    assert_eq!(update.delay, Duration::from_secs(10));
    assert_eq!(update.order, crate::swarm::UpdateOrder::StartFirst);
    assert_eq!(update.failure_action, crate::swarm::FailureAction::Rollback);
    assert_eq!(update.monitor, Duration::from_secs(60));
    assert_eq!(update.max_failure_ratio.to_string(), "0.25");
    assert_eq!(update.deadline, crate::swarm::DEFAULT_DEADLINE);
    assert_eq!(spec.rollback_config.parallelism, 0);
    assert_eq!(
        spec.rollback_config.failure_action,
        crate::swarm::FailureAction::Continue
    );
    assert_eq!(
        spec.rollback_config.order,
        crate::swarm::UpdateOrder::StopFirst
    );
}

#[test]
fn ignored_keys_are_one_warning_line_each_naming_the_services() {
    let (services, warnings) = deploy(
        "app",
        r#"
services:
  web:
    image: nginx
    build: .
    container_name: web
    depends_on: [worker]
    ports: ["8080:80"]
    networks: [front]
    deploy: {update_config: {parallelism: 1}}
  worker:
    image: busybox
    build: ./worker
    secrets: [token]
    networks: [front]
networks:
  front: {}
secrets:
  token: {environment: HOME}
volumes:
  data: {driver: nfs, labels: {a: b}}
"#,
        "",
    )
    .unwrap();
    assert_eq!(services.len(), 2);
    // Compose's default port mode is ingress: published through the routing mesh.
    assert_eq!(
        spec_of(&services, "web").ports,
        [crate::swarm::PublishedPort {
            target: 80,
            published: Some(8080),
            protocol: crate::swarm::Protocol::Tcp,
            mode: crate::swarm::PublishMode::Ingress,
            name: None,
        }]
    );

    assert_eq!(
        warnings,
        [
            "build is not supported by stack deploy and is ignored; build and push the image, then name it in image (services: web, worker)",
            "container_name is not supported by stack deploy and is ignored; task containers are named <service>.<slot>.<task> (services: web)",
            "driver is not supported by stack deploy yet and is ignored; nodes create local volumes (volumes: data)",
            "labels is not supported by stack deploy yet and is ignored (volumes: data)",
        ]
    );
}

#[test]
fn mistakes_are_one_line_naming_the_service() {
    let cases = [
        (
            "services: {web: {build: .}}",
            "service web: an image is required (stack deploy does not build images)",
        ),
        (
            "services: {web: {image: nginx, deploy: {placement: {constraints: [\"zone=east\"]}}}}",
            "service web: invalid deploy.placement.constraints \"zone=east\": invalid constraint \"zone=east\": expected KEY==VALUE or KEY!=VALUE",
        ),
        (
            "services: {web: {image: nginx, ports: [{target: 80, published: \"8000-8001\", mode: host}]}}",
            "service web: invalid ports.published \"8000-8001\": a service publishes one port per entry, not a range",
        ),
    ];
    for (yaml, message) in cases {
        assert_eq!(
            deploy("app", yaml, "").unwrap_err().to_string(),
            message,
            "{yaml}"
        );
    }
}

#[test]
fn the_same_file_maps_to_the_same_specs_and_diffs_to_nothing() {
    let yaml = "services: {web: {image: nginx, deploy: {replicas: 2}}, db: {image: postgres}}";
    let (first, _) = deploy("app", yaml, "").unwrap();
    let existing: Vec<Existing> = first
        .iter()
        .enumerate()
        .map(|(i, s)| Existing {
            id: i.to_string(),
            name: s.name.clone(),
            spec: s.spec.clone(),
        })
        .collect();
    let (again, _) = deploy("app", yaml, "").unwrap();
    assert!(
        diff("app", again, &existing, true)
            .iter()
            .all(|c| matches!(c, Change::Unchanged(_)))
    );
}
