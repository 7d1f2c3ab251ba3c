//! Committing task status reports: the reports of every node that arrive within one window
//! ([`BATCH_WINDOW`], or [`BATCH_MAX`] reports) become one store batch. Each report moves its
//! task's observed state only through [`TaskState::advance`](orchestrator::swarm::TaskState::advance):
//! forward, never out of a terminal state, and only for a task assigned to the node that
//! reports it; anything else is stale and ignored. One exception: `orphaned` is the managers'
//! guess for a task of a node that went silent, and the node's own report of how the task
//! ended (failed, shutdown, complete, rejected) replaces it when the node is back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use crate::admin::decode_records;
use crate::dispatcher::assignment::StatusReport;
use crate::driver::{Query, Refused};
use crate::proto as manager_proto;
use crate::service::{ManagerService, status_of};
use cluster_state::{Batch, Command, Kind, Record, RecordKey, Task};
use orchestrator::swarm::{NodeId, TaskId, TaskState};

/// How long reports wait for others before they are committed together.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// A batch is committed at once when it holds this many reports.
pub const BATCH_MAX: usize = 256;
/// Attempts at a batch whose tasks changed between the read and the write.
const ATTEMPTS: usize = 5;

/// The store updates that `reports` of node `node` make to `tasks`, and how many reports
/// moved a task forward. One update per task, with the version it was read at.
pub fn updates(
    tasks: &BTreeMap<TaskId, Task>,
    reports: &[(NodeId, StatusReport)],
) -> (Vec<Command>, Vec<usize>) {
    let mut changed: BTreeMap<TaskId, Task> = BTreeMap::new();
    let mut applied = vec![0; reports.len()];
    for (index, (node, report)) in reports.iter().enumerate() {
        let Some(current) = changed
            .get(&report.task_id)
            .or_else(|| tasks.get(&report.task_id))
        else {
            continue;
        };
        if current.task.node.as_ref() != Some(node) {
            continue;
        }
        let mut next = current.clone();
        let reported = report.status.state;
        if next.task.status.state.advance(reported).is_err()
            && !settles_orphan(current.task.status.state, reported)
        {
            continue;
        }
        next.task.status = report.status.clone();
        changed.insert(report.task_id.clone(), next);
        applied[index] = 1;
    }
    let commands = changed
        .into_values()
        .map(|task| {
            let expected_version = task.meta.version;
            Command::Update {
                record: Record::Task(Box::new(task)),
                expected_version,
            }
        })
        .collect();
    (commands, applied)
}

/// Whether a node's report of `reported` replaces the store's `current`: a task the managers
/// marked `orphaned` while its node was silent, reported ended by the node itself.
fn settles_orphan(current: TaskState, reported: TaskState) -> bool {
    current == TaskState::Orphaned && reported.is_terminal() && reported != TaskState::Orphaned
}

/// One node's reports waiting for a batch, and where to answer how many applied.
pub(crate) struct Pending {
    pub(crate) node: NodeId,
    pub(crate) reports: Vec<StatusReport>,
    pub(crate) reply: oneshot::Sender<Result<u32, Status>>,
}

/// Collects reports into batches and commits them until every sender is dropped.
pub(crate) async fn run(service: Arc<ManagerService>, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut waiting = vec![first];
        let deadline = Instant::now() + BATCH_WINDOW;
        let count = |w: &Vec<Pending>| w.iter().map(|p| p.reports.len()).sum::<usize>();
        while count(&waiting) < BATCH_MAX {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(more)) => waiting.push(more),
                Ok(None) | Err(_) => break,
            }
        }
        let reports: Vec<(NodeId, StatusReport)> = waiting
            .iter()
            .flat_map(|p| p.reports.iter().map(|r| (p.node.clone(), r.clone())))
            .collect();
        match commit(&service, &reports).await {
            Ok(applied) => {
                let mut at = 0;
                for pending in waiting {
                    let n = pending.reports.len();
                    let sum: usize = applied[at..at + n].iter().sum();
                    at += n;
                    let _ = pending.reply.send(Ok(sum as u32));
                }
            }
            Err(status) => {
                for pending in waiting {
                    let _ = pending.reply.send(Err(status.clone()));
                }
            }
        }
    }
}

/// Reads the tasks, writes the updates (through the leader), and retries when a task
/// changed in between.
async fn commit(
    service: &ManagerService,
    reports: &[(NodeId, StatusReport)],
) -> Result<Vec<usize>, Status> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // Only the reported tasks: reading every task per batch made each batch cost as
        // much as the whole store (30,000 tasks serialized and decoded ten times a second).
        let keys: Vec<RecordKey> = reports
            .iter()
            .map(|(_, r)| RecordKey::new(Kind::Task, r.task_id.0.clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let (data, _) = service
            .raft
            .read(Query::Keys(keys))
            .await
            .map_err(status_of)?;
        let tasks: BTreeMap<TaskId, Task> = decode_records(&data)?
            .into_iter()
            .filter_map(|r| match r {
                Record::Task(t) => Some((t.task.id.clone(), *t)),
                _ => None,
            })
            .collect();
        let (commands, applied) = updates(&tasks, reports);
        if commands.is_empty() {
            return Ok(applied);
        }
        match write(service, Batch::new(0, commands)).await {
            Ok(()) => return Ok(applied),
            Err(status)
                if attempt < ATTEMPTS && status.code() == tonic::Code::FailedPrecondition =>
            {
                tracing::debug!(cause = %status.message(), "task changed meanwhile; retrying");
            }
            Err(status) => return Err(status),
        }
    }
}

