//! A deterministic simulation of the control plane: the leader's control loop (the real
//! decision step, [`control::decide`]), the liveness rules (the real
//! [`control::LivenessView`], [`workers::marked_down`] and [`workers::marked_ready`]), the
//! dispatcher (the real [`sets::assignments`] and [`sets::increment`] served from each
//! manager's applied copy, and the real [`batch::updates`] for status reports), and nodes
//! running the real task state machine against simulated agents — all in one thread, on
//! virtual time, with every random choice drawn from one seeded generator.
//!
//! Faults drawn during the chaos phase: a node daemon or a whole machine crashing and coming
//! back, a node cut off from every other, a slow node (agent calls 5–20 times longer), the
//! leader stepping down (its pending batches committed or lost), dispatcher messages lost
//! (the node sees the gap and asks for the complete set again), and user writes (scale,
//! forced update, create, remove). Then every fault heals and the world must come to rest.

pub(crate) mod check;
pub(crate) mod node;
pub(crate) mod raft;
mod user;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_manager::control::{self, LivenessView};
use cluster_manager::dispatcher::sets::{self, AllSets, NodeSet};
use cluster_manager::dispatcher::{StatusReport, batch};
use cluster_manager::workers::{self, DOWN_AFTER, FAILOVER_GRACE, HEARTBEAT_INTERVAL};
use cluster_state::{Availability, Meta, NodeRole, NodeState, Record};
use orchestrator::swarm::{self, NodeStatus, TaskId, Timestamp};

use node::{Dice, SimNode};
use raft::{Origin, Raft};

/// Virtual time, in ticks of [`TICK_MS`].
pub(crate) type Tick = u64;
/// One tick, in milliseconds.
pub(crate) const TICK_MS: u64 = 100;
/// The leader's clock at tick 0 (milliseconds since the epoch).
const EPOCH_MS: u64 = 1_700_000_000_000;
/// Managers among the nodes (the first ones).
pub(crate) const MANAGERS: usize = 3;
/// Nodes in all.
pub(crate) const NODES: usize = 5;

fn ticks(d: Duration) -> Tick {
    (d.as_millis() as u64).div_ceil(TICK_MS)
}

impl Dice for fastrand::Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn ticks(&mut self, lo: Tick, hi: Tick) -> Tick {
        self.u64(lo..=hi)
    }
}

/// A node's session with a manager's dispatcher.
#[derive(Debug)]
struct Session {
    manager: usize,
    /// The sequence of the last message sent.
    seq: u64,
    /// What the node has been sent (complete set plus increments).
    sent: NodeSet,
    /// The sequence the node saw last.
    seen: u64,
    last_sent: Tick,
}

/// The simulated cluster.
pub(crate) struct World {
    rng: fastrand::Rng,
    /// Now.
    pub now: Tick,
    /// The store.
    pub raft: Raft,
    /// The nodes (managers first).
    pub nodes: Vec<SimNode>,
    /// When each faulted node heals: crashed, cut off, slow.
    heal_at: BTreeMap<(usize, Fault), Tick>,
    /// The leader's record of when it heard each worker.
    heard: BTreeMap<String, Tick>,
    /// The leader's record of when it last saw each manager reachable (by raft id).
    last_reachable: BTreeMap<u64, Tick>,
    control_outstanding: usize,
    control_next: Tick,
    control_read: u64,
    sessions: BTreeMap<usize, Session>,
    sets_cache: BTreeMap<usize, (u64, Arc<AllSets>)>,
    reports_in_flight: BTreeSet<usize>,
    next_task: u64,
    base: Instant,
    /// What happened, for a failing seed's report.
    pub trace: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Crash,
    Cut,
    Slow,
}

fn node_record(i: usize) -> Record {
    let raft_id = (i < MANAGERS).then_some(i as u64 + 1);
    Record::Node(cluster_state::Node {
        meta: Meta {
            id: format!("n{i}"),
            ..Meta::default()
        },
        hostname: format!("host{i}"),
        addr: format!("10.0.0.{i}:4242"),
        role: if raft_id.is_some() {
            NodeRole::Manager
        } else {
            NodeRole::Worker
        },
        raft_id,
        availability: Availability::Active,
        state: NodeState::Ready,
        desired_role: None,
        demoted_at_ms: None,
        platform: swarm::Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
        },
        resources: swarm::Resources {
            nano_cpus: 4_000_000_000,
            memory_bytes: 8 << 30,
        },
    })
}

