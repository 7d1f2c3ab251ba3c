//! Tests of the store: apply semantics, atomic batches, snapshots and the state hash.

use super::*;

fn meta(id: &str) -> Meta {
    Meta {
        id: id.to_owned(),
        ..Meta::default()
    }
}

fn service(id: &str, name: &str, replicas: u64) -> Record {
    use orchestrator::swarm;
    let spec = swarm::ServiceSpec {
        image: "nginx:1".to_owned(),
        mode: swarm::Mode::Replicated { replicas },
        ..swarm::ServiceSpec::default()
    };
    let now = swarm::Timestamp(0);
    Record::Service(Box::new(Service::new(swarm::Service::new(
        swarm::ServiceId(id.to_owned()),
        name,
        spec,
        now,
    ))))
}

fn secret(id: &str, name: &str) -> Record {
    Record::Secret(Blob {
        meta: meta(id),
        name: name.to_owned(),
        data: b"s3cret".to_vec(),
    })
}

fn create(record: Record) -> Command {
    Command::Create(record)
}

#[test]
fn create_stamps_version_and_time_from_the_entry() {
    let mut store = Store::new();
    store
        .apply(7, &Batch::new(1_000, vec![create(service("s1", "web", 2))]))
        .unwrap();
    let record = store.by_name(Kind::Service, "web").unwrap();
    assert_eq!(record.meta().version, 7);
    assert_eq!(record.meta().created_at_ms, 1_000);
    assert_eq!(record.meta().updated_at_ms, 1_000);
}

#[test]
fn update_keeps_creation_time_and_bumps_version() {
    let mut store = Store::new();
    store
        .apply(3, &Batch::new(10, vec![create(service("s1", "web", 1))]))
        .unwrap();
    let update = Command::Update {
        record: service("s1", "web", 5),
        expected_version: 3,
    };
    store.apply(9, &Batch::new(20, vec![update])).unwrap();
    let Some(Record::Service(svc)) = store.get(&RecordKey::new(Kind::Service, "s1")) else {
        panic!("service missing");
    };
    assert_eq!(
        svc.service.spec.mode,
        orchestrator::swarm::Mode::Replicated { replicas: 5 }
    );
    assert_eq!(
        (
            svc.meta.version,
            svc.meta.created_at_ms,
            svc.meta.updated_at_ms
        ),
        (9, 10, 20)
    );
}

