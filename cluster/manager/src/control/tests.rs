// Tests unwrap like the tests they are.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_state::{
    Availability, Batch, Command, Kind, Meta, Node, NodeRole, NodeState, Record, Store,
};
use orchestrator::swarm::{
    self, DesiredState, Mode, NodeStatus, ServiceSpec, TaskId, TaskState, Timestamp,
};

use super::*;

/// A store in memory: commits apply like the raft thread's, and a hook may change the store
/// between a pass's read and its commits (a concurrent writer).
struct FakeStore {
    store: Mutex<(Store, u64)>,
    before_commit: Mutex<Option<Batch>>,
    commits: Mutex<Vec<Vec<Command>>>,
}

impl FakeStore {
    fn new(records: Vec<Record>) -> Self {
        let store = FakeStore {
            store: Mutex::new((Store::new(), 0)),
            before_commit: Mutex::new(None),
            commits: Mutex::new(Vec::new()),
        };
        store
            .apply(Batch::new(
                1,
                records.into_iter().map(Command::Create).collect(),
            ))
            .unwrap();
        store
    }

    fn apply(&self, batch: Batch) -> Result<u64, Refused> {
        let mut guard = self.store.lock().unwrap();
        guard.1 += 1;
        let index = guard.1;
        guard
            .0
            .apply(index, &batch)
            .map(|_| index)
            .map_err(|e| Refused::Write(cluster_raft::WriteError::Refused(e)))
    }

    fn tasks(&self) -> Vec<swarm::Task> {
        let guard = self.store.lock().unwrap();
        guard
            .0
            .iter_kind(Kind::Task)
            .filter_map(|r| match r {
                Record::Task(t) => Some(t.task.clone()),
                _ => None,
            })
            .collect()
    }

    fn service(&self, id: &str) -> cluster_state::Service {
        let guard = self.store.lock().unwrap();
        match guard
            .0
            .get(&cluster_state::RecordKey::new(Kind::Service, id))
        {
            Some(Record::Service(s)) => (**s).clone(),
            other => panic!("no service {id}: {other:?}"),
        }
    }
}

impl StoreView for FakeStore {
    async fn snapshot(&self) -> Result<Vec<Record>, Refused> {
        Ok(self.store.lock().unwrap().0.iter().cloned().collect())
    }

    async fn commit(&self, commands: Vec<Command>) -> Result<u64, Refused> {
        let concurrent = self.before_commit.lock().unwrap().take();
        if let Some(batch) = concurrent {
            self.apply(batch).unwrap();
        }
        self.commits.lock().unwrap().push(commands.clone());
        self.apply(Batch::new(7, commands))
    }
}