/// Writes `batch` here when this manager leads, else through the leader's Write call.
pub(crate) async fn write(service: &ManagerService, batch: Batch) -> Result<(), Status> {
    match service.raft.write(batch.clone()).await {
        Ok(_) => Ok(()),
        Err(Refused::NotLeader {
            addr: Some(addr), ..
        }) => {
            let mut client = service.client(&addr)?;
            let data = batch
                .encode()
                .map_err(|e| Status::internal(format!("cannot encode a batch: {e}")))?;
            let request =
                ManagerService::forward_request(manager_proto::WriteRequest { batch: data });
            client.write(request).await.map(drop)
        }
        Err(refused) => Err(status_of(refused)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::sets::tests::task;
    use orchestrator::swarm::{TaskState, TaskStatus, Timestamp};

    fn report(task: &str, state: TaskState, exit_code: Option<i32>) -> StatusReport {
        StatusReport {
            task_id: task.into(),
            status: TaskStatus {
                state,
                message: state.to_string(),
                error: None,
                timestamp: Timestamp(7),
                exit_code,
            },
        }
    }

    fn store() -> BTreeMap<TaskId, Task> {
        let mut t1 = task("t1", Some("n1"), TaskState::Assigned, 1);
        t1.meta.version = 10;
        let mut t2 = task("t2", Some("n2"), TaskState::Running, 2);
        t2.meta.version = 11;
        let mut t3 = task("t3", Some("n1"), TaskState::Complete, 3);
        t3.meta.version = 12;
        [t1, t2, t3]
            .into_iter()
            .map(|t| (t.task.id.clone(), t))
            .collect()
    }

    #[test]
    fn reports_of_one_batch_collapse_into_one_update_per_task() {
        let n1 = NodeId::from("n1");
        let reports = vec![
            (n1.clone(), report("t1", TaskState::Preparing, None)),
            (n1.clone(), report("t1", TaskState::Running, None)),
            (n1.clone(), report("t1", TaskState::Failed, Some(3))),
        ];
        let (commands, applied) = updates(&store(), &reports);
        assert_eq!(applied, vec![1, 1, 1]);
        assert_eq!(commands.len(), 1);
        let Command::Update {
            record: Record::Task(t),
            expected_version,
        } = &commands[0]
        else {
            panic!("an update: {commands:?}");
        };
        assert_eq!(*expected_version, 10);
        assert_eq!(t.task.status.state, TaskState::Failed);
        assert_eq!(t.task.status.exit_code, Some(3));
    }

    #[test]
    fn stale_foreign_and_unknown_reports_are_ignored() {
        let n1 = NodeId::from("n1");
        let reports = vec![
            // Backwards: t2 runs on n2, and n1 may not report it anyway.
            (n1.clone(), report("t2", TaskState::Failed, Some(1))),
            // Out of a terminal state.
            (n1.clone(), report("t3", TaskState::Failed, Some(1))),
            // No such task.
            (n1.clone(), report("t9", TaskState::Running, None)),
            // Backwards within one batch.
            (n1.clone(), report("t1", TaskState::Running, None)),
            (n1.clone(), report("t1", TaskState::Starting, None)),
        ];
        let (commands, applied) = updates(&store(), &reports);
        assert_eq!(applied, vec![0, 0, 0, 1, 0]);
        assert_eq!(commands.len(), 1);
        let Command::Update {
            record: Record::Task(t),
            ..
        } = &commands[0]
        else {
            panic!("an update");
        };
        assert_eq!(t.task.status.state, TaskState::Running);
    }

    #[test]
    fn a_returning_node_s_ending_replaces_the_orphaned_guess_but_nothing_else() {
        let n1 = NodeId::from("n1");
        let mut tasks = store();
        let t1 = tasks.get_mut(&TaskId::from("t1")).unwrap();
        t1.task.status.state = TaskState::Orphaned;
        let reports = vec![(n1.clone(), report("t1", TaskState::Running, None))];
        assert_eq!(updates(&tasks, &reports).1, vec![0], "not back to running");
        let reports = vec![(n1.clone(), report("t1", TaskState::Failed, None))];
        let (commands, applied) = updates(&tasks, &reports);
        assert_eq!(applied, vec![1]);
        let Command::Update {
            record: Record::Task(t),
            ..
        } = &commands[0]
        else {
            panic!("an update");
        };
        assert_eq!(t.task.status.state, TaskState::Failed);
        // Another node may not, and a failure once reported stays.
        let n2 = NodeId::from("n2");
        let reports = vec![(n2, report("t1", TaskState::Failed, None))];
        assert_eq!(updates(&tasks, &reports).1, vec![0]);
        let reports = vec![(n1, report("t3", TaskState::Shutdown, None))];
        assert_eq!(
            updates(&tasks, &reports).1,
            vec![0],
            "complete stays complete"
        );
    }
}
