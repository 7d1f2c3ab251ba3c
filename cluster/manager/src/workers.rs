//! The managers' side of worker daemons: heartbeats (liveness and the node's own record),
//! marking silent workers down, and completing a promotion the operator asked for (manager
//! certificate, a never-used raft id, the conf change that adds the node).

// Public only to the simulation (the `testing` feature).
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::{Request, Response, Status};

use super::admin::{cluster_info, commit, decode_records, leader_or_forward, read_record};
use super::driver::{Query, RaftHandle, Refused};
use super::proto;
use super::service::{ManagerService, Need, forwarded, status_of};
use crate::pki::{ClusterCa, role_name};
use crate::roster::{Brief, Roster};
use cluster_raft::MembershipChange;
use cluster_state::{Batch, Command, Kind, Node, NodeRole, NodeState, Record, RecordKey};

/// How often a worker's daemon reports itself.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// A heartbeat not answered within this time fails, and the worker moves to the next
/// manager: short enough that a worker whose manager died or was cut off reaches another
/// well within [`DOWN_AFTER`].
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);
/// A worker silent this long (six heartbeats) is marked down by the leader.
pub const DOWN_AFTER: Duration = Duration::from_secs(3);
/// After a leader change, the time a worker has to reach the new leader before it is marked
/// down: the workers of the old leader find another manager only when their heartbeats to it
/// time out, a thousand of them then open sessions together, and a node marked down for that
/// alone would have its tasks moved for nothing. Swarm gives them several heartbeat periods
/// too.
pub const FAILOVER_GRACE: Duration = Duration::from_secs(9);
/// How often the leader looks for silent workers.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// When the leader last heard from each worker. A std mutex: held only to read or update
/// the map, never across an await.
#[derive(Debug)]
pub struct Liveness {
    inner: std::sync::Mutex<LivenessInner>,
}

#[derive(Debug)]
struct LivenessInner {
    heard: HashMap<String, Instant>,
    /// When this manager last became leader: a worker not heard since is given
    /// [`FAILOVER_GRACE`] from then before it counts as silent for [`DOWN_AFTER`].
    since: Instant,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            inner: std::sync::Mutex::new(LivenessInner {
                heard: HashMap::new(),
                since: Instant::now(),
            }),
        }
    }
}

impl Liveness {
    fn lock(&self) -> std::sync::MutexGuard<'_, LivenessInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a sign of life from `node`.
    pub fn heard(&self, node: &str) {
        self.lock().heard.insert(node.to_owned(), Instant::now());
    }

    /// Whether `node` reported at or after `since`.
    pub fn heard_since(&self, node: &str, since: Instant) -> bool {
        self.lock().heard.get(node).is_some_and(|at| *at >= since)
    }

    /// Starts counting afresh (this manager just became leader).
    fn reset(&self) {
        let mut inner = self.lock();
        inner.heard.clear();
        inner.since = Instant::now();
    }

    /// How long `node` has been silent: since it was last heard, or, not heard since this
    /// manager became leader, for as long as it has used of [`FAILOVER_GRACE`] beyond
    /// [`DOWN_AFTER`] (so that it reaches [`DOWN_AFTER`] once the grace is over).
    fn silent_for(&self, node: &str) -> Duration {
        let inner = self.lock();
        match inner.heard.get(node) {
            Some(at) => at.elapsed(),
            None => inner
                .since
                .elapsed()
                .saturating_sub(FAILOVER_GRACE.saturating_sub(DOWN_AFTER)),
        }
    }
}

/// The node a worker request speaks for: the certificate's, unless a manager forwarded the
/// request on a worker's behalf (then the id in the request).
async fn caller_node<T>(
    service: &ManagerService,
    request: &Request<T>,
    claimed: &str,
) -> Result<String, Status> {
    let identity = service.authorize(request, Need::Node).await?;
    if forwarded(request) && identity.role == NodeRole::Manager && !claimed.is_empty() {
        return Ok(claimed.to_owned());
    }
    Ok(identity.node_id)
}

/// The node record `id`, or the refusal a removed node gets.
async fn own_record(service: &ManagerService, id: &str) -> Result<Node, Status> {
    let key = RecordKey::new(Kind::Node, id);
    match read_record(service, key).await? {
        Some(Record::Node(node)) => Ok(node),
        _ => Err(super::service::removed(id)),
    }
}

