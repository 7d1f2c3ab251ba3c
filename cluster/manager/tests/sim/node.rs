//! A simulated node: its agent (containers that outlive the node daemon), and its node daemon
//! — the assignment set it saved, one actor per task driving the real task state machine
//! ([`machine::step`]) against the simulated agent, and the status reports waiting to be
//! committed. The actors follow the runner's and the actor's rules (`tasks::runner`,
//! `tasks::actor`): a new actor adopts the container the agent has for its task, an order
//! interrupts a pull or a wait and otherwise waits for the call in progress, a task that leaves
//! the set is unassigned, and containers of tasks the daemon does not know are removed.

use std::collections::BTreeMap;

use cluster_manager::dispatcher::sets::NodeSet;
use cluster_manager::dispatcher::{Assignment, StatusReport};
use cluster_manager::tasks::machine::{self, Effect, Found, Input, Phase, Report};
use orchestrator::swarm::{
    DesiredState, NodeId, ServiceId, TaskId, TaskSlot, TaskStatus, Timestamp,
};

use super::Tick;

/// A container as the agent holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Container {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited with a code.
    Exited(i32),
}

/// One container of a task on the agent.
#[derive(Debug, Clone)]
pub(crate) struct AgentContainer {
    /// Its service.
    pub service: ServiceId,
    /// Its slot.
    pub slot: TaskSlot,
    /// Its state.
    pub state: Container,
}

/// What the runner wants of a task (as `tasks::actor::Order`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Order {
    Assigned(Box<Assignment>),
    Unassigned,
}

/// One task's actor.
#[derive(Debug)]
struct Actor {
    assignment: Assignment,
    phase: Phase,
    order: Order,
    /// The order changed since the actor last looked.
    order_changed: bool,
    told_shutdown: bool,
    told_unassigned: bool,
    /// The agent call in progress and when it answers.
    effect: Option<(Effect, Tick)>,
    /// The input to step with next (the outcome of the last call, or the first `Begin`).
    input: Option<Input>,
}

/// Random draws the node's agent needs, from the world's seeded generator.
pub(crate) trait Dice {
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool;
    /// A number of ticks in `lo..=hi`.
    fn ticks(&mut self, lo: Tick, hi: Tick) -> Tick;
}

/// A simulated node.
#[derive(Debug)]
pub(crate) struct SimNode {
    /// Its id.
    pub id: NodeId,
    /// The node daemon runs.
    pub daemon_up: bool,
    /// It reaches the other nodes.
    pub connected: bool,
    /// Its agent calls take much longer.
    pub slow: bool,
    /// The set it saved (survives a daemon restart).
    pub set: NodeSet,
    /// The agent's task containers by task id (survive a daemon restart, not a crash of
    /// the machine).
    pub containers: BTreeMap<TaskId, AgentContainer>,
    /// Reports not yet committed, the latest of each task.
    pub reports: BTreeMap<TaskId, StatusReport>,
    actors: BTreeMap<TaskId, Actor>,
}

/// The input an order means, given what the actor was told (as `tasks::actor::order_input`).
fn order_input(
    order: &Order,
    told_shutdown: &mut bool,
    told_unassigned: &mut bool,
) -> Option<Input> {
    match order {
        Order::Unassigned if !*told_unassigned => {
            *told_unassigned = true;
            Some(Input::Unassigned)
        }
        Order::Assigned(a) if a.desired_state == DesiredState::Shutdown && !*told_shutdown => {
            *told_shutdown = true;
            Some(Input::Shutdown)
        }
        _ => None,
    }
}

impl SimNode {
    /// A node up and connected, with nothing assigned.
    pub(crate) fn new(id: &str) -> Self {
        SimNode {
            id: NodeId::from(id),
            daemon_up: true,
            connected: true,
            slow: false,
            set: NodeSet::new(),
            containers: BTreeMap::new(),
            reports: BTreeMap::new(),
            actors: BTreeMap::new(),
        }
    }

