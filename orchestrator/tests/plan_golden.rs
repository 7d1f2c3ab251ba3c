//! Golden tests of the planner: a project and an observed state (made by applying an earlier
//! plan to the fake backend, then changing the world) → the plan text with its reasons.
//! `BOSUN_BLESS=1 cargo test -p orchestrator --test plan_golden` rewrites tests/data/golden/.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{PROJECT, digest, fake, golden, load_project, plan_up, run, up};
use compose_spec::validate::MAX_SCALE;
use orchestrator::compose::labels;
use orchestrator::compose::{
    Backend, ContainerState, ContainerStatus, Desired, DivergedVolumes, DownOptions,
    ObservedContainer, PlanOptions, plan, plan_down,
};

fn defaults() -> PlanOptions {
    PlanOptions::default()
}

#[test]
fn create_from_scratch() {
    let project = load_project("stack.yaml", &[]);
    let plan = plan_up(&fake(), &project, &defaults());
    golden("create", &plan.to_string());
}

#[test]
fn no_op_after_up() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &defaults());
    let plan = plan_up(&fake, &project, &defaults());
    assert!(plan.is_empty(), "{plan}");
    assert_eq!(plan.to_string(), "");
}

#[test]
fn recreate_on_config_change_names_fields_and_keeps_anonymous_volumes() {
    let fake = fake();
    up(&fake, &load_project("stack.yaml", &[]), &defaults());
    let plan = plan_up(&fake, &load_project("stack-changed.yaml", &[]), &defaults());
    golden("recreate-config", &plan.to_string());
    let changed = load_project("web-changed.yaml", &[]);
    let renew = PlanOptions {
        renew_anon_volumes: true,
        ..defaults()
    };
    let plan = plan_up(&fake, &changed, &renew);
    golden("recreate-config-renew-anonymous-volumes", &plan.to_string());
    let plan = plan_up(&fake, &changed, &defaults());
    golden("recreate-config-anonymous-volumes", &plan.to_string());

    let cache = |fake: &orchestrator::compose::testing::FakeBackend| {
        let world = fake.world();
        let web = world
            .containers
            .iter()
            .find(|c| c.name == "demo-web-1")
            .unwrap();
        web.anonymous_volumes()
            .map(|(_, v)| v.to_string())
            .collect::<Vec<_>>()
    };
    let before = cache(&fake);
    run(&fake, &plan);
    assert_eq!(cache(&fake), before, "the anonymous volume is carried over");
    assert!(plan_up(&fake, &changed, &defaults()).is_empty());
}

#[test]
fn recreate_on_image_digest_change() {
    let fake = fake();
    let project = load_project("stack.yaml", &[]);
    up(&fake, &project, &defaults());
    // The tag redis:6 now names another image locally (pulled by `bosun pull`).
    let mut world = fake.world();
    world.images.insert("redis:6".into(), digest("redis:6.2"));
    fake.set_world(world);
    golden(
        "recreate-image-digest",
        &plan_up(&fake, &project, &defaults()).to_string(),
    );
}

#[test]
fn recreate_on_missing_network_and_volume() {
    let fake = fake();
    let project = load_project("stack.yaml", &[]);
    up(&fake, &project, &defaults());
    let mut world = fake.world();
    world.networks.retain(|n| n.name != "demo_default");
    fake.set_world(world.clone());
    golden(
        "recreate-missing-network",
        &plan_up(&fake, &project, &defaults()).to_string(),
    );
    world.volumes.retain(|v| v.name != "demo_data");
    world.networks = fake.world().networks;
    let mut restored = world.clone();
    restored
        .networks
        .push(orchestrator::compose::ObservedNetwork {
            id: "n".into(),
            name: "demo_default".into(),
            labels: BTreeMap::new(),
        });
    fake.set_world(restored);
    golden(
        "recreate-missing-volume",
        &plan_up(&fake, &project, &defaults()).to_string(),
    );
}

#[test]
fn force_recreate_and_no_recreate() {
    let fake = fake();
    let project = load_project("stack.yaml", &[]);
    up(&fake, &project, &defaults());
    let force = PlanOptions {
        force_recreate: true,
        ..defaults()
    };
    golden(
        "recreate-force",
        &plan_up(&fake, &project, &force).to_string(),
    );
    let changed = load_project("stack-changed.yaml", &[]);
    let never = PlanOptions {
        no_recreate: true,
        ..defaults()
    };
    let plan = plan_up(&fake, &changed, &never);
    assert!(
        plan.is_empty(),
        "--no-recreate must leave diverged containers alone:\n{plan}"
    );
}