/// The node record `id` as this manager — the leader — applied it, without a consensus
/// round: every worker reports every [`HEARTBEAT_INTERVAL`], and a ReadIndex round per
/// heartbeat made a thousand nodes cost the managers more than their raft heartbeats could
/// bear. A leader's applied state lags its commits by moments; a record read a beat late only
/// delays a promotion or a mark-ready by a heartbeat. A record missing there (a new leader
/// still applying the join) is looked up with a consensus read before the node is told it
/// was removed.
async fn own_record_applied(service: &ManagerService, id: &str) -> Result<Node, Status> {
    let key = RecordKey::new(Kind::Node, id);
    let (data, _) = service
        .raft
        .local_read(Query::Key(key))
        .await
        .map_err(status_of)?;
    match decode_records(&data)?.pop() {
        Some(Record::Node(node)) => Ok(node),
        _ => own_record(service, id).await,
    }
}

fn update(node: Node) -> Command {
    let version = node.meta.version;
    Command::Update {
        record: Record::Node(node),
        expected_version: version,
    }
}

/// A worker's daemon reports itself: the leader notes it alive (marking it ready again if it
/// was down) and answers with the node's record and the managers' addresses.
///
/// A leader answers a node its applied store holds as not down from the roster alone, with
/// no call to the raft thread: a thousand nodes send two heartbeats a second each, and while
/// the raft thread writes, sends and applies a batch of thousands of tasks, heartbeats that
/// wait on it time out and their nodes move to another manager for nothing.
pub(super) async fn heartbeat(
    service: &ManagerService,
    request: Request<proto::HeartbeatRequest>,
) -> Result<Response<proto::HeartbeatResponse>, Status> {
    let node_id = caller_node(service, &request, &request.get_ref().node_id).await?;
    // Heard before anything waits on the raft thread: while it is busy, the heartbeats it
    // delays must not make the liveness watch take live nodes for silent. A leader that lost
    // its leadership meanwhile only notes a heartbeat nobody reads.
    let progress = *service.raft.progress().borrow();
    let heard = progress.leader;
    let roster = service.raft.roster();
    if heard {
        service.liveness.heard(&node_id);
        if let Some(brief) = roster.brief(&node_id)
            && brief.state != NodeState::Down
        {
            return Ok(Response::new(answer(brief, roster.manager_addrs())));
        }
    }
    // A follower forwards to the leader it knows of without asking its raft thread either
    // (busy applying a large batch, it would hold the heartbeat past its timeout).
    let known_leader = progress
        .leader_id
        .filter(|_| !heard && !forwarded(&request))
        .and_then(|id| roster.manager_addrs().get(&id).cloned());
    let forward_to = match known_leader {
        Some(addr) => Some(service.client(&addr)?),
        None => leader_or_forward(service, &request).await?,
    };
    if let Some(mut client) = forward_to {
        let inner = proto::HeartbeatRequest { node_id };
        return client
            .heartbeat(ManagerService::forward_request(inner))
            .await;
    }
    if !heard {
        service.liveness.heard(&node_id);
    }
    let node = own_record_applied(service, &node_id).await?;
    if let Some(ready) = marked_ready(&node) {
        // A concurrent change of the record wins; the next heartbeat tries again.
        match service.raft.write(Batch::new(0, vec![ready])).await {
            Ok(_) => tracing::info!(node = %node_id, "node is ready again"),
            Err(refused) => {
                tracing::debug!(node = %node_id, cause = %refused, "cannot mark node ready");
            }
        }
    }
    let brief = Brief {
        role: node.role,
        raft_id: node.raft_id,
        desired_role: node.desired_role,
        state: node.state,
    };
    Ok(Response::new(answer(brief, service.raft.roster().manager_addrs())))
}

/// The heartbeat answer for a node whose record says `brief`.
fn answer(brief: Brief, managers: &BTreeMap<u64, String>) -> proto::HeartbeatResponse {
    proto::HeartbeatResponse {
        role: role_name(brief.role).to_owned(),
        raft_id: brief.raft_id.unwrap_or_default(),
        promote: brief.role == NodeRole::Manager || brief.desired_role == Some(NodeRole::Manager),
        managers: managers.clone().into_iter().collect(),
    }
}