    /// The node daemon dies: actors and unsent reports are lost; the saved set and (unless
    /// the whole machine went) the agent's containers stay.
    pub(crate) fn crash(&mut self, machine: bool) {
        self.daemon_up = false;
        self.actors.clear();
        self.reports.clear();
        if machine {
            self.containers.clear();
        }
    }

    /// The node daemon starts again from its saved set.
    pub(crate) fn restart(&mut self, now: Tick) {
        self.daemon_up = true;
        let set = self.set.clone();
        self.apply(&set, now);
    }

    /// Makes the actors follow `set` (as `tasks::runner::Runner::apply`), and saves it.
    pub(crate) fn apply(&mut self, set: &NodeSet, now: Tick) {
        self.set = set.clone();
        if !self.daemon_up {
            return;
        }
        // Actors that ended (unassigned, container gone) are forgotten.
        self.actors.retain(|_, a| {
            !(a.told_unassigned && machine::container(&a.phase).is_none() && a.effect.is_none())
        });
        for (id, actor) in &mut self.actors {
            if !set.contains_key(id) && actor.order != Order::Unassigned {
                actor.order = Order::Unassigned;
                actor.order_changed = true;
            }
        }
        for (id, assignment) in set {
            let order = Order::Assigned(Box::new(assignment.clone()));
            if let Some(actor) = self.actors.get_mut(id) {
                if actor.order != order {
                    actor.order = order;
                    actor.order_changed = true;
                }
                continue;
            }
            let found = self.containers.get(id).map(|c| {
                let cid = container_id(id);
                match c.state {
                    Container::Created => Found::Created(cid),
                    Container::Running => Found::Running(cid),
                    Container::Exited(code) => Found::Exited(cid, code),
                }
            });
            let shutdown = assignment.desired_state == DesiredState::Shutdown;
            self.actors.insert(
                id.clone(),
                Actor {
                    assignment: assignment.clone(),
                    phase: Phase::New,
                    order,
                    order_changed: false,
                    told_shutdown: shutdown,
                    told_unassigned: false,
                    effect: None,
                    input: Some(Input::Begin {
                        found,
                        finished: assignment.finished,
                        shutdown,
                    }),
                },
            );
        }
        // Containers of tasks the node no longer knows at all are stopped and removed.
        let known: Vec<TaskId> = self.containers.keys().cloned().collect();
        for id in known {
            if !self.actors.contains_key(&id) && !set.contains_key(&id) {
                self.containers.remove(&id);
            }
        }
        let _ = now;
    }

    /// One tick of the daemon's actors and the agent: calls that answered feed the state
    /// machine, orders reach the actors where they wait, running containers may exit.
    pub(crate) fn tick(&mut self, now: Tick, stamp: Timestamp, dice: &mut impl Dice) {
        if !self.daemon_up {
            // The agent runs on: a container may still exit by itself.
            self.exits(dice);
            return;
        }
        self.exits(dice);
        let ids: Vec<TaskId> = self.actors.keys().cloned().collect();
        for id in ids {
            // A few steps per tick at most: each call takes at least a tick.
            for _ in 0..4 {
                if !self.advance(&id, now, stamp, dice) {
                    break;
                }
            }
        }
    }

    fn exits(&mut self, dice: &mut impl Dice) {
        for c in self.containers.values_mut() {
            if c.state == Container::Running && dice.chance(0.000_5) {
                c.state = Container::Exited(1);
            }
        }
    }