#[test]
fn always_recreate_deps_recreates_the_pulled_in_dependencies_only() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &defaults());
    let options = PlanOptions {
        services: vec!["api".into()],
        always_recreate_deps: true,
        ..defaults()
    };
    golden(
        "recreate-deps",
        &plan_up(&fake, &project, &options).to_string(),
    );
}

#[test]
fn scale_up_and_down() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &defaults());
    let more = PlanOptions {
        scale: BTreeMap::from([("worker".to_string(), 4)]),
        ..defaults()
    };
    let plan = up(&fake, &project, &more);
    golden("scale-up", &plan.to_string());
    let fewer = PlanOptions {
        scale: BTreeMap::from([("worker".to_string(), 1)]),
        ..defaults()
    };
    golden("scale-down", &plan_up(&fake, &project, &fewer).to_string());
}

#[test]
fn a_scale_beyond_the_limit_is_refused_before_anything_is_planned() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    let desired = Desired::new(&project).unwrap();
    let observed = fake.observe(&project.name).unwrap();
    let options = |n: u64| PlanOptions {
        scale: BTreeMap::from([("worker".to_string(), n)]),
        ..defaults()
    };
    // Refused before any per-container step is made: planning them would not end.
    let err = plan(&desired, &observed, &options(99_999_999_999)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service worker cannot be scaled to 99999999999 containers: a service may have at most \
         1024 on one host"
    );
    let plan = plan(&desired, &observed, &options(MAX_SCALE)).unwrap();
    assert!(plan.to_string().contains("worker-1024"), "{plan}");
}

#[test]
fn orphans_warn_or_are_removed() {
    let fake = fake();
    up(
        &fake,
        &load_project("orphans-before.yaml", &[]),
        &defaults(),
    );
    let after = load_project("orphans-after.yaml", &[]);
    let plan = plan_up(&fake, &after, &defaults());
    assert!(plan.is_empty());
    golden("orphans-warn", &plan.to_string());
    let remove = PlanOptions {
        remove_orphans: true,
        ..defaults()
    };
    golden(
        "orphans-remove",
        &plan_up(&fake, &after, &remove).to_string(),
    );
}

#[test]
fn profile_disabled_services_and_one_offs_are_not_orphans() {
    let fake = fake();
    up(
        &fake,
        &load_project("profiles.yaml", &["debug"]),
        &defaults(),
    );
    // A one-off `run` container of a service that is gone.
    let mut world = fake.world();
    let mut oneoff: ObservedContainer = world.containers[0].clone();
    oneoff.name = "demo-gone-run-0a1b2c".into();
    oneoff.labels.insert(labels::SERVICE.into(), "gone".into());
    oneoff
        .labels
        .insert(labels::ONEOFF.into(), labels::TRUE.into());
    world.containers.push(oneoff);
    fake.set_world(world);
    let without_profile = load_project("profiles.yaml", &[]);
    assert!(without_profile.disabled_services.contains_key("debug"));
    let remove = PlanOptions {
        remove_orphans: true,
        ..defaults()
    };
    let plan = plan_up(&fake, &without_profile, &remove);
    assert!(plan.is_empty(), "{plan}");
    assert!(plan.warnings().is_empty(), "{plan}");
    // Enabling the profile later starts nothing new: the container is already there.
    let plan = plan_up(
        &fake,
        &load_project("profiles.yaml", &["debug"]),
        &defaults(),
    );
    assert!(plan.is_empty(), "{plan}");
}

#[test]
fn depends_on_restart_restarts_dependents_of_a_recreated_service() {
    let fake = fake();
    up(&fake, &load_project("restart.yaml", &[]), &defaults());
    let plan = plan_up(
        &fake,
        &load_project("restart-changed.yaml", &[]),
        &defaults(),
    );
    golden("restart-dependents", &plan.to_string());
}

#[test]
fn stopped_containers_are_started_in_dependency_order() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &defaults());
    let mut world = fake.world();
    for c in &mut world.containers {
        c.status = ContainerStatus::new(ContainerState::Exited { code: 137 });
    }
    fake.set_world(world);
    golden(
        "start-stopped",
        &plan_up(&fake, &project, &defaults()).to_string(),
    );
}