impl World {
    /// A cluster of [`NODES`] nodes, the first [`MANAGERS`] of them managers, with the
    /// services of `seed`'s draw; no leader yet.
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut records: Vec<Record> = (0..NODES).map(node_record).collect();
        for s in 0..rng.usize(1..=3) {
            let replicas = rng.u64(1..=6);
            records.push(user::service(s, replicas, Timestamp(EPOCH_MS)));
        }
        let mut world = World {
            rng,
            now: 0,
            raft: Raft::new(records),
            nodes: (0..NODES).map(|i| SimNode::new(&format!("n{i}"))).collect(),
            heal_at: BTreeMap::new(),
            heard: BTreeMap::new(),
            last_reachable: BTreeMap::new(),
            control_outstanding: 0,
            control_next: 0,
            control_read: 0,
            sessions: BTreeMap::new(),
            sets_cache: BTreeMap::new(),
            reports_in_flight: BTreeSet::new(),
            next_task: 0,
            base: Instant::now(),
            trace: Vec::new(),
        };
        world.raft.election_at = Some(0);
        world
    }

    /// The leader's clock now.
    pub(crate) fn stamp(&self) -> Timestamp {
        Timestamp(EPOCH_MS + self.now * TICK_MS)
    }

    fn instant(&self, tick: Tick) -> Instant {
        self.base + Duration::from_millis(tick * TICK_MS)
    }

    fn note(&mut self, event: String) {
        self.trace.push(format!("[{:>5}] {event}", self.now));
    }

    /// A manager that can take part in raft: its daemon runs and it is connected.
    fn manager_up(&self, m: usize) -> bool {
        m < MANAGERS && self.nodes[m].daemon_up && self.nodes[m].connected
    }

    fn quorum(&self) -> bool {
        (0..MANAGERS).filter(|m| self.manager_up(*m)).count() > MANAGERS / 2
    }

    /// Raft ids the leader hears from.
    fn reachable(&self) -> BTreeSet<u64> {
        (0..MANAGERS)
            .filter(|m| self.manager_up(*m))
            .map(|m| m as u64 + 1)
            .collect()
    }

    /// Each node's liveness as the leader sees it now (the control loop's view).
    pub(crate) fn status_of(&self) -> impl Fn(&cluster_state::Node) -> NodeStatus + '_ {
        let reachable = self.reachable();
        let last_reachable: BTreeMap<u64, Instant> = self
            .last_reachable
            .iter()
            .map(|(id, t)| (*id, self.instant(*t)))
            .collect();
        let now = self.instant(self.now);
        let leading_since = self.instant(self.raft.leading_since);
        move |node| {
            let view = LivenessView {
                now,
                leading_since,
                grace: DOWN_AFTER,
                failover_grace: FAILOVER_GRACE,
                reachable: &reachable,
                last_reachable: &last_reachable,
                heard_since: |id: &str, since: Instant| {
                    self.heard
                        .get(id)
                        .is_some_and(|t| self.instant(*t) >= since)
                },
            };
            view.status(node)
        }
    }

    /// Runs one tick; `chaos` draws faults and user writes.
    pub(crate) fn tick(&mut self, chaos: bool) {
        self.now += 1;
        if chaos {
            self.draw_faults();
            user::draw(self);
        }
        self.heal_due();
        self.leadership(chaos);
        let outcomes = self.raft.commit_due(self.now, self.stamp().as_millis());
        self.outcomes(outcomes);
        self.follow();
        if self.now % ticks(HEARTBEAT_INTERVAL) == 0 {
            self.heartbeats();
            self.liveness_watch();
        }
        self.control_pass();
        self.dispatch(chaos);
        self.send_reports();
        let stamp = self.stamp();
        let now = self.now;
        for node in &mut self.nodes {
            node.tick(now, stamp, &mut self.rng);
        }
    }

    fn draw_faults(&mut self) {
        if !self.rng.chance(0.08) {
            return;
        }
        let n = self.rng.usize(0..NODES);
        let fault = match self.rng.u8(0..3) {
            0 => Fault::Crash,
            1 => Fault::Cut,
            _ => Fault::Slow,
        };
        if self.heal_at.contains_key(&(n, fault)) {
            return;
        }
        let until = self.now + self.rng.ticks(5, 100);
        match fault {
            Fault::Crash => {
                let machine = self.rng.bool();
                self.note(format!("n{n} crashes (machine: {machine}) until {until}"));
                self.nodes[n].crash(machine);
                self.sessions.remove(&n);
                self.reports_in_flight.remove(&n);
            }
            Fault::Cut => {
                self.note(format!("n{n} cut off until {until}"));
                self.nodes[n].connected = false;
            }
            Fault::Slow => {
                self.note(format!("n{n} slow until {until}"));
                self.nodes[n].slow = true;
            }
        }
        self.heal_at.insert((n, fault), until);
    }

    fn heal_due(&mut self) {
        let due: Vec<(usize, Fault)> = self
            .heal_at
            .iter()
            .filter(|(_, until)| **until <= self.now)
            .map(|(k, _)| *k)
            .collect();
        for (n, fault) in due {
            self.heal_at.remove(&(n, fault));
            self.heal(n, fault);
        }
    }

    fn heal(&mut self, n: usize, fault: Fault) {
        self.note(format!("n{n} heals from {fault:?}"));
        match fault {
            Fault::Crash => self.nodes[n].restart(self.now),
            Fault::Cut => self.nodes[n].connected = true,
            Fault::Slow => self.nodes[n].slow = false,
        }
    }

    /// Ends every fault at once.
    pub(crate) fn heal_all(&mut self) {
        let all: Vec<(usize, Fault)> = self.heal_at.keys().copied().collect();
        self.heal_at.clear();
        for (n, fault) in all {
            self.heal(n, fault);
        }
    }

    fn leadership(&mut self, chaos: bool) {
        if let Some(leader) = self.raft.leader {
            let step_down = chaos && self.rng.chance(0.02);
            if !self.manager_up(leader) || !self.quorum() || step_down {
                // Entries a quorum holds survive the leader; with no quorum left, none do.
                let quorum = self.quorum();
                let election = self.now + self.rng.ticks(10, 20);
                self.note(format!("leader n{leader} lost (step down: {step_down})"));
                let rng = &mut self.rng;
                let outcomes = self.raft.lose_leader(
                    || quorum && rng.bool(),
                    EPOCH_MS + self.now * TICK_MS,
                    election,
                );
                self.outcomes(outcomes);
            }
            return;
        }
        let due = self.raft.election_at.is_some_and(|at| at <= self.now);
        if !due || !self.quorum() {
            return;
        }
        let candidates: Vec<usize> = (0..MANAGERS).filter(|m| self.manager_up(*m)).collect();
        let leader = candidates[self.rng.usize(0..candidates.len())];
        self.raft.leader = Some(leader);
        self.raft.term += 1;
        self.raft.leading_since = self.now;
        self.raft.election_at = None;
        self.raft.catch_up(leader);
        self.heard.clear();
        self.last_reachable.clear();
        self.control_next = self.now;
        self.control_read = 0;
        self.control_outstanding = 0;
        let term = self.raft.term;
        self.note(format!("n{leader} leads in term {term}"));
    }

    fn outcomes(&mut self, outcomes: Vec<raft::Outcome>) {
        for outcome in outcomes {
            match outcome.origin {
                Origin::Control => {
                    self.control_outstanding = self.control_outstanding.saturating_sub(1);
                    if !outcome.applied {
                        self.control_next = self.control_next.min(self.now + 2);
                    }
                }
                Origin::Reports(n, sent) => {
                    self.reports_in_flight.remove(&n);
                    if outcome.applied {
                        forget_sent(&mut self.nodes[n].reports, &sent);
                    }
                }
                Origin::Other => {}
            }
        }
    }

    /// Managers that follow the leader apply what it committed (followers may lag a tick).
    fn follow(&mut self) {
        let Some(leader) = self.raft.leader else {
            return;
        };
        self.raft.catch_up(leader);
        for m in 0..MANAGERS {
            if !self.manager_up(m) {
                continue;
            }
            self.last_reachable.insert(m as u64 + 1, self.now);
            self.raft.last_led.insert(m, self.now);
            let fresh = !self.raft.applied.contains_key(&m);
            if m != leader && (fresh || self.rng.chance(0.3)) {
                self.raft.catch_up(m);
            }
        }
    }

    /// Connected workers report to the leader, which marks a down one ready again.
    fn heartbeats(&mut self) {
        if self.raft.leader.is_none() {
            return;
        }
        for n in MANAGERS..NODES {
            let node = &self.nodes[n];
            if !node.daemon_up || !node.connected {
                continue;
            }
            let id = node.id.to_string();
            self.heard.insert(id.clone(), self.now);
            let record = self.raft.records().iter().find_map(|r| match r {
                Record::Node(node) if node.meta.id == id => Some(node.clone()),
                _ => None,
            });
            if let Some(ready) = record.as_ref().and_then(workers::marked_ready) {
                self.note(format!("n{n} ready again"));
                self.raft.propose(vec![ready], self.now + 1, Origin::Other);
            }
        }
    }

    /// The leader marks down the workers silent past their grace.
    fn liveness_watch(&mut self) {
        if self.raft.leader.is_none() {
            return;
        }
        let records = self.raft.records().as_ref().clone();
        let since = self.raft.leading_since;
        let now = self.now;
        let heard = &self.heard;
        // As the product counts: from the last heartbeat, or, for a worker not heard since
        // the leader took office, from the end of its failover grace less DOWN_AFTER.
        let extra = FAILOVER_GRACE.saturating_sub(DOWN_AFTER);
        let silent = workers::marked_down(
            records,
            |id| match heard.get(id) {
                Some(at) if *at >= since => Duration::from_millis((now - at) * TICK_MS),
                _ => Duration::from_millis((now - since) * TICK_MS).saturating_sub(extra),
            },
            DOWN_AFTER,
        );
        for command in silent {
            self.note(
                format!("marking down: {command:?}")
                    .chars()
                    .take(80)
                    .collect(),
            );
            self.raft
                .propose(vec![command], self.now + 1, Origin::Other);
        }
    }

    /// The leader's control loop: a pass when the store changed since its last read, or
    /// when the time it asked for (or the resync) comes, once the last pass's batches are
    /// decided.
    fn control_pass(&mut self) {
        if self.raft.leader.is_none() || self.control_outstanding > 0 {
            return;
        }
        if self.raft.index == self.control_read && self.now < self.control_next {
            return;
        }
        let records = self.raft.records().as_ref().clone();
        self.control_read = self.raft.index;
        let stamp = self.stamp();
        let mut next_task = self.next_task;
        let plan = control::decide(records, self.status_of(), stamp, || {
            next_task += 1;
            TaskId(format!("t{next_task:05}"))
        });
        self.next_task = next_task;
        self.control_next = self.now + ticks(control::RESYNC);
        if let Some(at) = plan.wake_at {
            let wait = at.as_millis().saturating_sub(stamp.as_millis());
            self.control_next = self
                .control_next
                .min(self.now + wait.div_ceil(TICK_MS).max(1));
        }
        for batch in plan.batches {
            let due = self.now + self.rng.ticks(1, 2);
            if self.raft.propose(batch, due, Origin::Control) {
                self.control_outstanding += 1;
            }
        }
    }

    /// Whether manager `m` serves sessions: up, connected, and it followed a leader with a
    /// quorum in the last 3 s.
    fn serves(&self, m: usize) -> bool {
        self.manager_up(m)
            && self
                .raft
                .last_led
                .get(&m)
                .is_some_and(|t| self.now.saturating_sub(*t) <= 30)
    }

    fn sets_of(&mut self, m: usize) -> Arc<AllSets> {
        let Some((index, records)) = self.raft.applied.get(&m).cloned() else {
            return Arc::new(AllSets::new());
        };
        if let Some((cached, sets)) = self.sets_cache.get(&m)
            && *cached == index
        {
            return sets.clone();
        }
        let sets = Arc::new(sets::assignments(&records));
        self.sets_cache.insert(m, (index, sets.clone()));
        sets
    }

    /// Each node's session: opened with a serving manager (a manager node's own first), a
    /// complete set first, then increments or a beat every 2 s; a lost message is a gap the
    /// node sees at the next one, and it opens a new session.
    fn dispatch(&mut self, chaos: bool) {
        for n in 0..NODES {
            let up = self.nodes[n].daemon_up && self.nodes[n].connected;
            let keep = up
                && self
                    .sessions
                    .get(&n)
                    .is_some_and(|s| self.serves(s.manager));
            if !keep {
                self.sessions.remove(&n);
            }
            if !up {
                continue;
            }
            if !self.sessions.contains_key(&n) {
                let serving: Vec<usize> = (0..MANAGERS).filter(|m| self.serves(*m)).collect();
                if serving.is_empty() {
                    continue;
                }
                let manager = if serving.contains(&n) {
                    n
                } else {
                    serving[self.rng.usize(0..serving.len())]
                };
                let set = self
                    .sets_of(manager)
                    .get(&self.nodes[n].id)
                    .cloned()
                    .unwrap_or_default();
                self.sessions.insert(
                    n,
                    Session {
                        manager,
                        seq: 1,
                        sent: set.clone(),
                        seen: 1,
                        last_sent: self.now,
                    },
                );
                let now = self.now;
                self.nodes[n].apply(&set, now);
                continue;
            }
            let manager = self.sessions[&n].manager;
            let new = self
                .sets_of(manager)
                .get(&self.nodes[n].id)
                .cloned()
                .unwrap_or_default();
            let lost = chaos && self.rng.chance(0.02);
            let now = self.now;
            let session = self.sessions.get_mut(&n).expect("a session");
            let increment = sets::increment(&session.sent, &new);
            if increment.is_empty() && now - session.last_sent < 20 {
                continue;
            }
            session.seq += 1;
            session.sent = new;
            session.last_sent = now;
            if lost {
                continue;
            }
            if session.seen + 1 != session.seq {
                // A gap: the node asks for the complete set again.
                self.sessions.remove(&n);
                continue;
            }
            session.seen = session.seq;
            let mut set = self.nodes[n].set.clone();
            sets::apply(&mut set, increment);
            self.nodes[n].apply(&set, now);
        }
    }

    /// Nodes send their pending reports through their session; the manager commits what
    /// moves tasks forward (through the leader) and answers once committed.
    fn send_reports(&mut self) {
        let sending = (0..NODES).any(|n| {
            self.sessions.contains_key(&n)
                && !self.reports_in_flight.contains(&n)
                && !self.nodes[n].reports.is_empty()
        });
        if self.raft.leader.is_none() || !sending {
            return;
        }
        let tasks: BTreeMap<TaskId, cluster_state::Task> = self
            .raft
            .records()
            .iter()
            .filter_map(|r| match r {
                Record::Task(t) => Some((t.task.id.clone(), (**t).clone())),
                _ => None,
            })
            .collect();
        for n in 0..NODES {
            if !self.sessions.contains_key(&n)
                || self.reports_in_flight.contains(&n)
                || self.nodes[n].reports.is_empty()
            {
                continue;
            }
            let sent: Vec<StatusReport> = self.nodes[n].reports.values().cloned().collect();
            let node = self.nodes[n].id.clone();
            let reports: Vec<_> = sent.iter().map(|r| (node.clone(), r.clone())).collect();
            let (commands, _) = batch::updates(&tasks, &reports);
            if commands.is_empty() {
                forget_sent(&mut self.nodes[n].reports, &sent);
                continue;
            }
            let due = self.now + self.rng.ticks(1, 2);
            if self.raft.propose(commands, due, Origin::Reports(n, sent)) {
                self.reports_in_flight.insert(n);
            }
        }
    }
}