/// A worker marked for promotion takes the manager role: it gets a manager certificate and
/// the next raft id (never one used before), its record becomes a manager's, and the leader
/// adds it through a conf change. Asked again (the worker lost the answer), it answers with
/// the same raft id, adding the node if the conf change did not happen.
pub(super) async fn promote(
    service: &ManagerService,
    request: Request<proto::PromoteRequest>,
) -> Result<Response<proto::PromoteResponse>, Status> {
    let node_id = caller_node(service, &request, &request.get_ref().node_id).await?;
    if let Some(mut client) = leader_or_forward(service, &request).await? {
        let mut inner = request.into_inner();
        inner.node_id = node_id;
        return client.promote(ManagerService::forward_request(inner)).await;
    }
    let _guard = service.admin_lock.lock().await;
    let node = own_record(service, &node_id).await?;
    let info = cluster_info(service).await?;
    let raft_id = match (node.role, node.raft_id) {
        (NodeRole::Manager, Some(raft_id)) => raft_id,
        (NodeRole::Worker, _) if node.desired_role == Some(NodeRole::Manager) => {
            let raft_id = info.next_raft_id;
            let mut next = info.clone();
            next.next_raft_id += 1;
            let mut promoted = node.clone();
            promoted.role = NodeRole::Manager;
            promoted.raft_id = Some(raft_id);
            promoted.desired_role = None;
            let commands = vec![
                Command::Update {
                    record: Record::Cluster(next),
                    expected_version: info.meta.version,
                },
                update(promoted),
            ];
            commit(service, commands).await?;
            raft_id
        }
        _ => {
            return Err(Status::failed_precondition(format!(
                "node {node_id} is not marked for promotion (run `bosun node promote` on a manager)"
            )));
        }
    };
    let view = service.raft.status().await.map_err(status_of)?;
    if !view.status.voters.contains(&raft_id) {
        add_manager(&service.raft, raft_id).await?;
    }
    let ca = ClusterCa {
        cert_pem: info.ca_cert_pem.clone(),
        key_pem: info.ca_key_pem.clone(),
    };
    let cert_pem = ca
        .sign(
            &request.get_ref().csr_pem,
            &node_id,
            NodeRole::Manager,
            info.cert_validity(),
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    tracing::info!(node = %node_id, raft_id, "worker promoted to manager");
    Ok(Response::new(proto::PromoteResponse {
        raft_id,
        cert_pem,
        ca_pem: info.ca_cert_pem,
        managers: service.raft.roster().manager_addrs().clone().into_iter().collect(),
        seal_key: service
            .seal_key
            .as_ref()
            .map(|key| key.to_bytes())
            .unwrap_or_default(),
    }))
}

/// Proposes adding manager `raft_id`, retrying while another membership change is in flight.
async fn add_manager(raft: &RaftHandle, raft_id: u64) -> Result<(), Status> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match raft.membership(MembershipChange::AddManager(raft_id)).await {
            Ok(_) => return Ok(()),
            Err(Refused::Propose(cluster_raft::ProposeError::MembershipBusy))
            | Err(Refused::Write(cluster_raft::WriteError::MembershipDropped))
                if Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(refused) => return Err(status_of(refused)),
        }
    }
}

/// The updates that mark down every ready worker in `records` silent for `down_after` or
/// longer (`silent_for` says how long a node has been silent), one command per node.
pub fn marked_down(
    records: Vec<Record>,
    silent_for: impl Fn(&str) -> Duration,
    down_after: Duration,
) -> Vec<Command> {
    records
        .into_iter()
        .filter_map(|record| match record {
            Record::Node(node)
                if node.raft_id.is_none()
                    && node.state == NodeState::Ready
                    && silent_for(&node.meta.id) >= down_after =>
            {
                tracing::info!(node = %node.meta.id, "no heartbeat: node is down");
                let mut down = node;
                down.state = NodeState::Down;
                Some(update(down))
            }
            _ => None,
        })
        .collect()
}

/// The update that marks `node` ready again when it reports while marked down.
pub fn marked_ready(node: &Node) -> Option<Command> {
    (node.state == NodeState::Down).then(|| {
        let mut ready = node.clone();
        ready.state = NodeState::Ready;
        update(ready)
    })
}