#[test]
fn services_subset_with_and_without_dependencies() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    let with_deps = PlanOptions {
        services: vec!["api".into()],
        ..defaults()
    };
    golden("subset", &plan_up(&fake, &project, &with_deps).to_string());
    let no_deps = PlanOptions {
        no_deps: true,
        ..with_deps
    };
    golden(
        "subset-no-deps",
        &plan_up(&fake, &project, &no_deps).to_string(),
    );
}

#[test]
fn down_and_down_volumes() {
    let fake = fake();
    let project = load_project("chain.yaml", &[]);
    up(&fake, &project, &defaults());
    let observed = fake.observe(PROJECT).unwrap();
    let plan = plan_down(&project, &observed, &DownOptions::default()).unwrap();
    golden("down", &plan.to_string());
    let with_volumes = DownOptions {
        volumes: true,
        ..DownOptions::default()
    };
    let plan = plan_down(&project, &observed, &with_volumes).unwrap();
    golden("down-volumes", &plan.to_string());
    run(&fake, &plan);
    let world = fake.world();
    assert!(world.containers.is_empty());
    let volumes: Vec<&str> = world.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        volumes,
        ["shared-data"],
        "only the external volume survives down -v"
    );
    let networks: Vec<&str> = world.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        networks,
        ["shared-back"],
        "only the external network survives down"
    );
    let again = plan_down(&project, &fake.observe(PROJECT).unwrap(), &with_volumes).unwrap();
    assert!(again.is_empty(), "{again}");
}

#[test]
fn down_keeps_orphans_without_remove_orphans() {
    let fake = fake();
    up(
        &fake,
        &load_project("orphans-before.yaml", &[]),
        &defaults(),
    );
    let after = load_project("orphans-after.yaml", &[]);
    let observed = fake.observe(PROJECT).unwrap();
    golden(
        "down-orphans-kept",
        &plan_down(&after, &observed, &DownOptions::default())
            .unwrap()
            .to_string(),
    );
    let remove = DownOptions {
        remove_orphans: true,
        ..DownOptions::default()
    };
    golden(
        "down-orphans-removed",
        &plan_down(&after, &observed, &remove).unwrap().to_string(),
    );
}

/// Follows Compose's TestUpSwitchVolumes: an external volume switched under the same key
/// recreates the containers that mount it, and only those.
#[test]
fn a_switched_external_volume_recreates_its_containers() {
    let fake = fake();
    up(&fake, &load_project("chain.yaml", &[]), &defaults());
    let mut world = fake.world();
    world.volumes.push(orchestrator::compose::ObservedVolume {
        name: "other-data".into(),
        labels: Default::default(),
    });
    fake.set_world(world);
    let plan = plan_up(
        &fake,
        &load_project("chain-switched-volume.yaml", &[]),
        &defaults(),
    );
    let text = plan.to_string();
    assert!(
        text.contains("volume at /shared changed: shared-data → other-data"),
        "{text}"
    );
    let recreated: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("create container") && l.contains("recreate:"))
        .collect();
    assert_eq!(
        recreated.len(),
        2,
        "both worker replicas, nothing else: {text}"
    );
    assert!(recreated.iter().all(|l| l.contains("worker")), "{text}");
}

/// Follows Compose's TestNetworkConfigChanged and TestNetworkRecreate: a network whose
/// definition changed (its subnet) is removed and made again, after the containers on it are
/// stopped and removed; they come back on the new network, the others stay.
#[test]
fn a_changed_network_is_recreated_with_its_containers() {
    let fake = fake();
    up(&fake, &load_project("replace.yaml", &[]), &defaults());
    let changed = load_project("replace-network.yaml", &[]);
    let replace = plan_up(&fake, &changed, &defaults());
    golden("replace-network", &replace.to_string());
    run(&fake, &replace);
    assert!(plan_up(&fake, &changed, &defaults()).is_empty());
    let world = fake.world();
    let back = world.network("demo_back").unwrap();
    assert_eq!(
        back.labels.get(labels::CONFIG_HASH),
        Some(&labels::resource_hash(&changed.networks["back"]))
    );

    // `up api --no-deps` cannot take the network from under db, which it leaves alone.
    let fake = self::fake();
    up(&fake, &load_project("replace.yaml", &[]), &defaults());
    let only_api = PlanOptions {
        services: vec!["api".into()],
        no_deps: true,
        ..defaults()
    };
    let desired = Desired::new(&changed).unwrap();
    let err = plan(&desired, &fake.world(), &only_api).unwrap_err();
    assert_eq!(
        err.to_string(),
        "network demo_back changed and must be recreated, but container demo-db-1 uses it and \
         is not part of this up: bring up the whole project or remove that container"
    );
    // --no-recreate keeps the network and says so.
    let keep = PlanOptions {
        no_recreate: true,
        ..defaults()
    };
    let kept = plan_up(&fake, &changed, &keep);
    assert_eq!(
        kept.to_string(),
        "warning: network demo_back does not match its definition in the compose file; kept \
         (--no-recreate)\n"
    );
}

