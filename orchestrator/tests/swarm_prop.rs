//! Property tests of the swarm logic over random clusters: the reconcilers are idempotent on
//! their own committed output, and a cluster driven by reconcile → schedule → nodes acting
//! comes to rest with one running task per slot, no node over its reservations, and an even
//! spread where the constraints allow.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use orchestrator::swarm::{
    Availability, DesiredState, Mode, Node, NodeId, NodeRole, NodeStatus, Platform, Resources,
    RestartHistory, Service, ServiceSpec, Task, TaskId, TaskSlot, TaskState, Timestamp,
    apply_reconciliation, apply_schedule, rebalance, reconcile, schedule,
};
use proptest::prelude::*;

const GIB: u64 = 1 << 30;

fn node(i: usize, zone: &str, status: NodeStatus, availability: Availability, memory: u64) -> Node {
    Node {
        id: NodeId(format!("n{i}")),
        hostname: format!("host{i}"),
        role: NodeRole::Worker,
        labels: BTreeMap::from([("zone".to_string(), zone.to_string())]),
        platform: Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
        },
        availability,
        status,
        resources: Resources {
            nano_cpus: 8_000_000_000,
            memory_bytes: memory,
        },
    }
}

fn arb_node(i: usize) -> impl Strategy<Value = Node> {
    (
        prop_oneof!["a", "b", "c"],
        prop_oneof![
            6 => Just(NodeStatus::Ready),
            1 => Just(NodeStatus::Down),
            1 => Just(NodeStatus::Unknown)
        ],
        prop_oneof![
            6 => Just(Availability::Active),
            1 => Just(Availability::Pause),
            1 => Just(Availability::Drain)
        ],
        1u64..8,
    )
        .prop_map(move |(zone, status, availability, gib)| {
            node(i, &zone, status, availability, gib * GIB)
        })
}

fn arb_nodes() -> impl Strategy<Value = Vec<Node>> {
    (1usize..8).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>())
}

fn arb_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        (0u64..12).prop_map(|replicas| Mode::Replicated { replicas }),
        Just(Mode::Global),
        (1u64..8, 1u64..4).prop_map(|(total_completions, max_concurrent)| {
            Mode::ReplicatedJob {
                total_completions,
                max_concurrent,
            }
        }),
        Just(Mode::GlobalJob),
    ]
}

/// A task of the service as some earlier history may have left it.
#[derive(Debug, Clone)]
struct TaskSeed {
    slot: u64,
    per_node: bool,
    node: Option<usize>,
    state: TaskState,
    desired_running: bool,
    created_at: u64,
    old_version: bool,
}

fn arb_task_seed() -> impl Strategy<Value = TaskSeed> {
    (
        1u64..14,
        any::<bool>(),
        proptest::option::of(0usize..9),
        0usize..TaskState::ALL.len(),
        any::<bool>(),
        0u64..10_000,
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(slot, per_node, node, state, desired_running, created_at, old_version)| TaskSeed {
                slot,
                per_node,
                node,
                state: TaskState::ALL[state],
                desired_running,
                created_at,
                old_version,
            },
        )
}

fn service(mode: Mode, memory: u64, constraint: bool, spread: bool) -> Service {
    let mut spec = ServiceSpec {
        image: "nginx".into(),
        mode,
        ..ServiceSpec::default()
    };
    spec.resources.reservations.memory_bytes = memory;
    if constraint {
        spec.placement.constraints = vec!["node.labels.zone!=c".parse().expect("valid")];
    }
    if spread {
        spec.placement.preferences = vec!["spread=node.labels.zone".parse().expect("valid")];
    }
    let mut service = Service::new("s1".into(), "web", spec, Timestamp(0));
    service.spec_version = 2;
    service
}