fn node(id: &str, raft_id: Option<u64>) -> Record {
    Record::Node(Node {
        meta: Meta {
            id: id.into(),
            ..Meta::default()
        },
        hostname: id.into(),
        addr: format!("{id}:4242"),
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

fn service(id: &str, replicas: u64) -> Record {
    let spec = ServiceSpec {
        image: "nginx".into(),
        mode: Mode::Replicated { replicas },
        ..ServiceSpec::default()
    };
    Record::Service(Box::new(cluster_state::Service::new(swarm::Service::new(
        id.into(),
        id,
        spec,
        Timestamp(0),
    ))))
}

fn ids() -> impl FnMut() -> TaskId {
    let mut n = 0;
    move || {
        n += 1;
        TaskId(format!("t{n:03}"))
    }
}

/// Task ids counting on from `counter`, which keeps its place from one pass to the next.
fn ids_after(counter: &Arc<AtomicU64>) -> impl FnMut() -> TaskId + Send + 'static {
    let counter = Arc::clone(counter);
    move || TaskId(format!("t{:03}", counter.fetch_add(1, Ordering::Relaxed) + 1))
}

fn ready(_: &Node) -> NodeStatus {
    NodeStatus::Ready
}

fn three_nodes() -> Vec<Record> {
    vec![node("n1", None), node("n2", None), node("n3", None)]
}

fn per_node(tasks: &[swarm::Task]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.is_desired_running()) {
        let node = task
            .node
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        *counts.entry(node).or_default() += 1;
    }
    counts
}

/// Marks every assigned task running, as the nodes would report.
fn report_running(store: &FakeStore) {
    let records: Vec<Command> = {
        let guard = store.store.lock().unwrap();
        guard
            .0
            .iter_kind(Kind::Task)
            .filter_map(|r| match r {
                Record::Task(t)
                    if t.task.status.state == TaskState::Assigned
                        && t.task.is_desired_running() =>
                {
                    let mut t = (**t).clone();
                    t.task.status.state = TaskState::Running;
                    Some(Command::Update {
                        expected_version: t.meta.version,
                        record: Record::Task(Box::new(t)),
                    })
                }
                _ => None,
            })
            .collect()
    };
    store.apply(Batch::new(9, records)).unwrap();
}

#[tokio::test]
async fn a_new_service_is_created_and_placed_in_one_guarded_batch_then_nothing_more() {
    let mut records = three_nodes();
    records.push(service("web", 6));
    let store = FakeStore::new(records);
    let outcome = pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    assert_eq!((outcome.committed, outcome.refused), (1, 0));
    let commits = store.commits.lock().unwrap().clone();
    let batch = &commits[0];
    // The service record at the version read guards the creations.
    assert!(matches!(
        &batch[0],
        Command::Update {
            record: Record::Service(_),
            expected_version: 1
        }
    ));
    assert_eq!(batch.len(), 7);
    let tasks = store.tasks();
    assert_eq!(tasks.len(), 6);
    assert!(tasks.iter().all(|t| t.status.state == TaskState::Assigned));
    assert_eq!(
        per_node(&tasks).values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2]
    );
    let slots: BTreeSet<_> = tasks.iter().map(|t| t.slot.clone()).collect();
    assert_eq!(slots.len(), 6);

    // Its own output decided again is nothing.
    let again = pass(&store, ready, Timestamp(1_100), ids()).await.unwrap();
    assert_eq!(again.committed, 0);
}

#[tokio::test]
async fn a_batch_decided_before_a_concurrent_scale_is_refused_whole_and_decided_again() {
    let mut records = three_nodes();
    records.push(service("web", 3));
    let store = FakeStore::new(records);
    // Between the pass's read and its commit, the service is scaled to 1.
    let mut scaled = store.service("web");
    let version = scaled.meta.version;
    scaled.service.spec.mode = Mode::Replicated { replicas: 1 };
    *store.before_commit.lock().unwrap() = Some(Batch::new(
        5,
        vec![Command::Update {
            expected_version: version,
            record: Record::Service(Box::new(scaled)),
        }],
    ));
    let outcome = pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    assert_eq!((outcome.committed, outcome.refused), (0, 1));
    assert!(
        store.tasks().is_empty(),
        "nothing of the stale batch applied"
    );
    let outcome = pass(&store, ready, Timestamp(1_100), ids()).await.unwrap();
    assert_eq!(outcome.committed, 1);
    assert_eq!(store.tasks().len(), 1);
}

#[tokio::test]
async fn scaling_down_shuts_down_and_an_update_of_parallelism_0_replaces_every_task() {
    let mut records = three_nodes();
    records.push(service("web", 4));
    let store = FakeStore::new(records);
    pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    report_running(&store);

    let mut updated = store.service("web");
    let version = updated.meta.version;
    updated.service.spec.mode = Mode::Replicated { replicas: 2 };
    updated.service.spec.image = "nginx:2".into();
    updated.service.spec.update_config.parallelism = 0;
    updated.service.spec_version = 2;
    store
        .apply(Batch::new(
            5,
            vec![Command::Update {
                expected_version: version,
                record: Record::Service(Box::new(updated)),
            }],
        ))
        .unwrap();
    let next = Arc::new(AtomicU64::new(100));
    pass(&store, ready, Timestamp(2_000), ids_after(&next))
        .await
        .unwrap();
    let tasks = store.tasks();
    let running: Vec<_> = tasks.iter().filter(|t| t.is_desired_running()).collect();
    assert_eq!(running.len(), 2, "{tasks:#?}");
    assert!(
        running
            .iter()
            .all(|t| t.spec_version == 2 && t.spec.image == "nginx:2" && t.node.is_some())
    );
    let old: Vec<_> = tasks.iter().filter(|t| t.spec_version == 1).collect();
    assert_eq!(old.len(), 4);
    assert!(
        old.iter()
            .all(|t| t.desired_state == DesiredState::Shutdown)
    );
}