    /// Moves one actor by one step if it can; whether it did.
    fn advance(&mut self, id: &TaskId, now: Tick, stamp: Timestamp, dice: &mut impl Dice) -> bool {
        let slow = self.slow;
        let Some(actor) = self.actors.get_mut(id) else {
            return false;
        };
        let mut input = actor.input.take();
        if input.is_none() {
            match &actor.effect {
                // A pull or a wait gives way to a new order.
                Some((Effect::Pull | Effect::AwaitHealthy(_) | Effect::Wait(_), _)) | None
                    if actor.order_changed =>
                {
                    actor.order_changed = false;
                    let order = actor.order.clone();
                    if let Order::Assigned(a) = &order {
                        actor.assignment = (**a).clone();
                    }
                    if let Some(next) =
                        order_input(&order, &mut actor.told_shutdown, &mut actor.told_unassigned)
                    {
                        actor.effect = None;
                        input = Some(next);
                    }
                }
                _ => {}
            }
        }
        if input.is_none() {
            let Some((effect, due)) = actor.effect.clone() else {
                return false;
            };
            if due > now {
                return false;
            }
            let outcome = perform(&mut self.containers, &effect, &actor.assignment, dice);
            match outcome {
                Some(outcome) => {
                    actor.effect = None;
                    input = Some(outcome);
                }
                // A wait whose container still runs: keep waiting.
                None => return false,
            }
        }
        let Some(input) = input else {
            return false;
        };
        let actor = self.actors.get_mut(id).expect("the actor is there");
        let step = machine::step(actor.phase.clone(), input);
        actor.phase = step.phase;
        if let Some(report) = step.report
            && !actor.told_unassigned
        {
            self.reports.insert(id.clone(), status(id, report, stamp));
        }
        if let Order::Assigned(a) = &actor.order {
            actor.assignment = (**a).clone();
        }
        if let Some(effect) = step.effect {
            let (lo, hi) = match effect {
                Effect::Pull => (1, 3),
                Effect::Wait(_) => (0, 0),
                _ => (1, 1),
            };
            let mut delay = dice.ticks(lo, hi);
            if slow && !matches!(effect, Effect::Wait(_)) {
                delay *= dice.ticks(5, 20);
            }
            actor.effect = Some((effect, now + delay));
        }
        true
    }
}

/// The container id of a task on the simulated agent.
fn container_id(task: &TaskId) -> String {
    format!("c-{task}")
}

fn status(id: &TaskId, report: Report, stamp: Timestamp) -> StatusReport {
    StatusReport {
        task_id: id.clone(),
        status: TaskStatus {
            state: report.state,
            message: report.message,
            error: report.error,
            timestamp: stamp,
            exit_code: report.exit_code,
        },
    }
}

/// Makes `effect` on the agent (as `tasks::actor::perform` on the real one); the input its
/// outcome means, or `None` for a wait on a container that still runs.
fn perform(
    containers: &mut BTreeMap<TaskId, AgentContainer>,
    effect: &Effect,
    assignment: &Assignment,
    dice: &mut impl Dice,
) -> Option<Input> {
    let task = &assignment.task_id;
    Some(match effect {
        Effect::Pull if dice.chance(0.01) => Input::PullFailed("pull: registry unreachable".into()),
        Effect::Pull => Input::Pulled,
        Effect::Create => {
            containers.entry(task.clone()).or_insert(AgentContainer {
                service: assignment.service_id.clone(),
                slot: assignment.slot.clone(),
                state: Container::Created,
            });
            Input::Created(container_id(task))
        }
        Effect::Start(_) => match containers.get_mut(task) {
            Some(c) => {
                c.state = Container::Running;
                Input::Started
            }
            None => Input::Lost,
        },
        // Simulated containers have no healthcheck: they pass as soon as they run.
        Effect::AwaitHealthy(_) => match containers.get(task).map(|c| &c.state) {
            Some(Container::Exited(code)) => Input::Exited(*code),
            Some(_) => Input::Healthy,
            None => Input::Lost,
        },
        Effect::Wait(_) => match containers.get(task).map(|c| &c.state) {
            Some(Container::Exited(code)) => Input::Exited(*code),
            Some(_) => return None,
            None => Input::Lost,
        },
        Effect::Stop(_) => match containers.get_mut(task) {
            Some(c) => {
                if c.state == Container::Running {
                    c.state = Container::Exited(137);
                }
                Input::Stopped
            }
            None => Input::Lost,
        },
        Effect::Remove(_) => {
            containers.remove(task);
            Input::Removed
        }
    })
}
