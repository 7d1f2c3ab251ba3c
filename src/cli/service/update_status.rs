//! How `service inspect`, `service ps` and the wait after an update show a rolling update:
//! Docker's `UpdateStatus` (State, StartedAt, CompletedAt, Message) plus how many slots are
//! done, and one summary line.

use std::time::{Duration, UNIX_EPOCH};

use orchestrator::swarm::{Timestamp, UpdateStatus};
use serde_json::{Value, json};

fn rfc3339(at: Timestamp) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(at.as_millis());
    humantime::format_rfc3339_millis(time).to_string()
}

/// Docker's `UpdateStatus` object, with Bosun's progress beside it.
pub(super) fn docker_json(status: &UpdateStatus) -> Value {
    let progress = &status.progress;
    let mut object = json!({
        "State": status.state.to_string(),
        "StartedAt": rfc3339(status.started_at),
        "Message": status.message,
        "SlotsDone": progress.done.len(),
        "SlotsFailed": progress.failed.len(),
        "SlotsInProgress": progress.in_flight.len(),
    });
    if let Some(completed) = status.completed_at {
        object["CompletedAt"] = json!(rfc3339(completed));
    }
    if !progress.failed.is_empty() {
        object["Failures"] = json!(
            progress
                .failed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
    }
    object
}

/// The record as `service inspect` prints it: the store record with `UpdateStatus` added.
pub(super) fn inspect_json(record: &cluster_state::Service) -> anyhow::Result<Value> {
    let mut value = serde_json::to_value(record)?;
    if let (Some(status), Some(object)) = (&record.service.update_status, value.as_object_mut()) {
        object.insert("UpdateStatus".to_owned(), docker_json(status));
    }
    Ok(value)
}

/// `update paused (1 slot done, 1 failed): …` — one line on the state of the update.
pub(super) fn summary(status: &UpdateStatus) -> String {
    let progress = &status.progress;
    let mut counts = vec![format!("{} done", progress.done.len())];
    if !progress.in_flight.is_empty() {
        counts.push(format!("{} in progress", progress.in_flight.len()));
    }
    if !progress.failed.is_empty() {
        counts.push(format!("{} failed", progress.failed.len()));
    }
    format!(
        "update {} (slots: {}): {}",
        status.state,
        counts.join(", "),
        status.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{SlotFailure, TaskSlot, UpdateState};

    #[test]
    fn docker_names_and_the_reason_are_shown() {
        let mut status = UpdateStatus::new(UpdateState::Paused, Timestamp(0), "update paused");
        status.progress.done.push(TaskSlot::Slot(1));
        status.progress.failed.push(SlotFailure {
            slot: TaskSlot::Slot(2),
            task: Some("t2".into()),
            error: "task: non-zero exit (1)".into(),
        });
        let value = docker_json(&status);
        assert_eq!(value["State"], "paused");
        assert_eq!(value["StartedAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(value["SlotsDone"], 1);
        assert_eq!(
            value["Failures"][0],
            "task t2 (slot 2): task: non-zero exit (1)"
        );
        assert!(value.get("CompletedAt").is_none());
        assert_eq!(
            summary(&status),
            "update paused (slots: 1 done, 1 failed): update paused"
        );
    }
}