#[tokio::test]
async fn an_update_replaces_one_slot_at_a_time_and_stores_its_progress() {
    let mut records = three_nodes();
    records.push(service("web", 3));
    let store = FakeStore::new(records);
    pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    report_running(&store);

    let mut updated = store.service("web");
    let version = updated.meta.version;
    updated.service.previous_spec = Some(updated.service.spec.clone());
    updated.service.spec.image = "nginx:2".into();
    updated.service.spec_version = 2;
    swarm::update::request::begin(&mut updated.service, false, Timestamp(2_000));
    store
        .apply(Batch::new(
            5,
            vec![Command::Update {
                expected_version: version,
                record: Record::Service(Box::new(updated)),
            }],
        ))
        .unwrap();
    let next = Arc::new(AtomicU64::new(100));
    let mut now = 2_000;
    for round in 1..=3 {
        pass(&store, ready, Timestamp(now), ids_after(&next))
            .await
            .unwrap();
        let tasks = store.tasks();
        let new = tasks.iter().filter(|t| t.spec.image == "nginx:2").count();
        assert_eq!(new, round, "one more slot per pass: {tasks:#?}");
        let old_stopping = tasks
            .iter()
            .filter(|t| t.spec.image == "nginx" && !t.is_desired_running())
            .count();
        assert_eq!(old_stopping, round);
        let status = store.service("web").service.update_status.unwrap();
        assert_eq!(status.state, swarm::UpdateState::Updating);
        assert_eq!(status.progress.in_flight.len(), 1);
        assert_eq!(status.progress.done.len(), round - 1);
        // The new task runs; it counts once the monitor period (5 s) passed.
        report_running(&store);
        now += 6_000;
    }
    pass(&store, ready, Timestamp(now), ids_after(&next))
        .await
        .unwrap();
    let status = store.service("web").service.update_status.unwrap();
    assert_eq!(status.state, swarm::UpdateState::Completed);
    assert_eq!(status.completed_at, Some(Timestamp(now)));
    assert_eq!(status.progress.done.len(), 3);
}

#[tokio::test]
async fn a_removed_services_tasks_are_shut_down_then_forgotten_once_stopped() {
    let mut records = three_nodes();
    records.push(service("web", 2));
    let store = FakeStore::new(records);
    pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    report_running(&store);
    let web = store.service("web");
    store
        .apply(Batch::new(
            5,
            vec![Command::Delete {
                key: cluster_state::RecordKey::new(Kind::Service, "web"),
                expected_version: Some(web.meta.version),
            }],
        ))
        .unwrap();
    pass(&store, ready, Timestamp(2_000), ids()).await.unwrap();
    let tasks = store.tasks();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|t| t.desired_state == DesiredState::Shutdown)
    );

    // The nodes report them stopped: they go.
    let stopped: Vec<Command> = {
        let guard = store.store.lock().unwrap();
        guard
            .0
            .iter_kind(Kind::Task)
            .filter_map(|r| match r {
                Record::Task(t) => {
                    let mut t = (**t).clone();
                    t.task.status.state = TaskState::Shutdown;
                    Some(Command::Update {
                        expected_version: t.meta.version,
                        record: Record::Task(Box::new(t)),
                    })
                }
                _ => None,
            })
            .collect()
    };
    store.apply(Batch::new(9, stopped)).unwrap();
    pass(&store, ready, Timestamp(3_000), ids()).await.unwrap();
    assert!(store.tasks().is_empty());
}

