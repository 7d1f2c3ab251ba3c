//! One pass of the leader's control loop as a function: a snapshot of the store and the time
//! in, the batches to commit and the time to run again out. Everything the pass decides is
//! computed on plain values with the pure swarm logic ([`swarm::reconcile`],
//! [`swarm::plan_update`], [`swarm::rebalance`], [`swarm::schedule`]), then turned into guarded store commands.

use std::collections::{BTreeMap, HashMap, HashSet};

use cluster_state::{Command, Record};
use orchestrator::swarm::{self, DesiredState, ServiceId, TaskId, Timestamp};

use super::diff;
use crate::networks::alloc::AddressBook;
use crate::networks::{ingress, vips};

/// Rebalance moves proposed per service and pass: a bounded number at a time.
pub const MAX_MOVES: usize = 2;

/// What a pass reads: the services and tasks as stored (with their versions), and every node
/// as the swarm logic sees it (liveness already resolved by the leader).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Service records.
    pub services: Vec<cluster_state::Service>,
    /// Task records.
    pub tasks: Vec<cluster_state::Task>,
    /// Nodes.
    pub nodes: Vec<swarm::Node>,
    /// Cluster networks (tasks get their addresses on them when assigned).
    pub networks: Vec<cluster_state::Network>,
}

impl Snapshot {
    /// The snapshot of `records`, with each node's liveness given by `status`.
    pub fn from_records(
        records: Vec<Record>,
        status: impl Fn(&cluster_state::Node) -> swarm::NodeStatus,
    ) -> Self {
        let mut snapshot = Snapshot::default();
        for record in records {
            match record {
                Record::Service(service) => snapshot.services.push(*service),
                Record::Task(task) => snapshot.tasks.push(*task),
                Record::Node(node) => {
                    let mut view = node.to_swarm();
                    view.status = status(&node);
                    snapshot.nodes.push(view);
                }
                Record::Network(network) => snapshot.networks.push(network),
                _ => {}
            }
        }
        snapshot
    }
}

/// What a pass decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Batches to commit, each on its own (one per service whose records change).
    pub batches: Vec<Vec<Command>>,
    /// Run again at this time even if the store does not change (a restart delay ends, a
    /// restart held back by max attempts becomes possible).
    pub wake_at: Option<Timestamp>,
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Decides one pass at `now`, naming new tasks with `next_id`.
///
/// For each service: its rolling update moves on ([`swarm::plan_update`]: the slots to
/// replace now, the update's next state; jobs handle their own versions), then the service is
/// reconciled and, when that changed nothing, rebalanced. Tasks of removed services are shut
/// down and forgotten once stopped, never placed, or lost with their node. Then every
/// unassigned task is scheduled.
pub fn plan(snapshot: &Snapshot, now: Timestamp, mut next_id: impl FnMut() -> TaskId) -> Plan {
    let mut tasks: Vec<swarm::Task> = snapshot.tasks.iter().map(|r| r.task.clone()).collect();
    let mut histories = BTreeMap::new();
    let mut services = BTreeMap::new();
    let mut wake_at = None;
    for record in &snapshot.services {
        let mut service = record.service.clone();
        let mut history = record.restarts.clone();
        let update = swarm::plan_update(&service, &tasks, now);
        wake_at = earliest(wake_at, update.reconciliation.requeue_at);
        swarm::apply_reconciliation(
            &service,
            &mut tasks,
            &mut history,
            &update.reconciliation,
            now,
            &mut next_id,
        );
        if let Some(next) = update.service {
            service = next;
        }
        let reconciliation = swarm::reconcile(&service, &tasks, &snapshot.nodes, &history, now);
        wake_at = earliest(wake_at, reconciliation.requeue_at);
        let at_rest = reconciliation.is_empty();
        swarm::apply_reconciliation(
            &service,
            &mut tasks,
            &mut history,
            &reconciliation,
            now,
            &mut next_id,
        );
        if at_rest {
            let moves = swarm::rebalance(&service, &tasks, &snapshot.nodes, MAX_MOVES, now);
            swarm::apply_reconciliation(
                &service,
                &mut tasks,
                &mut history,
                &moves,
                now,
                &mut next_id,
            );
        }
        histories.insert(service.id.clone(), history);
        if service != record.service {
            services.insert(service.id.clone(), service);
        }
    }
    forget_orphans(snapshot, &mut tasks);
    let schedule = swarm::schedule(&snapshot.nodes, &tasks, now);
    wake_at = earliest(wake_at, schedule.retry_at);
    swarm::apply_schedule(&mut tasks, &schedule, now);
    let (addresses, endpoints, ingress) = addresses(snapshot, &services, &tasks);
    let mut batches = diff::batches(
        snapshot,
        &tasks,
        &histories,
        &services,
        &addresses,
        &endpoints,
    );
    // The nodes' ingress addresses first: a task on the ingress network reaches its node
    // only once the node has its own address there.
    if let Some(network) = ingress {
        let version = network.meta.version;
        batches.insert(
            0,
            vec![Command::Update {
                expected_version: version,
                record: Record::Network(network),
            }],
        );
    }
    Plan { batches, wake_at }
}