/// While this manager leads, marks down every worker silent for [`DOWN_AFTER`]; runs until
/// the raft thread stops. Which workers are silent comes from memory (the applied roster and
/// the heartbeats heard), so an idle fleet costs no store read; only the records of workers
/// newly silent are read (with consensus, so the mark-down is decided on their current state),
/// and a worker seen down is not read again until it is heard from.
pub(super) async fn watch_liveness(raft: RaftHandle, liveness: Arc<Liveness>) {
    let mut leading = false;
    let mut seen_down: HashMap<String, Instant> = HashMap::new();
    // Since when this manager leads, until every worker not down has been heard from since.
    let mut awaiting_all: Option<Instant> = None;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let view = match raft.status().await {
            Ok(view) => view,
            Err(_) => return,
        };
        let leads = view.status.leader == Some(view.status.id);
        if leads && !leading {
            liveness.reset();
            seen_down.clear();
            awaiting_all = Some(Instant::now());
        }
        leading = leads;
        if !leads {
            continue;
        }
        let roster = raft.roster();
        if let Some(since) = awaiting_all
            && let Some(workers) = all_heard_since(&roster, &liveness, since)
        {
            // What a failover costs the nodes: how long until every live one reached the new
            // leader (directly or forwarded by a follower). `bench/fleet.sh` reads this line.
            tracing::info!(
                workers,
                after_ms = since.elapsed().as_millis() as u64,
                "every worker not down heard from since this manager leads"
            );
            awaiting_all = None;
        }
        let silent = newly_silent(
            roster.workers(),
            |node| liveness.silent_for(node),
            |node, since| liveness.heard_since(node, since),
            DOWN_AFTER,
            &mut seen_down,
        );
        if silent.is_empty() {
            continue;
        }
        // A read lost to a leadership change never answers: bounded, like every call here.
        let asked = Instant::now();
        let read = tokio::time::timeout(DOWN_AFTER, raft.read_records(Query::Keys(silent))).await;
        let Ok(Ok((records, _))) = read else {
            continue;
        };
        for record in &records {
            if let Record::Node(node) = record
                && node.state == NodeState::Down
            {
                seen_down.insert(node.meta.id.clone(), asked);
            }
        }
        // One batch per node, so that a node that changed meanwhile does not hold up the
        // others; all proposed together, so that a hundred nodes lost at once are marked down
        // in one raft round rather than a hundred in a row.
        let asked = Instant::now();
        let mut writes = tokio::task::JoinSet::new();
        for command in marked_down(records, |node| liveness.silent_for(node), DOWN_AFTER) {
            let Command::Update {
                record: Record::Node(node),
                ..
            } = &command
            else {
                continue;
            };
            let id = node.meta.id.clone();
            let raft = raft.clone();
            writes.spawn(async move {
                let write = raft.write(Batch::new(0, vec![command]));
                let written = matches!(tokio::time::timeout(DOWN_AFTER, write).await, Ok(Ok(_)));
                (id, written)
            });
        }
        while let Some(done) = writes.join_next().await {
            if let Ok((id, true)) = done {
                seen_down.insert(id, asked);
            }
        }
    }
}

/// The number of workers `roster` holds as not down, when `liveness` heard from every one
/// of them at or after `since`.
fn all_heard_since(roster: &Roster, liveness: &Liveness, since: Instant) -> Option<usize> {
    let mut count = 0;
    for worker in roster.workers() {
        if roster.brief(worker).is_some_and(|b| b.state == NodeState::Down) {
            continue;
        }
        if !liveness.heard_since(worker, since) {
            return None;
        }
        count += 1;
    }
    Some(count)
}

