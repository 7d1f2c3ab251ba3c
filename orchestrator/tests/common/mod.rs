//! Shared by the integration tests: loading the compose files of tests/data, a fake backend
//! with every image published, applying plans, and golden files.

// visibility pass pending (issue 12)
#![allow(unreachable_pub)]
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use compose_spec::discovery::ProjectOptions;
use compose_spec::loader::{LoadOptions, load};
use compose_spec::model::Project;
use orchestrator::compose::testing::FakeBackend;
use orchestrator::compose::{
    Backend, ContainerState, ContainerStatus, Desired, ExecuteOptions, Health, HealthStatus,
    Observed, ObservedNetwork, ObservedVolume, Plan, PlanOptions, execute, plan,
};

/// The project name of every test.
pub const PROJECT: &str = "demo";

/// Images the test files use.
pub const IMAGES: [&str; 7] = [
    "redis:6",
    "redis:7",
    "nginx:1",
    "api:1",
    "busybox:1",
    "nginx:2",
    "api:2",
];

pub fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file)
}

/// Loads tests/data/`file` as project `demo` with these profiles.
pub fn load_project(file: &str, profiles: &[&str]) -> Project {
    let options = LoadOptions {
        project: ProjectOptions {
            files: vec![data(file)],
            project_name: Some(PROJECT.to_string()),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            working_dir: data(""),
            ..Default::default()
        },
        interpolate: true,
        ..Default::default()
    };
    load(&options)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .project
}

/// A stable fake digest for an image reference.
pub fn digest(image: &str) -> String {
    // FNV-1a, so that similar names give visibly different digests.
    let hash = image.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("sha256:{}", format!("{hash:016x}").repeat(4))
}

/// A fake with every test image published, the external network `shared-back` and the
/// external volume `shared-data`.
pub fn fake() -> FakeBackend {
    let fake = FakeBackend::new(Observed {
        networks: vec![ObservedNetwork {
            id: "ext".into(),
            name: "shared-back".into(),
            labels: Default::default(),
        }],
        volumes: vec![ObservedVolume {
            name: "shared-data".into(),
            labels: Default::default(),
        }],
        ..Observed::default()
    });
    for image in IMAGES {
        fake.publish(image, &digest(image));
    }
    fake.script("db", vec![healthy()]);
    fake
}

/// A running, healthy status.
pub fn healthy() -> ContainerStatus {
    ContainerStatus {
        state: ContainerState::Running,
        health: Some(Health {
            status: HealthStatus::Healthy,
            last_output: "PONG".into(),
        }),
    }
}

/// Plans `project` against what the fake holds.
pub fn plan_up(fake: &FakeBackend, project: &Project, options: &PlanOptions) -> Plan {
    let desired = Desired::new(project).unwrap();
    let observed = fake.observe(&project.name).unwrap();
    plan(&desired, &observed, options).unwrap()
}

/// Plans and executes `project` on the fake; returns the plan.
pub fn up(fake: &FakeBackend, project: &Project, options: &PlanOptions) -> Plan {
    let plan = plan_up(fake, project, options);
    run(fake, &plan);
    plan
}

/// Executes a plan on the fake, which must succeed.
pub fn run(fake: &FakeBackend, plan: &Plan) {
    let options = ExecuteOptions {
        wait_timeout: std::time::Duration::from_secs(5),
        poll_interval: std::time::Duration::from_millis(1),
        ..Default::default()
    };
    execute(plan, fake, &options, |_| {}).unwrap_or_else(|e| panic!("{e}\nplan:\n{plan}"));
}

/// Compares `text` with tests/data/golden/`name`.txt; `BOSUN_BLESS=1` rewrites the file.
pub fn golden(name: &str, text: &str) {
    let path = data("golden").join(format!("{name}.txt"));
    if std::env::var_os("BOSUN_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with BOSUN_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(text, want, "plan differs from {}", path.display());
}
