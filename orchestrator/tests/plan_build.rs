//! The planner's build action: which services `up` builds (missing image, `--build`,
//! `pull_policy: build`, never with `--no-build`), what a build carries from `build:`, and
//! that executing the builds first and planning again recreates exactly the containers whose
//! image a build changed.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{digest, fake, golden, load_project, plan_up, run, up};
use orchestrator::compose::{
    Action, BuildFlags, BuildPolicy, Desired, PlanError, PlanOptions, builds_of, plan, plan_builds,
};

fn with(build: BuildPolicy) -> PlanOptions {
    PlanOptions {
        build,
        ..PlanOptions::default()
    }
}

fn built(plan: &orchestrator::compose::Plan) -> Vec<String> {
    plan.ids()
        .filter_map(|id| match &plan.step(id).action {
            Action::BuildImage(spec) => Some(spec.image.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn missing_images_of_services_with_build_are_built_not_pulled() {
    let project = load_project("build.yaml", &[]);
    let plan = plan_up(&fake(), &project, &PlanOptions::default());
    golden("build-create", &plan.to_string());
    let builds: Vec<_> = plan
        .ids()
        .filter(|id| matches!(plan.step(*id).action, Action::BuildImage(_)))
        .collect();
    assert_eq!(builds.len(), 3, "{plan}");
    for id in builds {
        assert!(plan.dependencies(id).is_empty(), "builds run in parallel");
    }
}

#[test]
fn the_build_spec_carries_the_build_section() {
    let project = load_project("build.yaml", &[]);
    let desired = Desired::new(&project).unwrap();
    let flags = BuildFlags {
        no_cache: true,
        pull: false,
        args: BTreeMap::from([("VERSION".into(), "3".into())]),
    };
    let plan = plan_builds(&desired, &["web".into()], &flags).unwrap();
    let Action::BuildImage(spec) = &plan.step(plan.ids().next().unwrap()).action else {
        panic!("{plan}")
    };
    assert_eq!(spec.image, "registry.example/web:2");
    assert_eq!(spec.tags, ["registry.example/web:2", "web:latest"]);
    assert_eq!(spec.args, BTreeMap::from([("VERSION".into(), "3".into())]));
    assert!(spec.no_cache && !spec.pull);
    assert_eq!(spec.definition.target.as_deref(), Some("runtime"));
    assert!(
        spec.definition.context.ends_with("tests/data/web"),
        "{}",
        spec.definition.context
    );
    assert!(spec.secrets["token"].ends_with("tests/data/token.txt"));
    assert_eq!(
        plan.to_string(),
        " 1. build image registry.example/web:2 for service web without cache: bosun build\n"
    );

    let all = plan_builds(&desired, &[], &BuildFlags::default()).unwrap();
    assert_eq!(
        built(&all),
        ["demo-api", "registry.example/web:2", "demo-worker"]
    );
    let err = plan_builds(&desired, &["db".into()], &BuildFlags::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service db: the service has no build section"
    );
}

#[test]
fn no_build_refuses_a_missing_image_and_build_rebuilds_present_ones() {
    let project = load_project("build.yaml", &[]);
    let desired = Desired::new(&project).unwrap();
    let fake = fake();
    let observed = orchestrator::compose::Backend::observe(&fake, "demo").unwrap();
    let err = plan(&desired, &observed, &with(BuildPolicy::Never)).unwrap_err();
    assert!(
        matches!(&err, PlanError::ImageUnavailable { service, why, .. }
            if service != "db" && why == "the service must be built first"),
        "{err}"
    );

    up(&fake, &project, &PlanOptions::default());
    // Nothing changed: only the `pull_policy: build` service is built again.
    let again = plan_up(&fake, &project, &PlanOptions::default());
    assert_eq!(built(&again), ["demo-worker"], "{again}");
    assert_eq!(builds_of(&again).len(), again.len(), "{again}");
    let forced = plan_up(&fake, &project, &with(BuildPolicy::Always));
    assert_eq!(
        built(&forced),
        ["demo-worker", "demo-api", "registry.example/web:2"]
    );
    assert_eq!(
        builds_of(&forced).len(),
        forced.len(),
        "builds only: {forced}"
    );
    assert!(plan_up(&fake, &project, &with(BuildPolicy::Never)).is_empty());
}

#[test]
fn a_rebuilt_image_recreates_only_its_containers() {
    let project = load_project("build.yaml", &[]);
    let fake = fake();
    up(&fake, &project, &PlanOptions::default());
    // The next build of the api gives another image; the others build to the same ids.
    fake.publish("demo-api", &digest("demo-api v2"));
    let forced = plan_up(&fake, &project, &with(BuildPolicy::Always));
    run(&fake, &builds_of(&forced));
    let after = plan_up(&fake, &project, &with(BuildPolicy::Never));
    assert!(
        after.to_string().contains(
            "create container demo-api-1 [after 2]: recreate: image digest changed: \
             sha256:built-demo-a → sha256:12615e155f41"
        ),
        "{after}"
    );
    let recreated: Vec<String> = after
        .ids()
        .filter_map(|id| match &after.step(id).action {
            Action::CreateContainer(spec) => Some(spec.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(recreated, ["demo-api-1"]);
}