#[tokio::test]
async fn tasks_that_fit_nowhere_stay_pending_with_the_exact_reason() {
    let mut records = vec![node("n1", None)];
    let mut web = service("web", 1);
    if let Record::Service(s) = &mut web {
        s.service.spec.placement.constraints = vec!["node.labels.zone==east".parse().unwrap()];
    }
    records.push(web);
    let store = FakeStore::new(records);
    pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    let tasks = store.tasks();
    assert_eq!(tasks[0].status.state, TaskState::Pending);
    assert_eq!(
        tasks[0].status.message,
        "no suitable node (1 node: constraint node.labels.zone==east not met on 1)"
    );
    // Unchanged reason: nothing to commit.
    let again = pass(&store, ready, Timestamp(1_100), ids()).await.unwrap();
    assert_eq!(again.committed, 0);
}

#[test]
fn silent_workers_and_unreachable_managers_are_unknown_during_their_grace() {
    let start = Instant::now();
    let reachable: BTreeSet<u64> = [1].into();
    let Record::Node(worker) = node("w1", None) else {
        unreachable!()
    };
    let Record::Node(manager) = node("m2", Some(2)) else {
        unreachable!()
    };
    let last_reachable: BTreeMap<u64, Instant> = [(1, start), (2, start)].into();
    let view = |now, heard: bool| LivenessView {
        now,
        leading_since: start,
        grace: Duration::from_secs(5),
        failover_grace: Duration::from_secs(5),
        reachable: &reachable,
        last_reachable: &last_reachable,
        heard_since: move |_: &str, _: Instant| heard,
    };
    assert_eq!(view(start, false).status(&worker), NodeStatus::Unknown);
    assert_eq!(view(start, true).status(&worker), NodeStatus::Ready);
    let later = start + Duration::from_secs(6);
    assert_eq!(view(later, false).status(&worker), NodeStatus::Ready);
    // A manager raft does not hear from is unknown during its grace, whatever its record
    // says, then down.
    let soon = start + Duration::from_secs(4);
    assert_eq!(view(soon, true).status(&manager), NodeStatus::Unknown);
    assert_eq!(view(later, true).status(&manager), NodeStatus::Down);
    let mut down = worker.clone();
    down.state = NodeState::Down;
    assert_eq!(view(later, true).status(&down), NodeStatus::Down);
}

#[tokio::test(start_paused = true)]
async fn debounce_waits_for_quiet_but_no_longer_than_the_cap() {
    let (tx, mut rx) = watch::channel(Progress::default());
    // Quiet: returns after the debounce time.
    let start = tokio::time::Instant::now();
    debounce(&mut rx).await;
    assert_eq!(start.elapsed(), DEBOUNCE);
    // Changes every 20 ms keep it waiting, up to the cap.
    let writer = tokio::spawn(async move {
        for applied in 1..200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = tx.send(Progress {
                applied,
                leader: true,
                term: 1,
                leader_id: Some(1),
            });
        }
    });
    let start = tokio::time::Instant::now();
    debounce(&mut rx).await;
    let waited = start.elapsed();
    assert!(
        waited >= DEBOUNCE_CAP && waited < DEBOUNCE_CAP + Duration::from_millis(30),
        "{waited:?}"
    );
    writer.abort();
}