fn seeded_task(service: &Service, seed: &TaskSeed, index: usize) -> Task {
    let node = seed.node.map(|i| NodeId(format!("n{i}")));
    let slot = match (&node, seed.per_node) {
        (Some(n), true) => TaskSlot::Node(n.clone()),
        _ => TaskSlot::Slot(seed.slot),
    };
    // A task that never reached a node has no node.
    let node = node.filter(|_| seed.state >= TaskState::Assigned);
    let spec_version = if seed.old_version { 1 } else { 2 };
    let mut status = orchestrator::swarm::TaskStatus {
        state: seed.state,
        timestamp: Timestamp(seed.created_at),
        ..Default::default()
    };
    if node.is_none() && seed.state >= TaskState::Assigned {
        status.state = TaskState::Pending;
    }
    Task {
        id: TaskId(format!("old{index}")),
        service_id: service.id.clone(),
        slot,
        spec_version,
        spec: std::sync::Arc::new(service.spec.clone()),
        desired_state: if seed.desired_running {
            DesiredState::Running
        } else {
            DesiredState::Shutdown
        },
        shutdown_reason: None,
        status,
        node,
        created_at: Timestamp(seed.created_at),
        not_before: None,
        replaces: None,
        preferred_node: None,
    }
}

/// A cluster driven the way the leader's loops and the nodes drive it.
struct Cluster {
    service: Service,
    nodes: Vec<Node>,
    tasks: Vec<Task>,
    history: RestartHistory,
    now: Timestamp,
    next: u64,
}

impl Cluster {
    /// One round of the control loop; whether anything was committed.
    fn control(&mut self) -> bool {
        let next = &mut self.next;
        let mut id = || {
            *next += 1;
            TaskId(format!("t{next}"))
        };
        let rec = reconcile(
            &self.service,
            &self.tasks,
            &self.nodes,
            &self.history,
            self.now,
        );
        let mut changed = !rec.is_empty();
        apply_reconciliation(
            &self.service,
            &mut self.tasks,
            &mut self.history,
            &rec,
            self.now,
            &mut id,
        );
        let moves = rebalance(&self.service, &self.tasks, &self.nodes, 2, self.now);
        changed |= !moves.is_empty();
        apply_reconciliation(
            &self.service,
            &mut self.tasks,
            &mut self.history,
            &moves,
            self.now,
            &mut id,
        );
        let placed = schedule(&self.nodes, &self.tasks, self.now);
        changed |= !placed.assignments.is_empty();
        apply_schedule(&mut self.tasks, &placed, self.now);
        changed
    }

    /// The nodes act on what they were told: start assigned tasks, stop unwanted ones.
    fn nodes_act(&mut self) -> bool {
        let mut changed = false;
        for task in &mut self.tasks {
            let next = match task.desired_state {
                DesiredState::Running if task.status.state == TaskState::Assigned => {
                    TaskState::Running
                }
                DesiredState::Shutdown if task.holds_node() => TaskState::Shutdown,
                _ => continue,
            };
            task.status.state.advance(next).expect("forward move");
            task.status.timestamp = self.now;
            changed = true;
        }
        changed
    }

    fn settle(&mut self) {
        for _ in 0..200 {
            let a = self.control();
            let b = self.nodes_act();
            self.now = self.now.after(Duration::from_secs(1));
            if !a && !b {
                return;
            }
        }
        panic!("the cluster did not come to rest");
    }

    fn running(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .filter(|t| t.status.state == TaskState::Running)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Committing a reconciliation and reconciling again at the same time decides nothing.
    #[test]
    fn reconcile_of_its_own_output_is_a_no_op(
        nodes in arb_nodes(),
        mode in arb_mode(),
        seeds in proptest::collection::vec(arb_task_seed(), 0..16),
        constraint in any::<bool>(),
        limit in 0u32..4,
    ) {
        let mut service = service(mode, 0, constraint, false);
        service.task_history_limit = limit;
        let mut tasks: Vec<Task> =
            seeds.iter().enumerate().map(|(i, s)| seeded_task(&service, s, i)).collect();
        let mut history = RestartHistory::default();
        let now = Timestamp(20_000);
        let first = reconcile(&service, &tasks, &nodes, &history, now);
        let mut next = 0;
        apply_reconciliation(&service, &mut tasks, &mut history, &first, now, || {
            next += 1;
            TaskId(format!("new{next}"))
        });
        let second = reconcile(&service, &tasks, &nodes, &history, now);
        prop_assert!(second.is_empty(), "first: {first:#?}\nsecond: {second:#?}");
    }

    /// From nothing, with some nodes down, then back: at rest every slot has one running task,
    /// no node holds more than it has, and the spread is even where the constraint allows.
    #[test]
    fn a_replicated_service_comes_to_rest_evenly(
        zones in proptest::collection::vec(prop_oneof!["a", "b", "c"], 1..7),
        down in proptest::collection::vec(any::<bool>(), 7),
        replicas in 0u64..20,
        constraint in any::<bool>(),
        reserve in prop_oneof![Just(0u64), Just(GIB)],
    ) {
        let nodes: Vec<Node> = zones
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                let status = if down[i] { NodeStatus::Down } else { NodeStatus::Ready };
                node(i, zone, status, Availability::Active, 4 * GIB)
            })
            .collect();
        let mut cluster = Cluster {
            service: service(Mode::Replicated { replicas }, reserve, constraint, false),
            nodes,
            tasks: Vec::new(),
            history: RestartHistory::default(),
            now: Timestamp(0),
            next: 0,
        };
        cluster.settle();
        for node in &mut cluster.nodes {
            node.status = NodeStatus::Ready;
        }
        cluster.settle();

