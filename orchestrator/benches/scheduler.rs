//! Scheduler microbenchmark: 30,000 pending tasks of one service over 1,000 nodes, with a
//! constraint and a spread preference. Criterion reports the throughput in elements (tasks
//! placed) per second: `cargo bench -p orchestrator --bench scheduler`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_main};
use orchestrator::swarm::{
    Availability, DesiredState, Mode, Node, NodeId, NodeRole, NodeStatus, Platform, Resources,
    Service, ServiceSpec, Task, TaskSlot, TaskStatus, Timestamp, schedule,
};

const NODES: usize = 1_000;
const TASKS: u64 = 30_000;

fn nodes() -> Vec<Node> {
    (0..NODES)
        .map(|i| Node {
            id: NodeId(format!("node-{i:04}")),
            hostname: format!("host-{i:04}"),
            role: NodeRole::Worker,
            labels: BTreeMap::from([
                ("zone".to_string(), format!("zone-{}", i % 10)),
                (
                    "kind".to_string(),
                    if i % 10 == 3 { "gpu" } else { "general" }.to_string(),
                ),
            ]),
            platform: Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
            },
            availability: Availability::Active,
            status: NodeStatus::Ready,
            resources: Resources {
                nano_cpus: 16_000_000_000,
                memory_bytes: 64 << 30,
            },
        })
        .collect()
}

fn tasks() -> Vec<Task> {
    let mut spec = ServiceSpec {
        image: "nginx".into(),
        mode: Mode::Replicated { replicas: TASKS },
        ..ServiceSpec::default()
    };
    spec.placement.constraints = vec!["node.labels.kind!=gpu".parse().expect("valid constraint")];
    spec.placement.preferences = vec!["spread=node.labels.zone".parse().expect("valid preference")];
    spec.resources.reservations = Resources {
        nano_cpus: 100_000_000,
        memory_bytes: 64 << 20,
    };
    let service = Service::new("svc".into(), "web", spec, Timestamp(0));
    let spec = std::sync::Arc::new(service.spec.clone());
    (1..=TASKS)
        .map(|slot| Task {
            id: format!("task-{slot}").into(),
            service_id: service.id.clone(),
            slot: TaskSlot::Slot(slot),
            spec_version: 1,
            spec: spec.clone(),
            desired_state: DesiredState::Running,
            shutdown_reason: None,
            status: TaskStatus::default(),
            node: None,
            created_at: Timestamp(0),
            not_before: None,
            replaces: None,
            preferred_node: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let nodes = nodes();
    let tasks = tasks();
    let placed = schedule(&nodes, &tasks, Timestamp(0));
    assert_eq!(placed.assignments.len(), tasks.len(), "every task fits");
    let mut group = c.benchmark_group("scheduler");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(TASKS));
    group.bench_function("30000 tasks over 1000 nodes, constraint + spread", |b| {
        b.iter(|| schedule(black_box(&nodes), black_box(&tasks), Timestamp(0)))
    });
    group.finish();
}

// The macro defines an undocumented `benches` function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