/// Every task record's attachments, by task id.
fn attachments(store: &FakeStore) -> BTreeMap<String, Vec<cluster_state::TaskAttachment>> {
    let guard = store.store.lock().unwrap();
    guard
        .0
        .iter_kind(Kind::Task)
        .filter_map(|r| match r {
            Record::Task(t) => Some((t.meta.id.clone(), t.networks.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn tasks_placed_on_a_network_get_distinct_addresses_across_services_and_passes() {
    let network = Record::Network(cluster_state::Network {
        meta: Meta {
            id: "net1".into(),
            ..Meta::default()
        },
        name: "front".into(),
        driver: "overlay".into(),
        subnet: Some("10.32.0.0/20".into()),
        gateway: Some("10.32.0.1".into()),
        vni: 4096,
        attachable: false,
        internal: false,
        ingress: None,
        encryption: None,
        attachments: Default::default(),
    });
    let on_front = |id: &str, replicas: u64| {
        let Record::Service(mut s) = service(id, replicas) else {
            unreachable!("service() makes a service record")
        };
        s.service.spec.networks = vec![swarm::NetworkAttachmentConfig {
            target: "front".into(),
            aliases: vec!["www".into()],
        }];
        Record::Service(s)
    };
    let mut records = three_nodes();
    records.extend([
        network,
        on_front("web", 3),
        on_front("api", 2),
        service("plain", 1),
    ]);
    let store = FakeStore::new(records);
    pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    let given = attachments(&store);
    let ips: BTreeSet<_> = given.values().flatten().map(|a| a.ip).collect();
    assert_eq!(
        given.values().filter(|a| a.len() == 1).count(),
        5,
        "{given:?}"
    );
    assert_eq!(
        given.values().filter(|a| a.is_empty()).count(),
        1,
        "plain joins none"
    );
    assert_eq!(ips.len(), 5, "distinct across services: {given:?}");
    assert!(
        !ips.contains(&"10.32.0.1".parse().unwrap()),
        "never the gateway"
    );
    let one = given.values().flatten().next().unwrap();
    assert_eq!(
        (one.network_id.as_str(), one.aliases.as_slice()),
        ("net1", &["www".to_owned()][..])
    );
    assert_eq!(one.mac, crate::networks::alloc::mac_of(one.ip));

    // Running, scaled up: the new task gets a fifth free address, the others keep theirs.
    report_running(&store);
    let scaled = {
        let mut s = store.service("web");
        s.service.spec.mode = Mode::Replicated { replicas: 4 };
        s
    };
    store
        .apply(Batch::new(
            10,
            vec![Command::Update {
                expected_version: store.service("web").meta.version,
                record: Record::Service(Box::new(scaled)),
            }],
        ))
        .unwrap();
    let mut n = 100;
    let later_ids = move || {
        n += 1;
        TaskId(format!("t{n:03}"))
    };
    pass(&store, ready, Timestamp(2_000), later_ids)
        .await
        .unwrap();
    let after = attachments(&store);
    for (id, a) in &given {
        assert_eq!(after.get(id), Some(a), "kept");
    }
    let all: BTreeSet<_> = after.values().flatten().map(|a| a.ip).collect();
    assert_eq!(all.len(), 6, "{after:?}");
}

#[tokio::test]
async fn a_status_report_between_the_read_and_the_commit_does_not_refuse_the_decisions() {
    let mut records = three_nodes();
    records.push(service("web", 3));
    let store = FakeStore::new(records);
    pass(&store, ready, Timestamp(1_000), ids()).await.unwrap();
    report_running(&store);

    let mut scaled = store.service("web");
    let version = scaled.meta.version;
    scaled.service.spec.mode = Mode::Replicated { replicas: 1 };
    store
        .apply(Batch::new(
            5,
            vec![Command::Update {
                expected_version: version,
                record: Record::Service(Box::new(scaled)),
            }],
        ))
        .unwrap();
    // Between the pass's read and its commit, every task's node reports it again (a new
    // message): each record moves on, none of the managers' decisions about it does.
    let reports: Vec<Command> = {
        let guard = store.store.lock().unwrap();
        guard
            .0
            .iter_kind(Kind::Task)
            .filter_map(|r| match r {
                Record::Task(t) => {
                    let mut t = (**t).clone();
                    t.task.status.message = "still running".into();
                    Some(Command::Update {
                        expected_version: t.meta.version,
                        record: Record::Task(Box::new(t)),
                    })
                }
                _ => None,
            })
            .collect()
    };
    *store.before_commit.lock().unwrap() = Some(Batch::new(6, reports));
    let outcome = pass(&store, ready, Timestamp(2_000), ids()).await.unwrap();
    assert_eq!((outcome.committed, outcome.refused), (1, 0));
    let tasks = store.tasks();
    assert_eq!(tasks.iter().filter(|t| t.is_desired_running()).count(), 1);
    assert_eq!(
        tasks
            .iter()
            .filter(|t| t.desired_state == DesiredState::Shutdown)
            .count(),
        2
    );
    // The reports stand.
    assert!(
        tasks
            .iter()
            .all(|t| t.status.message == "still running" && t.status.state == TaskState::Running),
        "{tasks:#?}"
    );
}