/// The keys of the `workers` silent for `down_after` whose record is not known to be down:
/// those not in `seen_down`, and those seen down at a time they were heard from since
/// (`heard_since`: marked ready again by a heartbeat, then silent again before this watch
/// looked). A worker heard from since it was seen down, or no longer a worker, leaves
/// `seen_down`.
pub fn newly_silent<'a>(
    workers: impl Iterator<Item = &'a str>,
    silent_for: impl Fn(&str) -> Duration,
    heard_since: impl Fn(&str, Instant) -> bool,
    down_after: Duration,
    seen_down: &mut HashMap<String, Instant>,
) -> Vec<RecordKey> {
    let mut keys = Vec::new();
    let mut still_down = HashMap::new();
    for worker in workers {
        if silent_for(worker) < down_after {
            continue;
        }
        match seen_down.get(worker) {
            Some(at) if !heard_since(worker, *at) => {
                still_down.insert(worker.to_owned(), *at);
            }
            _ => keys.push(RecordKey::new(Kind::Node, worker)),
        }
    }
    *seen_down = still_down;
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_not_down_heard_since_counts_only_once_all_were() {
        let mut down = crate::roster::tests::node("dead", NodeRole::Worker, None);
        if let Record::Node(node) = &mut down {
            node.state = NodeState::Down;
        }
        let store = cluster_state::Store::from_records([
            crate::roster::tests::node("boss", NodeRole::Manager, None),
            crate::roster::tests::node("w1", NodeRole::Worker, None),
            crate::roster::tests::node("w2", NodeRole::Worker, None),
            down,
        ]);
        let roster = Roster::from_store(&store);
        let liveness = Liveness::default();
        liveness.heard("w1");
        std::thread::sleep(Duration::from_millis(2));
        let since = Instant::now();
        // Heard before the leadership began: not counted.
        assert_eq!(all_heard_since(&roster, &liveness, since), None);
        liveness.heard("w1");
        assert_eq!(all_heard_since(&roster, &liveness, since), None);
        liveness.heard("w2");
        // The down worker and the manager are not waited for.
        assert_eq!(all_heard_since(&roster, &liveness, since), Some(2));
    }

    #[test]
    fn only_workers_newly_silent_are_read_until_heard_again() {
        let workers = ["quiet", "talks", "down"];
        let silence = |quiet: u64, down: u64| {
            move |node: &str| {
                Duration::from_secs(match node {
                    "quiet" => quiet,
                    "down" => down,
                    _ => 0,
                })
            }
        };
        let at = Instant::now();
        let never = |_: &str, _: Instant| false;
        let mut seen_down = HashMap::from([("down".to_owned(), at), ("gone".to_owned(), at)]);
        let keys = newly_silent(
            workers.into_iter(),
            silence(5, 9),
            never,
            DOWN_AFTER,
            &mut seen_down,
        );
        assert_eq!(keys, [RecordKey::new(Kind::Node, "quiet")]);
        assert_eq!(seen_down, HashMap::from([("down".to_owned(), at)]));

        // "down" heard from again: forgotten, so its next silence is read again.
        let keys = newly_silent(
            workers.into_iter(),
            silence(1, 1),
            never,
            DOWN_AFTER,
            &mut seen_down,
        );
        assert!(keys.is_empty());
        assert!(seen_down.is_empty());
        let keys = newly_silent(
            workers.into_iter(),
            silence(1, 4),
            never,
            DOWN_AFTER,
            &mut seen_down,
        );
        assert_eq!(keys, [RecordKey::new(Kind::Node, "down")]);
    }

    #[test]
    fn a_worker_seen_down_then_heard_and_silent_again_before_a_look_is_read_again() {
        // Seen down; a heartbeat marks it ready again and it dies, all between two looks of
        // the watch (one look can take seconds while raft is busy): it is silent at both
        // looks, but heard since it was seen down, so its record is read again.
        let at = Instant::now();
        let mut seen_down = HashMap::from([("flaps".to_owned(), at)]);
        let silent = |_: &str| DOWN_AFTER * 2;
        let keys = newly_silent(
            ["flaps"].into_iter(),
            silent,
            |_, since| since == at,
            DOWN_AFTER,
            &mut seen_down,
        );
        assert_eq!(keys, [RecordKey::new(Kind::Node, "flaps")]);
        assert!(seen_down.is_empty());
        // Not heard since: still known down, not read.
        let mut seen_down = HashMap::from([("flaps".to_owned(), at)]);
        let keys = newly_silent(
            ["flaps"].into_iter(),
            silent,
            |_, _| false,
            DOWN_AFTER,
            &mut seen_down,
        );
        assert!(keys.is_empty());
        assert_eq!(seen_down.len(), 1);
    }
}
