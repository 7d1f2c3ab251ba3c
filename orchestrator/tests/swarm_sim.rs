//! Deterministic simulation of the swarm control loop against simulated nodes.
//!
//! Each seed builds a world of nodes and three services (replicated, global, replicated job)
//! and runs it in 250 ms ticks: the leader's loop marks silent nodes down and calls reconcile,
//! rebalance and schedule, committing their output; nodes start the tasks assigned to them
//! after a delay, stop the ones no longer wanted, and report status (applied only when the
//! state moves forward). Faults: task crashes, node crashes (containers die), partitions
//! (containers keep running), slow nodes, drains, scale changes, and leader changes that drop
//! everything the loop kept in memory and pause it for an election. Then the faults stop and
//! the world runs until it is at rest, where it must have converged: every slot of the
//! replicated service runs exactly one container, the global service one per node, the job
//! completed every slot, and nothing runs that the store does not want.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use orchestrator::swarm::{
    Availability, DesiredState, Mode, Node, NodeId, NodeRole, NodeStatus, Platform, Resources,
    RestartHistory, Service, ServiceId, ServiceSpec, Task, TaskId, TaskSlot, TaskState, Timestamp,
    apply_reconciliation, apply_schedule, rebalance, reconcile, schedule,
};

const TICK: Duration = Duration::from_millis(250);
const HEARTBEAT_GRACE: Duration = Duration::from_secs(3);
const FAULT_TICKS: u32 = 160;
const MAX_QUIET_TICKS: u32 = 2_000;
// Longer than any timer of the world: a start delay (9 ticks), a job run (8 s), a restart
// delay (1 s), a heartbeat grace (3 s).
const REST_TICKS: u32 = 48;

/// A container on a simulated node.
#[derive(Debug, Clone)]
struct Container {
    state: TaskState,
    /// When it starts running (while starting) or completes (a job, while running).
    at: Timestamp,
    exit_code: Option<i32>,
}

#[derive(Debug)]
struct SimNode {
    id: NodeId,
    /// The machine runs (a crash kills its containers).
    up: bool,
    /// It cannot reach the managers (its containers keep running).
    partitioned: bool,
    /// Until when it is down or cut off.
    fault_until: Timestamp,
    /// Start delay of its containers, in ticks.
    slow: u32,
    containers: BTreeMap<TaskId, Container>,
}

/// What the leader keeps in memory only: lost at each leader change.
#[derive(Debug)]
struct LeaderMemory {
    /// When this leader took over: nodes it has not heard from yet get a grace period.
    since: Timestamp,
    /// The last heartbeat of each node this leader heard.
    last_seen: HashMap<NodeId, Timestamp>,
}

impl LeaderMemory {
    fn new(since: Timestamp) -> Self {
        Self {
            since,
            last_seen: HashMap::new(),
        }
    }
}

struct World {
    rng: fastrand::Rng,
    now: Timestamp,
    // The replicated store.
    services: Vec<Service>,
    histories: HashMap<ServiceId, RestartHistory>,
    tasks: Vec<Task>,
    nodes: Vec<Node>,
    next_id: u64,
    // The leader: absent during an election.
    leader: Option<LeaderMemory>,
    election_until: Timestamp,
    // The machines.
    sim: Vec<SimNode>,
    stats: Stats,
}

/// What happened over a run, so the test can show its faults were exercised.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    stale_reports: u64,
    orphaned: u64,
    replacements: u64,
    restarts: u64,
    moves: u64,
    leader_changes: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.stale_reports += other.stale_reports;
        self.orphaned += other.orphaned;
        self.replacements += other.replacements;
        self.restarts += other.restarts;
        self.moves += other.moves;
        self.leader_changes += other.leader_changes;
    }
}

