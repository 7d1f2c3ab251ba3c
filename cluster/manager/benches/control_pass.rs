//! The leader's control pass at fleet scale, pure (no raft, no I/O): 1,000 worker nodes and
//! one service of 30,000 replicas, every task running.
//!
//! - `at rest`: a pass that finds nothing to do (the leader runs one at least every second);
//! - `100 nodes down`: the pass that replaces the 3,000 tasks of 100 lost nodes.
//!
//! `cargo bench -p cluster-manager --bench control_pass`

use std::hint::black_box;
use std::time::Duration;

use cluster_manager::control::decide;
use cluster_state::{
    Availability, Batch, Command, Kind, Meta, Node, NodeRole, NodeState, Record, Store,
};
use criterion::{Criterion, criterion_main};
use orchestrator::swarm::{self, Mode, NodeStatus, ServiceSpec, TaskId, TaskState, Timestamp};

const NODES: usize = 1_000;
const REPLICAS: u64 = 30_000;
const LOST: usize = 100;

fn node(i: usize) -> Record {
    let id = format!("node-{i:04}");
    Record::Node(Node {
        meta: Meta {
            id: id.clone(),
            ..Meta::default()
        },
        hostname: id.clone(),
        addr: format!("{id}:4242"),
        role: NodeRole::Worker,
        raft_id: None,
        availability: Availability::Active,
        state: NodeState::Ready,
        desired_role: None,
        demoted_at_ms: None,
        platform: swarm::Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
        },
        resources: swarm::Resources {
            nano_cpus: 16_000_000_000,
            memory_bytes: 64 << 30,
        },
    })
}

fn service() -> Record {
    let spec = ServiceSpec {
        image: "busybox".into(),
        mode: Mode::Replicated { replicas: REPLICAS },
        ..ServiceSpec::default()
    };
    Record::Service(Box::new(cluster_state::Service::new(swarm::Service::new(
        "web".into(),
        "web",
        spec,
        Timestamp(0),
    ))))
}

fn ids() -> impl FnMut() -> TaskId {
    let mut n = 0u64;
    move || {
        n += 1;
        TaskId(format!("task-{n:06}"))
    }
}

fn apply(store: &mut Store, index: &mut u64, commands: Vec<Command>) {
    *index += 1;
    if let Err(err) = store.apply(*index, &Batch::new(*index, commands)) {
        panic!("the bench's own batch was refused: {err}");
    }
}

/// The store after the service was created, placed and every task reported running.
fn running_store() -> Vec<Record> {
    let mut store = Store::new();
    let mut index = 0;
    let mut records: Vec<Record> = (0..NODES).map(node).collect();
    records.push(service());
    apply(
        &mut store,
        &mut index,
        records.into_iter().map(Command::Create).collect(),
    );
    let snapshot: Vec<Record> = store.iter().cloned().collect();
    let plan = decide(snapshot, |_| NodeStatus::Ready, Timestamp(1_000), ids());
    for batch in plan.batches {
        apply(&mut store, &mut index, batch);
    }
    let running: Vec<Command> = store
        .iter_kind(Kind::Task)
        .filter_map(|record| match record {
            Record::Task(task) => {
                let mut task = (**task).clone();
                task.task.status.state = TaskState::Running;
                Some(Command::Update {
                    expected_version: task.meta.version,
                    record: Record::Task(Box::new(task)),
                })
            }
            _ => None,
        })
        .collect();
    assert_eq!(running.len() as u64, REPLICAS, "every replica placed");
    apply(&mut store, &mut index, running);
    store.iter().cloned().collect()
}

fn lost(node: &Node) -> bool {
    node.meta
        .id
        .strip_prefix("node-")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n < LOST)
}

fn bench(c: &mut Criterion) {
    let records = running_store();
    let at_rest = decide(
        records.clone(),
        |_| NodeStatus::Ready,
        Timestamp(2_000),
        ids(),
    );
    assert!(at_rest.batches.is_empty(), "nothing to do at rest");
    let status = |node: &Node| {
        if lost(node) {
            NodeStatus::Down
        } else {
            NodeStatus::Ready
        }
    };
    let replaced = decide(records.clone(), status, Timestamp(2_000), ids());
    assert!(
        !replaced.batches.is_empty(),
        "the lost nodes' tasks are replaced"
    );

    let mut group = c.benchmark_group("control pass, 1000 nodes, 30000 tasks");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("at rest", |b| {
        b.iter_batched(
            || records.clone(),
            |records| {
                decide(
                    black_box(records),
                    |_| NodeStatus::Ready,
                    Timestamp(2_000),
                    ids(),
                )
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("100 nodes down", |b| {
        b.iter_batched(
            || records.clone(),
            |records| decide(black_box(records), status, Timestamp(2_000), ids()),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

// The macro defines an undocumented `benches` function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