/// Task attachments by task, services' endpoints by service, and the ingress network when
/// its nodes' addresses change.
type Addresses = (
    BTreeMap<TaskId, Vec<cluster_state::TaskAttachment>>,
    BTreeMap<ServiceId, cluster_state::ServiceEndpoint>,
    Option<cluster_state::Network>,
);

/// The addresses given in this pass, from one address book that holds every address a task
/// or service record holds (and those given earlier in the pass), so that no two tasks or
/// services share one: first each node's address on the ingress network
/// ([`ingress::node_addresses`], every node of the cluster), then each service's virtual
/// addresses ([`vips::wanted`] on its spec as this pass leaves it; only the services whose
/// set changes are returned), then one address on each network (the ingress network included
/// for a service publishing a port there) for every task that reaches a node in this pass.
fn addresses(
    snapshot: &Snapshot,
    services: &BTreeMap<ServiceId, swarm::Service>,
    tasks: &[swarm::Task],
) -> Addresses {
    let mut out = BTreeMap::new();
    let mut endpoints = BTreeMap::new();
    if snapshot.networks.is_empty() {
        return (out, endpoints, None);
    }
    let records: HashMap<&TaskId, &cluster_state::Task> =
        snapshot.tasks.iter().map(|r| (&r.task.id, r)).collect();
    let mut book = AddressBook::new(
        &snapshot.networks,
        snapshot.tasks.iter().flat_map(|r| &r.networks),
    );
    for record in &snapshot.services {
        vips::hold(&mut book, &record.endpoint);
    }
    let mut ingress_update = None;
    if let Some(network) = ingress::find(&snapshot.networks) {
        ingress::hold_nodes(&mut book, network);
        let nodes = ingress::node_addresses(
            network,
            snapshot.nodes.iter().map(|n| n.id.as_str()),
            &mut book,
        );
        if network.ingress.as_ref() != Some(&nodes) {
            let mut updated = network.clone();
            updated.ingress = Some(nodes);
            ingress_update = Some(updated);
        }
    }
    for record in &snapshot.services {
        let service = services.get(&record.service.id).unwrap_or(&record.service);
        let wanted = vips::wanted(&service.spec, &record.endpoint, &mut book);
        if wanted != record.endpoint {
            endpoints.insert(record.service.id.clone(), wanted);
        }
    }
    for task in tasks {
        let placed = task.node.is_some() && task.is_desired_running();
        let has = records
            .get(&task.id)
            .is_some_and(|r| !r.networks.is_empty());
        let wanted = ingress::networks_of(&task.spec);
        if !placed || has || wanted.is_empty() {
            continue;
        }
        let (attachments, failed) = book.allocate(&wanted);
        if !failed.is_empty() {
            tracing::warn!(task = %task.id, networks = ?failed, "no address for the task on these networks (gone or full)");
        }
        if !attachments.is_empty() {
            out.insert(task.id.clone(), attachments);
        }
    }
    (out, endpoints, ingress_update)
}

/// Tasks whose service is gone: wanted shut down; forgotten once stopped, never placed, or
/// on a node that is down or gone (no report will come).
fn forget_orphans(snapshot: &Snapshot, tasks: &mut Vec<swarm::Task>) {
    let services: HashSet<&ServiceId> = snapshot.services.iter().map(|s| &s.service.id).collect();
    let nodes: HashMap<&swarm::NodeId, &swarm::Node> =
        snapshot.nodes.iter().map(|n| (&n.id, n)).collect();
    tasks.retain_mut(|task| {
        if services.contains(&task.service_id) {
            return true;
        }
        task.desired_state = DesiredState::Shutdown;
        let lost = task
            .node
            .as_ref()
            .is_some_and(|n| nodes.get(n).is_none_or(|node| node.is_down()));
        !(task.is_removable() || lost)
    });
}
