//! Property tests of the reconciler: for generated projects and observed states, executing the
//! plan on the fake backend and planning again yields a plan without actions; `down` leaves
//! nothing of the project but external resources (and named volumes without `-v`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{PROJECT, digest, fake, run};
use compose_spec::model::{self, Project};
use orchestrator::compose::testing::FakeBackend;
use orchestrator::compose::{
    Backend, ContainerState, ContainerStatus, Desired, DownOptions, PlanOptions, labels, plan,
    plan_down,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const IMAGES: [&str; 5] = ["nginx:1", "nginx:2", "api:1", "api:2", "redis:6"];

#[derive(Debug, Clone)]
struct ServiceGen {
    image: usize,
    env: BTreeMap<String, String>,
    depends_on: Vec<(usize, bool)>,
    scale: u64,
    data: bool,
    anonymous: bool,
    back: bool,
}

fn service_gen() -> impl Strategy<Value = ServiceGen> {
    (
        0..IMAGES.len(),
        prop::collection::btree_map("[A-C]", "[xy]", 0..3),
        prop::collection::vec((0..6usize, any::<bool>()), 0..3),
        0..4u64,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(image, env, depends_on, scale, data, anonymous, back)| ServiceGen {
                image,
                env,
                depends_on,
                scale,
                data,
                anonymous,
                back,
            },
        )
}

/// A normalized project (what the loader would give) from generated services; a service
/// depends only on services before it, so there is no cycle.
fn project(services: &[ServiceGen], names: &[usize]) -> Project {
    let mut map = serde_json::Map::new();
    for (i, s) in services.iter().enumerate() {
        let name = format!("s{}", names[i]);
        let mut volumes = Vec::new();
        if s.data {
            volumes.push(json!({"type": "volume", "source": "data", "target": "/data"}));
        }
        if s.anonymous {
            volumes.push(json!({"type": "volume", "target": "/cache"}));
        }
        let mut networks = serde_json::Map::new();
        networks.insert("default".into(), Value::Null);
        if s.back {
            networks.insert("back".into(), Value::Null);
        }
        let mut depends_on = serde_json::Map::new();
        for &(d, restart) in &s.depends_on {
            if d < i {
                depends_on.insert(
                    format!("s{}", names[d]),
                    json!({"condition": "service_started", "restart": restart}),
                );
            }
        }
        map.insert(
            name,
            json!({"image": IMAGES[s.image], "environment": s.env, "scale": s.scale,
                   "volumes": volumes, "networks": networks, "depends_on": depends_on}),
        );
    }
    let mut project = model::from_json(&json!({
        "services": map,
        "networks": {"default": {"name": "demo_default"}, "back": {"name": "demo_back"}},
        "volumes": {"data": {"name": "demo_data"}},
    }))
    .unwrap();
    project.name = PROJECT.to_string();
    project
}

#[derive(Debug, Clone)]
enum Mutation {
    Stop(usize, i32),
    Remove(usize),
    DropNetwork(bool),
    DropVolume,
    Retag(usize),
    ForgetImage(usize),
    OneOff(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..20usize, 0..3i32).prop_map(|(i, c)| Mutation::Stop(i, c)),
        (0..20usize).prop_map(Mutation::Remove),
        any::<bool>().prop_map(Mutation::DropNetwork),
        Just(Mutation::DropVolume),
        (0..IMAGES.len()).prop_map(Mutation::Retag),
        (0..IMAGES.len()).prop_map(Mutation::ForgetImage),
        (0..20usize).prop_map(Mutation::OneOff),
    ]
}

fn mutate(fake: &FakeBackend, mutations: &[Mutation]) {
    let mut world = fake.world();
    for m in mutations {
        let n = world.containers.len();
        match *m {
            Mutation::Stop(i, code) if n > 0 => {
                world.containers[i % n].status =
                    ContainerStatus::new(ContainerState::Exited { code });
            }
            Mutation::Remove(i) if n > 0 => {
                world.containers.remove(i % n);
            }
            Mutation::DropNetwork(back) => {
                let name = if back { "demo_back" } else { "demo_default" };
                world.networks.retain(|x| x.name != name);
            }
            Mutation::DropVolume => world.volumes.retain(|v| v.name != "demo_data"),
            Mutation::Retag(i) => {
                let image = IMAGES[i];
                world
                    .images
                    .insert(image.into(), digest(&format!("{image}-newer")));
            }
            Mutation::ForgetImage(i) => {
                world.images.remove(IMAGES[i]);
            }
            Mutation::OneOff(i) if n > 0 => {
                let mut c = world.containers[i % n].clone();
                c.name = format!("{}-run-{i}", c.name);
                c.labels.insert(labels::ONEOFF.into(), labels::TRUE.into());
                // Container names are unique in any real engine.
                if world.containers.iter().all(|x| x.name != c.name) {
                    world.containers.push(c);
                }
            }
            _ => {}
        }
    }
    fake.set_world(world);
}

