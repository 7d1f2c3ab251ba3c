//! Waiting for a service to converge after `create`, `scale`, `update` or `rollback` (without
//! `--detach`): `overall progress: N out of M tasks` and a line per task (up to 20), until the
//! tasks of its current spec run (a job's have completed) and its rolling update is over, or a
//! task cannot be placed. After an update the wait ends with the update's outcome: paused
//! (with the reason), rolled back or cancelled is an error.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::bail;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::proto::{DesiredStateFilter, ListTasksRequest};
use orchestrator::swarm::{Mode, TaskSlot, TaskState, UpdateState, UpdateStatus};

use super::update_status;

/// What the command that waits asked for: the outcomes of the update that count as success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `create`, `scale`, `stack deploy`: the tasks run, whatever the update did.
    Converge,
    /// `update` (and `--resume`): the update completes.
    Update,
    /// `rollback`: the rollback completes.
    Rollback,
    /// `--cancel`: the cancelled update's tasks are back.
    Cancel,
}

/// The error the update's `status` means for `expect`, once it stopped moving.
fn outcome(name: &str, status: &UpdateStatus, expect: Expect) -> anyhow::Result<()> {
    let message = &status.message;
    match (status.state, expect) {
        (_, Expect::Converge) => Ok(()),
        (UpdateState::Paused, _) => bail!("update of service {name} paused: {message}"),
        (UpdateState::RollbackPaused, _) => bail!("rollback of service {name} paused: {message}"),
        (UpdateState::RollbackCompleted, Expect::Update) => {
            bail!("update of service {name} rolled back: {message}")
        }
        (UpdateState::Cancelled, Expect::Update | Expect::Rollback) => {
            bail!("update of service {name} was cancelled")
        }
        _ => Ok(()),
    }
}

use super::progress::{Board, task_lines};

/// Time between two looks.
const POLL: Duration = Duration::from_millis(300);
/// A task pending this long with a reason fails the wait (the reason is shown).
const PENDING_PATIENCE: Duration = Duration::from_secs(3);
/// With every task assigned, this long without a task reported running ends the wait with a
/// note: the nodes may not report (yet); the service stays as it is.
const STALL: Duration = Duration::from_secs(30);

/// Waits until `service` converges, showing progress.
pub(crate) async fn converge(client: &ServicesClient, service: &str) -> anyhow::Result<()> {
    converge_update(client, service, Expect::Converge).await
}

/// Waits until `service` converges and its update stopped moving, showing progress; the
/// update's outcome decides success as `expect` says.
pub(crate) async fn converge_update(
    client: &ServicesClient,
    service: &str,
    expect: Expect,
) -> anyhow::Result<()> {
    let tty = std::io::stdout().is_terminal();
    let mut board = Board::new(tty);
    let mut moved_at = Instant::now();
    let mut last_done = u64::MAX;
    let mut pending_since: Option<Instant> = None;
    loop {
        let info = client.inspect(service).await?;
        let list = client
            .tasks(ListTasksRequest {
                service: service.to_owned(),
                node: String::new(),
                desired_state: DesiredStateFilter::DesiredRunning as i32,
            })
            .await?;
        let spec = &info.record.service.spec;
        let name = &info.record.service.name;
        let update = info.record.service.update_status.as_ref();
        let moving = update.is_some_and(|s| s.is_moving());
        let current: Vec<_> = list
            .tasks
            .iter()
            .map(|t| &t.task)
            .filter(|t| t.spec.same_tasks(spec))
            .collect();
        let outdated = list.tasks.len() - current.len();
        let is_job = info.record.service.spec.mode.is_job();
        let (done, total) = if is_job {
            (info.completed, info.desired.max(info.completed))
        } else {
            let running = current
                .iter()
                .filter(|t| t.status.state == TaskState::Running)
                .count() as u64;
            (running, info.desired)
        };
        let slots = match info.record.service.spec.mode {
            Mode::Replicated { replicas } => Some(replicas),
            Mode::ReplicatedJob {
                total_completions, ..
            } => Some(total_completions),
            Mode::Global | Mode::GlobalJob => None,
        };
        let mut line = format!("overall progress: {done} out of {total} tasks");
        if let Some(status) = update.filter(|_| expect != Expect::Converge) {
            line = format!("{line}; {}", update_status::summary(status));
        }
        let mut lines = vec![line];
        lines.extend(task_lines(&current, slots));
        board.draw(lines);
        let global_without_tasks =
            matches!(info.record.service.spec.mode, Mode::Global) && total == 0;
        if let Some(status) = update.filter(|s| !s.is_moving() && expect != Expect::Converge)
            && let Err(err) = outcome(name, status, expect)
        {
            return Err(err);
        }
        let converged = if is_job {
            done >= total
        } else {
            done >= total && outdated == 0 && !global_without_tasks && !moving
        };
        if converged {
            println!("verify: Service {name} converged");
            return Ok(());
        }
        if done != last_done {
            last_done = done;
            moved_at = Instant::now();
        }
        match current
            .iter()
            .find(|t| t.status.state == TaskState::Pending && !t.status.message.is_empty())
        {
            Some(task) => {
                let since = *pending_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= PENDING_PATIENCE {
                    let slot = match &task.slot {
                        TaskSlot::Slot(n) => n.to_string(),
                        TaskSlot::Node(node) => node.to_string(),
                    };
                    bail!(
                        "task {name}.{slot} cannot be placed: {}",
                        task.status.message
                    );
                }
            }
            None => pending_since = None,
        }
        let all_assigned = !current.is_empty()
            && current
                .iter()
                .all(|t| t.status.state >= TaskState::Assigned);
        if all_assigned && !moving && moved_at.elapsed() >= STALL {
            eprintln!(
                "every task of {name} is assigned, but no node has reported more running for {} s; see `bosun service ps {name}`",
                STALL.as_secs()
            );
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::Timestamp;

    #[test]
    fn an_update_ends_with_its_outcome() {
        let status = |state| UpdateStatus::new(state, Timestamp(0), "why");
        assert!(outcome("web", &status(UpdateState::Completed), Expect::Update).is_ok());
        assert_eq!(
            outcome("web", &status(UpdateState::Paused), Expect::Update)
                .unwrap_err()
                .to_string(),
            "update of service web paused: why"
        );
        assert!(
            outcome(
                "web",
                &status(UpdateState::RollbackCompleted),
                Expect::Update
            )
            .is_err()
        );
        assert!(
            outcome(
                "web",
                &status(UpdateState::RollbackCompleted),
                Expect::Rollback
            )
            .is_ok()
        );
        assert!(outcome("web", &status(UpdateState::Cancelled), Expect::Cancel).is_ok());
        assert!(outcome("web", &status(UpdateState::Paused), Expect::Converge).is_ok());
    }
}