/// Follows Compose's TestUpRecreateVolumes: a volume whose definition changed (a label) is
/// recreated only when the user says yes (`-y`); without an answer `up` refuses, naming it;
/// answering no keeps it.
#[test]
fn a_changed_volume_is_recreated_only_when_confirmed() {
    let fake = fake();
    up(&fake, &load_project("replace.yaml", &[]), &defaults());
    let changed = load_project("replace-both.yaml", &[]);
    let desired = Desired::new(&changed).unwrap();
    let err = plan(&desired, &fake.world(), &defaults()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "volume demo_data exists but does not match its definition in the compose file: \
         recreating it loses its data; run up with -y to recreate it"
    );
    let keep = PlanOptions {
        diverged_volumes: DivergedVolumes::Keep,
        ..defaults()
    };
    let kept = plan_up(&fake, &changed, &keep).to_string();
    assert!(
        kept.starts_with(
            "warning: volume demo_data does not match its definition in the compose file; \
             kept as it is\n"
        ),
        "{kept}"
    );
    assert!(!kept.contains("remove volume"), "{kept}");

    let yes = PlanOptions {
        diverged_volumes: DivergedVolumes::Recreate,
        ..defaults()
    };
    let plan = plan_up(&fake, &changed, &yes);
    golden("replace-network-and-volume", &plan.to_string());
    let scratch = |fake: &orchestrator::compose::testing::FakeBackend| {
        let world = fake.world();
        let db = world
            .containers
            .iter()
            .find(|c| c.name == "demo-db-1")
            .unwrap();
        db.anonymous_volumes()
            .map(|(_, v)| v.to_string())
            .collect::<Vec<_>>()
    };
    let before = scratch(&fake);
    run(&fake, &plan);
    assert_eq!(
        scratch(&fake),
        before,
        "the anonymous volume is carried over"
    );
    let world = fake.world();
    assert_eq!(
        world
            .volume("demo_data")
            .unwrap()
            .labels
            .get("foo")
            .map(String::as_str),
        Some("zot")
    );
    assert!(plan_up(&fake, &changed, &defaults()).is_empty());
}

/// Follows Compose's TestNoDepsNetworkMode and TestNoDepsVolumeFrom: `up --no-deps` of a
/// service sharing another's container reuses that container while it exists, and is refused,
/// naming the donor, once it is gone.
#[test]
fn no_deps_needs_the_container_a_service_shares() {
    let fake = fake();
    let project = load_project("donors.yaml", &[]);
    up(&fake, &project, &defaults());
    let only = |service: &str| PlanOptions {
        services: vec![service.to_string()],
        no_deps: true,
        ..defaults()
    };
    for service in ["app", "reader"] {
        let plan = plan_up(&fake, &project, &only(service));
        assert!(plan.is_empty(), "{service}: {plan}");
    }
    let mut world = fake.world();
    world.containers.retain(|c| c.name != "demo-db-1");
    fake.set_world(world);
    let desired = Desired::new(&project).unwrap();
    let observed = fake.world();
    let refused = |service: &str| {
        plan(&desired, &observed, &only(service))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused("app"),
        "service app: cannot share network namespace with service db: container missing"
    );
    assert_eq!(
        refused("reader"),
        "service reader: cannot share volume with service db: container missing"
    );
    // Without --no-deps the donor is simply created again.
    assert!(
        plan_up(&fake, &project, &defaults())
            .to_string()
            .contains("create container demo-db-1")
    );
}
