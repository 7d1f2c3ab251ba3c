//! The user's writes during the chaos phase, made as the services API makes them: a scale or
//! a forced update through [`services::update::updated`] on the record read, a new service,
//! or a removal that shuts the service's tasks down in the same batch (as `services::write`).

use std::time::Duration;

use cluster_manager::services::proto::{Count, UpdateServiceRequest};
use cluster_manager::services::update::{ServiceUpdate, updated};
use cluster_state::{Command, Kind, Record, RecordKey};
use orchestrator::swarm::{self, DesiredState, Mode, ServiceSpec, Timestamp};

use super::World;
use super::raft::Origin;

/// The record of service number `n` with `replicas`: restarts after 500 ms; rolling updates
/// two slots at a time, each counted once its task ran for 1 s.
pub(super) fn service(n: usize, replicas: u64, now: Timestamp) -> Record {
    let spec = ServiceSpec {
        image: "busybox".into(),
        mode: Mode::Replicated { replicas },
        restart_policy: swarm::RestartPolicy {
            delay: Duration::from_millis(500),
            ..swarm::RestartPolicy::default()
        },
        update_config: swarm::UpdateConfig {
            parallelism: 2,
            monitor: Duration::from_secs(1),
            ..swarm::UpdateConfig::default()
        },
        ..ServiceSpec::default()
    };
    let id = format!("s{n}");
    Record::Service(Box::new(cluster_state::Service::new(swarm::Service::new(
        id.as_str().into(),
        format!("web{n}"),
        spec,
        now,
    ))))
}

fn services(world: &mut World) -> Vec<cluster_state::Service> {
    world
        .raft
        .records()
        .iter()
        .filter_map(|r| match r {
            Record::Service(s) => Some((**s).clone()),
            _ => None,
        })
        .collect()
}

/// Draws the user's writes of one tick (through the leader; none without one).
pub(super) fn draw(world: &mut World) {
    if world.raft.leader.is_none() {
        return;
    }
    let roll = world.rng.f64();
    let existing = services(world);
    let due = world.now + 1;
    let stamp = world.stamp();
    let commands = if roll < 0.02 && !existing.is_empty() {
        let record = &existing[world.rng.usize(0..existing.len())];
        let replicas = world.rng.u64(0..=7);
        let request = UpdateServiceRequest {
            service: record.service.name.clone(),
            replicas: Some(Count { value: replicas }),
            ..UpdateServiceRequest::default()
        };
        world.note(format!("user scales {} to {replicas}", record.service.name));
        update(record, &request, stamp)
    } else if roll < 0.025 && !existing.is_empty() {
        let record = &existing[world.rng.usize(0..existing.len())];
        let request = UpdateServiceRequest {
            service: record.service.name.clone(),
            force: true,
            ..UpdateServiceRequest::default()
        };
        world.note(format!("user forces an update of {}", record.service.name));
        update(record, &request, stamp)
    } else if roll < 0.028 && existing.len() < 4 {
        let n = (0..8)
            .find(|n| !existing.iter().any(|s| s.meta.id == format!("s{n}")))
            .unwrap_or(0);
        let replicas = world.rng.u64(1..=5);
        world.note(format!("user creates s{n} with {replicas}"));
        vec![Command::Create(service(n, replicas, stamp))]
    } else if roll < 0.031 && existing.len() > 1 {
        let record = existing[world.rng.usize(0..existing.len())].clone();
        world.note(format!("user removes {}", record.service.name));
        remove(world, &record)
    } else {
        return;
    };
    world.raft.propose(commands, due, Origin::Other);
}

fn update(
    record: &cluster_state::Service,
    request: &UpdateServiceRequest,
    now: Timestamp,
) -> Vec<Command> {
    let change = ServiceUpdate::decode(request).expect("a valid update");
    let next = updated(record, &change, now).expect("the update applies");
    vec![Command::Update {
        expected_version: record.meta.version,
        record: Record::Service(Box::new(next)),
    }]
}

/// Deletes the service and wants every task of it shut down, in one batch.
fn remove(world: &mut World, record: &cluster_state::Service) -> Vec<Command> {
    let mut commands = vec![Command::Delete {
        key: RecordKey::new(Kind::Service, record.meta.id.clone()),
        expected_version: Some(record.meta.version),
    }];
    for r in world.raft.records().iter() {
        if let Record::Task(t) = r
            && t.task.service_id == record.service.id
            && t.task.is_desired_running()
        {
            let mut stopping = (**t).clone();
            stopping.task.desired_state = DesiredState::Shutdown;
            commands.push(Command::Update {
                expected_version: t.meta.version,
                record: Record::Task(Box::new(stopping)),
            });
        }
    }
    commands
}
