//! The properties of a world at rest: no rolling update under way, no slot with two running
//! tasks, no task lost (every
//! service has as many slots as replicas, each with exactly one task wanted running, reported running, and its
//! container running on that task's node), and converged (the decision step on the final
//! store decides nothing).

use std::collections::BTreeMap;

use cluster_manager::control;
use cluster_state::Record;
use orchestrator::swarm::{Mode, ServiceId, TaskId, TaskSlot, TaskState};

use super::World;
use super::node::Container;

/// A task wanted running in a slot: its id, the node it is on, its reported state.
type Wanted = (TaskId, Option<usize>, TaskState);

/// Whether `world` is at rest with every property holding; otherwise what is not so.
pub(crate) fn at_rest(world: &mut World) -> Result<(), String> {
    if world.raft.leader.is_none() {
        return Err("no leader".into());
    }
    if !world.raft.pending.is_empty() {
        return Err("batches pending".into());
    }
    let records = world.raft.records();
    // Running containers per (service, slot), on every node.
    let mut running: BTreeMap<(ServiceId, u64), Vec<(usize, TaskId)>> = BTreeMap::new();
    for (n, node) in world.nodes.iter().enumerate() {
        for (task, c) in &node.containers {
            if c.state == Container::Running {
                let TaskSlot::Slot(slot) = c.slot else {
                    return Err(format!("a global task {task} runs"));
                };
                running
                    .entry((c.service.clone(), slot))
                    .or_default()
                    .push((n, task.clone()));
            }
        }
    }
    if let Some((slot, copies)) = running.iter().find(|(_, copies)| copies.len() > 1) {
        return Err(format!("slot {slot:?} runs twice: {copies:?}"));
    }
    let mut wanted: BTreeMap<(ServiceId, u64), Vec<Wanted>> = BTreeMap::new();
    for record in records.iter() {
        if let Record::Task(t) = record
            && t.task.is_desired_running()
            && let TaskSlot::Slot(slot) = t.task.slot
        {
            let node = t
                .task
                .node
                .as_ref()
                .and_then(|id| world.nodes.iter().position(|n| n.id == *id));
            wanted
                .entry((t.task.service_id.clone(), slot))
                .or_default()
                .push((t.task.id.clone(), node, t.task.status.state));
        }
    }
    let mut expected = 0;
    for record in records.iter() {
        let Record::Service(s) = record else { continue };
        if let Some(update) = s.service.update_status.as_ref().filter(|u| u.is_moving()) {
            return Err(format!(
                "service {} is still updating: {update:?}",
                s.service.id
            ));
        }
        let Mode::Replicated { replicas } = s.service.spec.mode else {
            continue;
        };
        expected += replicas;
        // Slots need not be 1..=replicas: a scale down keeps the running tasks, whatever
        // their slot numbers.
        let slots: Vec<_> = wanted
            .iter()
            .filter(|((service, _), _)| *service == s.service.id)
            .collect();
        if slots.len() as u64 != replicas {
            return Err(format!(
                "service {} wants {replicas} replicas, has slots {slots:?}",
                s.service.id
            ));
        }
        for (key, tasks) in slots {
            let [(task, Some(node), TaskState::Running)] = tasks.as_slice() else {
                return Err(format!("slot {key:?} wants {tasks:?}"));
            };
            let copies = running.get(key).cloned().unwrap_or_default();
            if copies != [(*node, task.clone())] {
                return Err(format!(
                    "slot {key:?}: task {task} on n{node}, but running: {copies:?}"
                ));
            }
        }
    }
    let total: usize = running.values().map(Vec::len).sum();
    if total as u64 != expected {
        return Err(format!(
            "{total} containers run, {expected} wanted: {running:?}"
        ));
    }
    if wanted.values().map(Vec::len).sum::<usize>() as u64 != expected {
        return Err(format!("tasks wanted beyond the slots: {wanted:?}"));
    }
    let stamp = world.stamp();
    let mut n = 0;
    let plan = control::decide(records.as_ref().clone(), world.status_of(), stamp, || {
        n += 1;
        TaskId(format!("check{n}"))
    });
    if !plan.batches.is_empty() {
        return Err(format!("not converged: {:?}", plan.batches));
    }
    Ok(())
}