fn plan_on(
    fake: &FakeBackend,
    project: &Project,
    options: &PlanOptions,
) -> orchestrator::compose::Plan {
    let desired = Desired::new(project).unwrap();
    plan(&desired, &fake.observe(PROJECT).unwrap(), options).unwrap()
}

prop_compose! {
    fn scenario()(
        before in prop::collection::vec(service_gen(), 0..5),
        after in prop::collection::vec(service_gen(), 1..5),
        rename in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 0..6),
        flags in prop::array::uniform4(any::<bool>()),
        subset in prop::option::of(0..4usize),
    ) -> (Project, Project, Vec<Mutation>, PlanOptions) {
        let before_names: Vec<usize> = (0..before.len()).collect();
        // Renaming services leaves orphans behind.
        let after_names: Vec<usize> = (0..after.len()).map(|i| if rename { i + 3 } else { i }).collect();
        let after_project = project(&after, &after_names);
        let services = match subset {
            Some(i) if i < after.len() => vec![format!("s{}", after_names[i])],
            _ => Vec::new(),
        };
        let options = PlanOptions {
            services,
            no_deps: flags[0],
            remove_orphans: flags[1],
            renew_anon_volumes: flags[2],
            force_recreate: flags[3],
            ..PlanOptions::default()
        };
        (project(&before, &before_names), after_project, mutations, options)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn applying_the_plan_converges((before, after, mutations, options) in scenario()) {
        let fake = fake();
        run(&fake, &plan_on(&fake, &before, &PlanOptions::default()));
        mutate(&fake, &mutations);
        let first = plan_on(&fake, &after, &options);
        run(&fake, &first);
        let again = PlanOptions { force_recreate: false, ..options.clone() };
        let second = plan_on(&fake, &after, &again);
        prop_assert!(second.is_empty(), "first plan:\n{first}\nsecond plan:\n{second}");
        // Every selected service has its scale, all up.
        let observed = fake.observe(PROJECT).unwrap();
        for (name, service) in &after.services {
            if !options.services.is_empty() && options.no_deps && !options.services.contains(name) {
                continue;
            }
            if !options.services.is_empty() && !options.no_deps {
                continue;
            }
            let up: Vec<_> = observed.containers.iter()
                .filter(|c| c.service() == Some(name) && !c.is_oneoff())
                .collect();
            prop_assert_eq!(up.len() as u64, service.replicas(), "service {}", name);
            prop_assert!(up.iter().all(|c| c.status.state.is_up()));
        }
    }

    #[test]
    fn down_removes_the_project((before, _after, mutations, options) in scenario()) {
        let fake = fake();
        run(&fake, &plan_on(&fake, &before, &PlanOptions::default()));
        mutate(&fake, &mutations);
        let down = DownOptions { volumes: options.renew_anon_volumes, remove_orphans: true, timeout: None, services: Vec::new() };
        let observed = fake.observe(PROJECT).unwrap();
        let anonymous: Vec<String> = observed.containers.iter()
            .filter(|c| !c.is_oneoff())
            .flat_map(|c| c.anonymous_volumes().map(|(_, v)| v.to_string()).collect::<Vec<_>>())
            .collect();
        let plan = plan_down(&before, &observed, &down).unwrap();
        run(&fake, &plan);
        let world = fake.world();
        prop_assert!(world.containers.iter().all(|c| c.is_oneoff()), "{plan}");
        prop_assert!(world.networks.iter().all(|n| n.name == "shared-back"), "{plan}");
        prop_assert!(world.volumes.iter().any(|v| v.name == "shared-data"));
        if down.volumes {
            prop_assert!(world.volumes.iter().all(|v| v.name != "demo_data" && !anonymous.contains(&v.name)), "{plan}");
        } else if observed.volume("demo_data").is_some() {
            prop_assert!(world.volume("demo_data").is_some(), "down without -v keeps named volumes");
        }
        let again = plan_down(&before, &fake.observe(PROJECT).unwrap(), &down).unwrap();
        prop_assert!(again.is_empty(), "{again}");
    }
}
