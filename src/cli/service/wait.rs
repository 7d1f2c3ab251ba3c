//! Waiting for a service to converge after `create`, `scale` or `update` (without
//! `--detach`): `overall progress: N out of M tasks` and a line per task (up to 20), until the
//! tasks of its current spec version run (a job's have completed), or a task cannot be placed.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::bail;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::proto::{DesiredStateFilter, ListTasksRequest};
use orchestrator::swarm::{Mode, TaskSlot, TaskState};

use super::progress::{Board, task_lines};

/// Time between two looks.
const POLL: Duration = Duration::from_millis(300);
/// A task pending this long with a reason fails the wait (the reason is shown).
const PENDING_PATIENCE: Duration = Duration::from_secs(3);
/// With every task assigned, this long without a task reported running ends the wait with a
/// note: the nodes may not report (yet); the service stays as it is.
const STALL: Duration = Duration::from_secs(30);

/// Waits until `service` converges, showing progress.
pub async fn converge(client: &ServicesClient, service: &str) -> anyhow::Result<()> {
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
        let version = info.record.service.spec_version;
        let name = &info.record.service.name;
        let current: Vec<_> = list
            .tasks
            .iter()
            .map(|t| &t.task)
            .filter(|t| t.spec_version == version)
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
        let mut lines = vec![format!("overall progress: {done} out of {total} tasks")];
        lines.extend(task_lines(&current, slots));
        board.draw(lines);
        let global_without_tasks =
            matches!(info.record.service.spec.mode, Mode::Global) && total == 0;
        let converged = if is_job {
            done >= total
        } else {
            done >= total && outdated == 0 && !global_without_tasks
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
        if all_assigned && moved_at.elapsed() >= STALL {
            eprintln!(
                "every task of {name} is assigned, but no node has reported more running for {} s; see `bosun service ps {name}`",
                STALL.as_secs()
            );
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}