/// Drops the reports the managers answered, unless a newer one replaced them meanwhile.
fn forget_sent(reports: &mut BTreeMap<TaskId, StatusReport>, sent: &[StatusReport]) {
    for report in sent {
        if reports.get(&report.task_id) == Some(report) {
            reports.remove(&report.task_id);
        }
    }
}

impl World {
    /// The store's nodes and tasks and the agents' containers, one per line, for a failing
    /// seed's report.
    pub(crate) fn describe(&mut self) -> String {
        let mut lines = Vec::new();
        let status = {
            let f = self.status_of();
            self.raft
                .store()
                .iter()
                .filter_map(|r| match r {
                    Record::Node(n) => {
                        Some(format!("node {} {:?} seen {:?}", n.meta.id, n.state, f(n)))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        lines.extend(status);
        for r in self.raft.store().iter() {
            match r {
                Record::Service(s) => lines.push(format!(
                    "service {} v{} {:?} restarts {:?}",
                    s.service.id, s.service.spec_version, s.service.spec.mode, s.restarts
                )),
                Record::Task(t) => lines.push(format!(
                    "task {} {} {:?} v{} on {:?} desired {:?} state {:?} ({}) not_before {:?}",
                    t.task.id,
                    t.task.service_id,
                    t.task.slot,
                    t.task.spec_version,
                    t.task.node,
                    t.task.desired_state,
                    t.task.status.state,
                    t.task.status.message,
                    t.task.not_before,
                )),
                _ => {}
            }
        }
        for node in &self.nodes {
            for (task, c) in &node.containers {
                lines.push(format!("{} container {task} {:?}", node.id, c.state));
            }
            lines.push(format!(
                "{} up {} connected {} set {:?} reports {:?}",
                node.id,
                node.daemon_up,
                node.connected,
                node.set.keys().collect::<Vec<_>>(),
                node.reports.keys().collect::<Vec<_>>()
            ));
        }
        lines.push(format!(
            "leader {:?} now {} stamp {:?}",
            self.raft.leader,
            self.now,
            self.stamp()
        ));
        lines.join("\n")
    }
}