#[test]
fn refused_commands_report_the_record_involved() {
    let setup = vec![
        create(service("s1", "web", 1)),
        create(secret("x1", "db-pass")),
    ];
    let cases: Vec<(Command, &str)> = vec![
        (create(service("s1", "api", 1)), "service/s1 already exists"),
        (
            create(service("s2", "web", 1)),
            "service name \"web\" already in use by service/s1",
        ),
        (
            Command::Update {
                record: service("s1", "web", 2),
                expected_version: 4,
            },
            "service/s1 is at version 1, expected 4",
        ),
        (
            Command::Delete {
                key: RecordKey::new(Kind::Volume, "v9"),
                expected_version: None,
            },
            "volume/v9 not found",
        ),
        (
            create(service("", "other", 1)),
            "service record has an empty id",
        ),
    ];
    for (command, message) in cases {
        let mut store = Store::new();
        store.apply(1, &Batch::new(0, setup.clone())).unwrap();
        let err = store.apply(2, &Batch::new(0, vec![command])).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn a_refused_batch_changes_nothing() {
    let mut store = Store::new();
    store
        .apply(1, &Batch::new(0, vec![create(service("s1", "web", 1))]))
        .unwrap();
    let before = store.clone();
    let batch = Batch::new(
        5,
        vec![
            create(service("s2", "api", 1)),
            Command::Delete {
                key: RecordKey::new(Kind::Service, "s1"),
                expected_version: Some(1),
            },
            create(secret("x1", "key")),
            create(service("s3", "api", 1)),
        ],
    );
    assert!(store.apply(2, &batch).is_err());
    assert_eq!(store, before);
    assert!(store.by_name(Kind::Service, "api").is_none());
}

#[test]
fn snapshot_round_trip_keeps_hash_and_name_index() {
    let mut store = Store::new();
    let batch = Batch::new(
        1,
        vec![
            create(service("s1", "web", 1)),
            create(secret("x1", "key")),
            create(Record::Volume(Volume {
                meta: meta("v1"),
                name: "data".to_owned(),
                driver: "local".to_owned(),
            })),
        ],
    );
    store.apply(4, &batch).unwrap();
    let copy = Store::decode(&store.encode().unwrap()).unwrap();
    assert_eq!(copy.state_hash(), store.state_hash());
    assert_eq!(copy, store);
    assert_eq!(copy.by_name(Kind::Volume, "data").unwrap().meta().id, "v1");
    assert_eq!(copy.iter_kind(Kind::Service).count(), 1);
    assert_ne!(Store::new().state_hash(), store.state_hash());
}

#[test]
fn same_batches_give_same_hash_and_any_difference_shows() {
    let batches = [
        Batch::new(1, vec![create(service("s1", "web", 1))]),
        Batch::new(2, vec![create(secret("x1", "key"))]),
    ];
    let run = |stamp_shift: u64| {
        let mut store = Store::new();
        for (i, batch) in batches.iter().enumerate() {
            let mut batch = batch.clone();
            batch.stamp_ms += stamp_shift;
            store.apply(i as u64 + 1, &batch).unwrap();
        }
        store.state_hash()
    };
    assert_eq!(run(0), run(0));
    assert_ne!(run(0), run(1));
}

fn task_record(id: &str, state: orchestrator::swarm::TaskState) -> Task {
    use orchestrator::swarm;
    Task::new(swarm::Task {
        id: id.into(),
        service_id: "s1".into(),
        slot: swarm::TaskSlot::Slot(1),
        spec_version: 1,
        spec: std::sync::Arc::new(swarm::ServiceSpec {
            image: "busybox".into(),
            ..swarm::ServiceSpec::default()
        }),
        desired_state: swarm::DesiredState::Running,
        shutdown_reason: None,
        status: swarm::TaskStatus {
            state,
            ..swarm::TaskStatus::default()
        },
        node: Some("n1".into()),
        created_at: swarm::Timestamp(0),
        not_before: None,
        replaces: None,
        preferred_node: None,
    })
}

fn stored_task(store: &Store, id: &str) -> Task {
    match store.get(&RecordKey::new(Kind::Task, id)) {
        Some(Record::Task(task)) => (**task).clone(),
        other => panic!("task {id} missing: {other:?}"),
    }
}

#[test]
fn a_decision_holds_over_status_reports_but_not_over_another_decision() {
    use orchestrator::swarm::{DesiredState, TaskState};
    let mut store = Store::new();
    let created = task_record("t1", TaskState::Assigned);
    store
        .apply(
            3,
            &Batch::new(1, vec![create(Record::Task(Box::new(created)))]),
        )
        .unwrap();
    let read = stored_task(&store, "t1");
    assert_eq!((read.meta.version, read.decided), (3, 3));

    // The node reports the task running: the record moves on, its decisions do not.
    let mut running = read.clone();
    running.task.status.state = TaskState::Running;
    let report = Command::Update {
        record: Record::Task(Box::new(running)),
        expected_version: 3,
    };
    store.apply(5, &Batch::new(2, vec![report])).unwrap();
    assert_eq!(stored_task(&store, "t1").decided, 3);

    // The leader decided on the record as read at 3: shut it down. The strict update is
    // refused; the decision alone is taken, and the reported status stays.
    let mut shut = read.clone();
    shut.task.desired_state = DesiredState::Shutdown;
    let strict = Command::Update {
        record: Record::Task(Box::new(shut.clone())),
        expected_version: 3,
    };
    assert!(matches!(
        store.apply(6, &Batch::new(3, vec![strict])),
        Err(ApplyError::VersionMismatch { .. })
    ));
    let decided = |record: &Task| Command::UpdateDecided {
        record: Record::Task(Box::new(record.clone())),
        expected_version: 3,
        expected_decided: 3,
    };
    store
        .apply(7, &Batch::new(4, vec![decided(&shut)]))
        .unwrap();
    let now = stored_task(&store, "t1");
    assert_eq!(now.task.desired_state, DesiredState::Shutdown);
    assert_eq!(now.task.status.state, TaskState::Running);
    assert_eq!(
        (now.meta.version, now.decided, now.meta.created_at_ms),
        (7, 7, 1)
    );

    // Another decision on the record read at 3 is refused: a decision came in between.
    let mut moved = read;
    moved.task.node = Some("n2".into());
    assert!(matches!(
        store.apply(8, &Batch::new(5, vec![decided(&moved)])),
        Err(ApplyError::VersionMismatch { .. })
    ));
    assert_eq!(stored_task(&store, "t1").meta.version, 7);
}

#[test]
fn a_decision_on_a_record_without_its_decided_version_needs_the_version_read() {
    use orchestrator::swarm::{DesiredState, TaskState};
    let mut store = Store::new();
    let mut older = task_record("t1", TaskState::Running);
    older.meta.version = 4;
    // As a snapshot written before `decided` was kept restores it.
    store.insert(Record::Task(Box::new(older.clone())));
    let mut shut = older.clone();
    shut.task.desired_state = DesiredState::Shutdown;
    let decided = |expected_version| Command::UpdateDecided {
        record: Record::Task(Box::new(shut.clone())),
        expected_version,
        expected_decided: 0,
    };
    assert!(store.apply(9, &Batch::new(1, vec![decided(3)])).is_err());
    store.apply(9, &Batch::new(1, vec![decided(4)])).unwrap();
    assert_eq!(stored_task(&store, "t1").decided, 9);
}

#[test]
fn only_tasks_are_written_with_their_decisions_alone() {
    let mut store = Store::new();
    store
        .apply(1, &Batch::new(1, vec![create(service("s1", "web", 1))]))
        .unwrap();
    let command = Command::UpdateDecided {
        record: service("s1", "web", 2),
        expected_version: 1,
        expected_decided: 1,
    };
    assert!(matches!(
        store.apply(2, &Batch::new(2, vec![command])),
        Err(ApplyError::NotATask(_))
    ));
}

#[test]
fn a_status_the_managers_set_stands_unless_the_node_reported_since() {
    use orchestrator::swarm::{DesiredState, TaskState};
    let mut store = Store::new();
    for id in ["quiet", "talks"] {
        let record = task_record(id, TaskState::Running);
        store
            .apply(
                3,
                &Batch::new(1, vec![create(Record::Task(Box::new(record)))]),
            )
            .unwrap();
    }
    // The managers take both for lost with their node: shut down, orphaned.
    let orphaned = |id: &str| {
        let mut task = stored_task(&store, id);
        task.task.desired_state = DesiredState::Shutdown;
        task.task.status.state = TaskState::Orphaned;
        Command::UpdateDecided {
            expected_version: task.meta.version,
            expected_decided: task.decided,
            record: Record::Task(Box::new(task)),
        }
    };
    let decisions = vec![orphaned("quiet"), orphaned("talks")];
    // Meanwhile the node of "talks" reports it: it was alive after all.
    let mut report = stored_task(&store, "talks");
    report.task.status.state = TaskState::Complete;
    store
        .apply(
            4,
            &Batch::new(
                2,
                vec![Command::Update {
                    expected_version: 3,
                    record: Record::Task(Box::new(report)),
                }],
            ),
        )
        .unwrap();
    store.apply(5, &Batch::new(3, decisions)).unwrap();
    let quiet = stored_task(&store, "quiet");
    let talks = stored_task(&store, "talks");
    assert_eq!(
        (quiet.task.desired_state, quiet.task.status.state),
        (DesiredState::Shutdown, TaskState::Orphaned)
    );
    assert_eq!(
        (talks.task.desired_state, talks.task.status.state),
        (DesiredState::Shutdown, TaskState::Complete)
    );
}

#[test]
fn tasks_with_equal_specs_share_one_copy_and_a_changed_spec_gets_its_own() {
    use orchestrator::swarm::TaskState;
    let mut store = Store::new();
    store
        .apply(1, &Batch::new(1, vec![create(service("s1", "web", 3))]))
        .unwrap();
    // Each decoded on its own, as the raft log's entries are.
    let decoded = |id: &str| {
        let json = serde_json::to_vec(&Record::Task(Box::new(task_record(id, TaskState::New))));
        serde_json::from_slice::<Record>(&json.unwrap()).unwrap()
    };
    let commands = vec![create(decoded("t1")), create(decoded("t2"))];
    store.apply(2, &Batch::new(2, commands)).unwrap();
    let (t1, t2) = (stored_task(&store, "t1"), stored_task(&store, "t2"));
    assert!(Arc::ptr_eq(&t1.task.spec, &t2.task.spec));

    let mut changed = task_record("t3", TaskState::New);
    Arc::make_mut(&mut changed.task.spec).image = "busybox:2".into();
    let t3 = create(Record::Task(Box::new(changed)));
    store.apply(3, &Batch::new(3, vec![t3])).unwrap();
    let t3 = stored_task(&store, "t3");
    assert_eq!(t3.task.spec.image, "busybox:2");
    assert!(!Arc::ptr_eq(&t1.task.spec, &t3.task.spec));
    assert_eq!(stored_task(&store, "t1").task.spec.image, "busybox");

    // The store's content is unchanged by the sharing: a round trip compares equal.
    let decoded = Store::decode(&store.encode().unwrap()).unwrap();
    assert_eq!(decoded.state_hash(), store.state_hash());
    assert_eq!(decoded, store);
}