        // One running task per slot, no slot beyond the replicas.
        let mut per_slot: HashMap<&TaskSlot, usize> = HashMap::new();
        for task in cluster.running() {
            *per_slot.entry(&task.slot).or_default() += 1;
            prop_assert!(matches!(task.slot, TaskSlot::Slot(n) if n >= 1 && n <= replicas));
        }
        prop_assert!(per_slot.values().all(|&n| n == 1), "{per_slot:?}");

        // No node over its reservations.
        let mut memory: HashMap<&NodeId, u64> = HashMap::new();
        for task in cluster.tasks.iter().filter(|t| t.holds_node()) {
            *memory.entry(task.node.as_ref().expect("held")).or_default() +=
                task.spec.resources.reservations.memory_bytes;
        }
        for node in &cluster.nodes {
            prop_assert!(memory.get(&node.id).copied().unwrap_or(0) <= node.resources.memory_bytes);
        }

        // Converged: all replicas run unless the eligible nodes are full, and evenly.
        let eligible: Vec<&Node> = cluster
            .nodes
            .iter()
            .filter(|n| !constraint || n.labels["zone"] != "c")
            .collect();
        let capacity = match (eligible.len(), reserve) {
            (0, _) => 0,
            (_, 0) => u64::MAX,
            (count, _) => 4 * count as u64,
        };
        let expected = replicas.min(capacity);
        prop_assert_eq!(per_slot.len() as u64, expected);
        let counts: Vec<usize> = eligible
            .iter()
            .map(|n| cluster.running().filter(|t| t.node.as_ref() == Some(&n.id)).count())
            .collect();
        if let (Some(max), Some(min)) = (counts.iter().max(), counts.iter().min()) {
            prop_assert!(max - min <= 1, "uneven spread {counts:?}");
        }
    }

    /// A spread preference balances label values from scratch.
    #[test]
    fn spread_preferences_even_out_label_values(
        zones in proptest::collection::vec(prop_oneof!["a", "b", "c"], 1..9),
        replicas in 0u64..30,
    ) {
        let nodes: Vec<Node> = zones
            .iter()
            .enumerate()
            .map(|(i, zone)| node(i, zone, NodeStatus::Ready, Availability::Active, 4 * GIB))
            .collect();
        let mut cluster = Cluster {
            service: service(Mode::Replicated { replicas }, 0, false, true),
            nodes,
            tasks: Vec::new(),
            history: RestartHistory::default(),
            now: Timestamp(0),
            next: 0,
        };
        cluster.settle();
        let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
        for zone in &zones {
            per_zone.insert(zone.as_str(), 0);
        }
        let zone_of: HashMap<&NodeId, &str> =
            cluster.nodes.iter().map(|n| (&n.id, n.labels["zone"].as_str())).collect();
        for task in cluster.running() {
            *per_zone.entry(zone_of[task.node.as_ref().expect("running")]).or_default() += 1;
        }
        let max = per_zone.values().max().copied().unwrap_or(0);
        let min = per_zone.values().min().copied().unwrap_or(0);
        prop_assert!(max - min <= 1, "{per_zone:?}");
        prop_assert_eq!(per_zone.values().sum::<usize>() as u64, replicas);
    }
}