fn spec(mode: Mode) -> ServiceSpec {
    let mut spec = ServiceSpec {
        image: "app".into(),
        mode,
        ..ServiceSpec::default()
    };
    spec.restart_policy.delay = Duration::from_secs(1);
    spec
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let count = rng.usize(3..7);
        let nodes: Vec<Node> = (0..count)
            .map(|i| Node {
                id: NodeId(format!("n{i}")),
                hostname: format!("host{i}"),
                role: if i == 0 {
                    NodeRole::Manager
                } else {
                    NodeRole::Worker
                },
                labels: BTreeMap::from([("zone".to_string(), format!("z{}", i % 2))]),
                platform: Platform {
                    os: "linux".into(),
                    arch: "x86_64".into(),
                },
                availability: Availability::Active,
                status: NodeStatus::Ready,
                resources: Resources {
                    nano_cpus: 4_000_000_000,
                    memory_bytes: 8 << 30,
                },
            })
            .collect();
        let mut web = spec(Mode::Replicated {
            replicas: rng.u64(2..10),
        });
        web.resources.reservations.memory_bytes = 256 << 20;
        if rng.bool() {
            web.placement.preferences = vec!["spread=node.labels.zone".parse().expect("valid")];
        }
        let agent = spec(Mode::Global);
        let mut batch = spec(Mode::ReplicatedJob {
            total_completions: rng.u64(1..8),
            max_concurrent: rng.u64(1..4),
        });
        batch.restart_policy.condition = orchestrator::swarm::RestartCondition::OnFailure;
        let services = vec![
            Service::new("web".into(), "web", web, Timestamp(0)),
            Service::new("agent".into(), "agent", agent, Timestamp(0)),
            Service::new("batch".into(), "batch", batch, Timestamp(0)),
        ];
        let sim = nodes
            .iter()
            .map(|n| SimNode {
                id: n.id.clone(),
                up: true,
                partitioned: false,
                fault_until: Timestamp(0),
                slow: 0,
                containers: BTreeMap::new(),
            })
            .collect();
        World {
            rng,
            now: Timestamp(1_000_000),
            services,
            histories: HashMap::new(),
            tasks: Vec::new(),
            nodes,
            next_id: 0,
            leader: Some(LeaderMemory::new(Timestamp(1_000_000))),
            election_until: Timestamp(0),
            sim,
            stats: Stats::default(),
        }
    }

    /// One round of the leader's loop; whether it committed anything.
    fn control(&mut self) -> bool {
        let now = self.now;
        let Some(memory) = self.leader.as_mut() else {
            return false;
        };
        let mut changed = false;
        // Heartbeats: a node silent past its grace is down; a new leader starts every node's
        // grace afresh.
        for node in &mut self.nodes {
            let heard = memory
                .last_seen
                .get(&node.id)
                .is_some_and(|seen| now.since(*seen) <= HEARTBEAT_GRACE);
            let in_grace =
                node.status == NodeStatus::Ready && now.since(memory.since) <= HEARTBEAT_GRACE;
            let status = if heard || in_grace {
                NodeStatus::Ready
            } else {
                NodeStatus::Down
            };
            if node.status != status {
                node.status = status;
                changed = true;
            }
        }
        let next = &mut self.next_id;
        let mut id = || {
            *next += 1;
            TaskId(format!("t{next}"))
        };
        for service in &self.services {
            let history = self.histories.entry(service.id.clone()).or_default();
            let rec = reconcile(service, &self.tasks, &self.nodes, history, now);
            changed |= !rec.is_empty();
            self.stats.orphaned += rec.shutdowns.iter().filter(|s| s.orphaned).count() as u64;
            self.stats.replacements += rec
                .creations
                .iter()
                .filter(|c| c.replaces.is_some())
                .count() as u64;
            self.stats.restarts += rec.restarts.len() as u64;
            apply_reconciliation(service, &mut self.tasks, history, &rec, now, &mut id);
            let moves = rebalance(service, &self.tasks, &self.nodes, 2, now);
            changed |= !moves.is_empty();
            self.stats.moves += moves.creations.len() as u64;
            apply_reconciliation(service, &mut self.tasks, history, &moves, now, &mut id);
        }
        let placed = schedule(&self.nodes, &self.tasks, now);
        changed |= !placed.assignments.is_empty();
        apply_schedule(&mut self.tasks, &placed, now);
        changed
    }

    /// Every node acts and, when it reaches the leader, heartbeats and reports.
    fn nodes_act(&mut self) -> bool {
        let now = self.now;
        let mut changed = false;
        let index: HashMap<TaskId, usize> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        let jobs: HashSet<ServiceId> = self
            .services
            .iter()
            .filter(|s| s.spec.mode.is_job())
            .map(|s| s.id.clone())
            .collect();
        for node in &mut self.sim {
            if !node.up {
                continue;
            }
            // Local progress, whether or not the managers are reachable.
            for (task_id, container) in &mut node.containers {
                let is_job = index
                    .get(task_id)
                    .is_some_and(|&i| jobs.contains(&self.tasks[i].service_id));
                match container.state {
                    TaskState::Starting if now >= container.at => {
                        container.state = TaskState::Running;
                        container.at = now.after(Duration::from_secs(self.rng.u64(2..8)));
                        changed = true;
                    }
                    TaskState::Running if is_job && now >= container.at => {
                        container.state = TaskState::Complete;
                        container.exit_code = Some(0);
                        changed = true;
                    }
                    _ => {}
                }
            }
            let connected = !node.partitioned && self.leader.is_some();
            if !connected {
                continue;
            }
            if let Some(memory) = self.leader.as_mut() {
                memory.last_seen.insert(node.id.clone(), now);
            }
            // Assignments: start what is wanted here, stop what is not.
            for task in self
                .tasks
                .iter()
                .filter(|t| t.node.as_ref() == Some(&node.id))
            {
                if task.is_desired_running()
                    && task.status.state == TaskState::Assigned
                    && !node.containers.contains_key(&task.id)
                {
                    let delay = 1 + u64::from(node.slow) + self.rng.u64(0..8);
                    node.containers.insert(
                        task.id.clone(),
                        Container {
                            state: TaskState::Starting,
                            at: now.after(TICK * delay as u32),
                            exit_code: None,
                        },
                    );
                    changed = true;
                }
            }
            // Told to stop a task it never started: it reports it shut down.
            for task in self.tasks.iter_mut().filter(|t| {
                t.node.as_ref() == Some(&node.id)
                    && !t.is_desired_running()
                    && !t.status.state.is_terminal()
                    && !node.containers.contains_key(&t.id)
            }) {
                if task.status.state.advance(TaskState::Shutdown).is_ok() {
                    task.status.timestamp = now;
                    changed = true;
                }
            }
            let mut gone = Vec::new();
            for (task_id, container) in &mut node.containers {
                let wanted = index.get(task_id).is_some_and(|&i| {
                    let t = &self.tasks[i];
                    t.is_desired_running() && t.node.as_ref() == Some(&node.id)
                });
                if !wanted && !container.state.is_terminal() {
                    container.state = TaskState::Shutdown;
                    changed = true;
                }
                if !index.contains_key(task_id) {
                    gone.push(task_id.clone());
                }
            }
            for task_id in gone {
                node.containers.remove(&task_id);
            }
            // Status reports: applied when they move the task forward.
            for (task_id, container) in &node.containers {
                let Some(&i) = index.get(task_id) else {
                    continue;
                };
                let task = &mut self.tasks[i];
                if task.status.state == container.state {
                    continue;
                }
                if task.status.state.advance(container.state).is_ok() {
                    task.status.timestamp = now;
                    task.status.exit_code = container.exit_code;
                    changed = true;
                } else {
                    self.stats.stale_reports += 1;
                }
            }
        }
        changed
    }

    fn inject_faults(&mut self) {
        let now = self.now;
        let rng = &mut self.rng;
        // Faults end.
        for node in &mut self.sim {
            if now >= node.fault_until {
                if !node.up {
                    node.up = true;
                    // The machine restarted: its containers died with it.
                    for container in node.containers.values_mut() {
                        if !container.state.is_terminal() {
                            container.state = TaskState::Failed;
                            container.exit_code = Some(137);
                        }
                    }
                }
                node.partitioned = false;
            }
        }
        if self.leader.is_none() && now >= self.election_until {
            self.leader = Some(LeaderMemory::new(now));
        }
        // New faults.
        if rng.u32(0..100) < 3 {
            let count = self.sim.len();
            let node = &mut self.sim[rng.usize(0..count)];
            if node.up && !node.partitioned {
                node.fault_until = now.after(Duration::from_millis(rng.u64(1_000..12_000)));
                if rng.bool() {
                    node.up = false;
                } else {
                    node.partitioned = true;
                }
            }
        }
        if rng.u32(0..100) < 2 && self.leader.is_some() {
            self.leader = None;
            self.stats.leader_changes += 1;
            self.election_until = now.after(Duration::from_millis(rng.u64(250..3_000)));
        }
        if rng.u32(0..100) < 5 {
            let count = self.sim.len();
            let node = &mut self.sim[rng.usize(0..count)];
            if let Some(container) = node
                .containers
                .values_mut()
                .filter(|c| c.state == TaskState::Running)
                .nth(rng.usize(0..4))
            {
                container.state = TaskState::Failed;
                container.exit_code = Some(1);
            }
        }
        if rng.u32(0..100) < 2 {
            let i = rng.usize(0..self.sim.len());
            self.sim[i].slow = rng.u32(0..20);
        }
        if rng.u32(0..100) < 2 {
            let i = rng.usize(0..self.nodes.len());
            self.nodes[i].availability = match self.nodes[i].availability {
                Availability::Active if rng.bool() => Availability::Drain,
                Availability::Active => Availability::Pause,
                _ => Availability::Active,
            };
        }
        if rng.u32(0..100) < 2 {
            self.services[0].spec.mode = Mode::Replicated {
                replicas: rng.u64(0..12),
            };
        }
    }

    fn heal(&mut self) {
        for node in &mut self.sim {
            node.fault_until = self.now;
            node.slow = 0;
        }
        for node in &mut self.nodes {
            node.availability = Availability::Active;
        }
    }

    fn run(mut self, seed: u64) -> Self {
        for _ in 0..FAULT_TICKS {
            self.inject_faults();
            self.control();
            self.nodes_act();
            self.now = self.now.after(TICK);
        }
        self.heal();
        let mut quiet = 0;
        for _ in 0..MAX_QUIET_TICKS {
            self.inject_faults_end_only();
            let a = self.control();
            let b = self.nodes_act();
            self.now = self.now.after(TICK);
            quiet = if a || b { 0 } else { quiet + 1 };
            if quiet >= REST_TICKS {
                return self;
            }
        }
        panic!("seed {seed}: the world did not come to rest");
    }

    fn inject_faults_end_only(&mut self) {
        let saved = self.rng.get_seed();
        // Ending faults and elections uses no randomness.
        let now = self.now;
        for node in &mut self.sim {
            if now >= node.fault_until && (!node.up || node.partitioned) {
                if !node.up {
                    node.up = true;
                    for container in node.containers.values_mut() {
                        if !container.state.is_terminal() {
                            container.state = TaskState::Failed;
                            container.exit_code = Some(137);
                        }
                    }
                }
                node.partitioned = false;
            }
        }
        if self.leader.is_none() && now >= self.election_until {
            self.leader = Some(LeaderMemory::new(now));
        }
        self.rng.seed(saved);
    }

    /// The checks at rest.
    fn check(&self, seed: u64) {
        let by_id: HashMap<&TaskId, &Task> = self.tasks.iter().map(|t| (&t.id, t)).collect();
        // What actually runs, from the nodes' side.
        let mut running: HashMap<(&ServiceId, &TaskSlot), Vec<&NodeId>> = HashMap::new();
        for node in &self.sim {
            assert!(node.up && !node.partitioned, "seed {seed}: faults healed");
            for (task_id, container) in &node.containers {
                if container.state != TaskState::Running {
                    continue;
                }
                let task = by_id.get(task_id).unwrap_or_else(|| {
                    panic!("seed {seed}: {task_id} runs on {} untracked", node.id)
                });
                assert!(
                    task.is_desired_running() && task.node.as_ref() == Some(&node.id),
                    "seed {seed}: {task_id} runs on {} against the store",
                    node.id
                );
                assert_eq!(
                    task.status.state,
                    TaskState::Running,
                    "seed {seed}: {task_id} reported"
                );
                running
                    .entry((&task.service_id, &task.slot))
                    .or_default()
                    .push(&node.id);
            }
        }
        for (key, nodes) in &running {
            assert_eq!(
                nodes.len(),
                1,
                "seed {seed}: slot {key:?} runs twice: {nodes:?}"
            );
        }
        // The replicated service: exactly its replicas.
        let web = &self.services[0];
        let Mode::Replicated { replicas } = web.spec.mode else {
            unreachable!("web is replicated")
        };
        // Slot numbers need not be 1..=replicas: scale-down takes slots from the busiest
        // nodes, whatever their numbers.
        let web_slots: HashSet<&TaskSlot> = running
            .keys()
            .filter(|(s, _)| **s == web.id)
            .map(|(_, slot)| *slot)
            .collect();
        assert_eq!(
            web_slots.len() as u64,
            replicas,
            "seed {seed}: web slots {web_slots:?}"
        );
        assert!(web_slots.iter().all(|s| matches!(s, TaskSlot::Slot(_))));
        // Spread: within one of even over the (identical) nodes, unless spread by zone.
        if web.spec.placement.preferences.is_empty() {
            let mut per_node: HashMap<&NodeId, usize> = HashMap::new();
            for ((s, _), nodes) in &running {
                if **s == web.id {
                    *per_node.entry(nodes[0]).or_default() += 1;
                }
            }
            let counts: Vec<usize> = self
                .nodes
                .iter()
                .map(|n| per_node.get(&n.id).copied().unwrap_or(0))
                .collect();
            let (max, min) = (counts.iter().max(), counts.iter().min());
            assert!(
                max.zip(min).is_none_or(|(max, min)| max - min <= 1),
                "seed {seed}: uneven web spread {counts:?}"
            );
        }
        // The global service: one on every node.
        let agent = &self.services[1];
        for node in &self.nodes {
            let key = TaskSlot::Node(node.id.clone());
            assert!(
                running.contains_key(&(&agent.id, &key)),
                "seed {seed}: no agent task runs on {}",
                node.id
            );
        }
        // The job: every slot completed, nothing left running.
        let batch = &self.services[2];
        let Mode::ReplicatedJob {
            total_completions, ..
        } = batch.spec.mode
        else {
            unreachable!("batch is a job")
        };
        let completed: HashSet<&TaskSlot> = self
            .tasks
            .iter()
            .filter(|t| t.service_id == batch.id && t.status.state == TaskState::Complete)
            .map(|t| &t.slot)
            .collect();
        assert_eq!(
            completed.len() as u64,
            total_completions,
            "seed {seed}: job completions"
        );
        assert!(
            !running.keys().any(|(s, _)| **s == batch.id),
            "seed {seed}: a finished job still runs"
        );
        // Every stop the managers asked for was carried out.
        for task in &self.tasks {
            assert!(
                task.is_desired_running() || !task.holds_node(),
                "seed {seed}: {} still holds {:?} after its shutdown",
                task.id,
                task.node
            );
        }
        // History is bounded per slot.
        let mut stopped: HashMap<(&ServiceId, &TaskSlot), usize> = HashMap::new();
        for task in self
            .tasks
            .iter()
            .filter(|t| t.desired_state == DesiredState::Shutdown)
        {
            *stopped.entry((&task.service_id, &task.slot)).or_default() += 1;
        }
        for (key, count) in stopped {
            assert!(count <= 5, "seed {seed}: {count} old tasks kept in {key:?}");
        }
    }
}

#[test]
fn the_world_converges_under_faults_over_500_seeds() {
    let mut stats = Stats::default();
    for seed in 0..500 {
        let world = World::new(seed).run(seed);
        world.check(seed);
        stats += world.stats;
    }
    // The faults were exercised: lost tasks replaced, drains and rebalances started new tasks
    // first, restarts, leader changes, and reports refused for moving a task backwards.
    assert!(stats.orphaned > 0, "{stats:?}");
    assert!(stats.replacements > 0, "{stats:?}");
    assert!(stats.restarts > 0, "{stats:?}");
    assert!(stats.moves > 0, "{stats:?}");
    assert!(stats.leader_changes > 0, "{stats:?}");
    assert!(stats.stale_reports > 0, "{stats:?}");
    eprintln!("{stats:?}");
}
