//! The node's tasks: one actor per assigned task, started, updated and unassigned as the
//! assignment set changes. A new actor adopts the container the node already has for its
//! task (found by the task label), so a restarted node daemon never runs a task twice; a
//! task container whose task is in no set and has no actor is removed.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::dispatcher::StatusReport;
use crate::dispatcher::sets::NodeSet;
use crate::tasks::actor::{self, Order};
use crate::tasks::attached::{self, Attached};
use crate::tasks::disconnect::CutOff;
use crate::tasks::engine::TaskEngine;
use crate::tasks::machine::Found;
use crate::tasks::overlays;
use orchestrator::swarm::{NodeId, TaskId};

/// The actors of one node.
pub(super) struct Runner<E> {
    engine: Arc<E>,
    node: NodeId,
    actors: BTreeMap<TaskId, watch::Sender<Order>>,
    reports: mpsc::UnboundedSender<StatusReport>,
    /// What the managers last said of the routing mesh.
    mesh: overlays::Mesh,
    /// What the managers last said of the node's standalone containers on overlays.
    attached: Attached,
    /// Where the attachments whose container is gone are sent to be withdrawn.
    withdraw: Option<mpsc::UnboundedSender<String>>,
}

impl<E: TaskEngine> Runner<E> {
    /// A runner on `engine` for node `node`, reporting into `reports`.
    pub(super) fn new(engine: Arc<E>, node: NodeId, reports: mpsc::UnboundedSender<StatusReport>) -> Self {
        Runner {
            engine,
            node,
            actors: BTreeMap::new(),
            reports,
            mesh: overlays::Mesh::Unknown,
            attached: Attached::Unknown,
            withdraw: None,
        }
    }

    /// Sends the ids of attachments whose container is gone into `withdraw`.
    pub(super) fn withdraw_into(&mut self, withdraw: mpsc::UnboundedSender<String>) {
        self.withdraw = Some(withdraw);
    }

    /// Takes what the managers say of the node's standalone containers on overlays (applied
    /// by the next [`Runner::apply`]); true when it changed.
    pub(super) fn set_attached(&mut self, attached: Attached) -> bool {
        let changed = self.attached != attached;
        self.attached = attached;
        changed
    }

    /// Withdraws the attachments whose container is gone ([`attached::orphans`]); false when
    /// the node has attachments (their containers are checked again at the next call) or the
    /// agent could not be asked.
    async fn check_attached(&self) -> bool {
        let list = self.attached.list();
        if list.is_empty() {
            return true;
        }
        let mut present = std::collections::BTreeSet::new();
        for a in list {
            match self.engine.find(&a.container).await {
                Ok(Some(_)) => {
                    present.insert(a.container.clone());
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::debug!(container = %a.container, cause = %err, "cannot look for a standalone container");
                    return false;
                }
            }
        }
        let now = crate::control::now().0;
        for id in attached::orphans(list, &present, now) {
            if let Some(withdraw) = &self.withdraw {
                let _ = withdraw.send(id);
            }
        }
        false
    }

    /// Takes what the managers say of the routing mesh (applied by the next [`Runner::apply`]);
    /// true when it changed.
    pub(super) fn set_mesh(&mut self, mesh: overlays::Mesh) -> bool {
        let changed = self.mesh != mesh;
        self.mesh = mesh;
        changed
    }

    /// The tasks that have an actor.
    #[cfg(test)]
    pub(super) fn tasks(&self) -> std::collections::BTreeSet<TaskId> {
        self.actors.keys().cloned().collect()
    }

    /// Tells the actors of `due` to stop their tasks (`--stop-on-disconnect`); an actor told
    /// so already is not told again.
    pub(super) fn cut_off(&self, due: &[CutOff]) {
        for cut in due {
            let Some(orders) = self.actors.get(&cut.task) else {
                continue;
            };
            let told = orders.send_if_modified(|order| {
                if matches!(order, Order::CutOff(_)) {
                    return false;
                }
                *order = Order::CutOff(cut.reason.clone());
                true
            });
            if told {
                tracing::warn!(task = %cut.task, reason = %cut.reason, "no manager reachable; stopping the task");
            }
        }
    }

    /// Makes the actors follow `set`: new tasks get one (adopting their container), changed
    /// ones get the new assignment, gone ones are unassigned; the node's overlays follow it
    /// too ([`overlays::sync`]). False when the agent could not be listed (new tasks then
    /// wait for the next call; nothing is started blind), an overlay change is left to do, or
    /// the node has standalone containers on overlays (whose presence is checked again at the
    /// next call, so that a removed one's attachment is withdrawn).
    pub(super) async fn apply(&mut self, set: &NodeSet) -> bool {
        // Actors that ended (their task unassigned and cleaned up) are forgotten.
        self.actors.retain(|_, orders| !orders.is_closed());
        let containers = match self.engine.task_containers().await {
            Ok(list) => list,
            // A node without tasks may run no agent at all: only say so loudly when it matters.
            Err(err) if set.is_empty() && self.actors.is_empty() => {
                tracing::debug!(cause = %err, "cannot list the node's task containers");
                return false;
            }
            Err(err) => {
                tracing::warn!(cause = %err, "cannot list the node's task containers");
                return false;
            }
        };
        // The overlays first: a new task's container joins its networks when created.
        let overlays_done =
            overlays::sync(self.engine.as_ref(), set, &self.mesh, &self.attached).await;
        let attached_done = self.check_attached().await;
        let mut found: BTreeMap<String, Found> = BTreeMap::new();
        for c in containers {
            found.insert(c.task_id, c.found);
        }
        for (id, orders) in &self.actors {
            if !set.contains_key(id) {
                orders.send_if_modified(|order| {
                    let changed = *order != Order::Unassigned;
                    *order = Order::Unassigned;
                    changed
                });
            }
        }
        for (id, assignment) in set {
            let order = Order::Assigned(Box::new(assignment.clone()));
            if let Some(orders) = self.actors.get(id) {
                orders.send_if_modified(|current| {
                    let changed = *current != order;
                    *current = order.clone();
                    changed
                });
                continue;
            }
            let (tx, rx) = watch::channel(order);
            tokio::spawn(actor::run(
                self.engine.clone(),
                self.node.clone(),
                found.remove(id.as_str()),
                rx,
                self.reports.clone(),
            ));
            self.actors.insert(id.clone(), tx);
        }
        // Containers of tasks this node no longer knows at all (unassigned while the daemon
        // was down).
        for (task, stray) in found {
            let id = TaskId(task.clone());
            if self.actors.contains_key(&id) || set.contains_key(&id) {
                continue;
            }
            let (Found::Created(id) | Found::Running(id) | Found::Exited(id, _)) = stray;
            tracing::info!(%task, container = %id, "removing the container of a task no longer assigned");
            let engine = self.engine.clone();
            tokio::spawn(async move {
                if let Err(err) = engine.stop(&id).await {
                    tracing::debug!(container = %id, cause = %err, "stop before removal failed");
                }
                if let Err(err) = engine.remove(&id).await {
                    tracing::warn!(container = %id, cause = %err, "cannot remove a stray task container");
                }
            });
        }
        overlays_done && attached_done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::Assignment;
    use crate::tasks::fake::FakeEngine;
    use orchestrator::swarm::{DesiredState, ServiceSpec, TaskSlot, TaskState};
    use std::time::Duration;

    fn assignment(id: &str, slot: u64, image: &str) -> Assignment {
        Assignment {
            task_id: id.into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot: TaskSlot::Slot(slot),
            desired_state: DesiredState::Running,
            finished: false,
            spec_version: 1,
            registry_auth: None,
            files: Vec::new(),
            spec: std::sync::Arc::new(ServiceSpec {
                image: image.into(),
                ..ServiceSpec::default()
            }),
            networks: Vec::new(),
        }
    }

    fn set(list: &[Assignment]) -> NodeSet {
        list.iter()
            .map(|a| (a.task_id.clone(), a.clone()))
            .collect()
    }

    /// Collects reports until task `id` reaches `state`.
    async fn until(
        rx: &mut mpsc::UnboundedReceiver<StatusReport>,
        id: &str,
        state: TaskState,
    ) -> StatusReport {
        let wait = async {
            loop {
                let r = rx.recv().await.expect("reports");
                if r.task_id.as_str() == id && r.status.state == state {
                    return r;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("task {id} never reported {state}"))
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..500 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never: {what}");
    }

    #[tokio::test]
    async fn tasks_run_exit_shut_down_and_are_rejected_on_a_bad_pull() {
        let engine = Arc::new(FakeEngine::default());
        engine.lock().bad_images.insert("bad:1".into());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut runner = Runner::new(engine.clone(), "n1".into(), tx);
        let a = assignment("t1", 1, "busybox");
        let b = assignment("t2", 2, "bad:1");
        assert!(runner.apply(&set(&[a.clone(), b])).await);
        until(&mut rx, "t1", TaskState::Running).await;
        let rejected = until(&mut rx, "t2", TaskState::Rejected).await;
        assert_eq!(
            rejected.status.error.as_deref(),
            Some("pull bad:1: not found")
        );
        assert!(engine.calls().contains(&"create web.1.t1".to_owned()));
        assert!(!engine.calls().iter().any(|c| c.contains("web.2.t2")));

        let mut down = a.clone();
        down.desired_state = DesiredState::Shutdown;
        runner.apply(&set(&[down])).await;
        until(&mut rx, "t1", TaskState::Shutdown).await;
        eventually("t1's container removed", || {
            engine.lock().containers.is_empty()
        })
        .await;
        let calls = engine.calls();
        let stop = calls.iter().position(|c| c == "stop c1").expect("stopped");
        let remove = calls
            .iter()
            .position(|c| c == "remove c1")
            .expect("removed");
        assert!(stop < remove);
    }

    #[tokio::test]
    async fn a_task_with_a_healthcheck_runs_once_healthy_and_fails_when_unhealthy() {
        use crate::tasks::engine::Health;
        let engine = Arc::new(FakeEngine::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut runner = Runner::new(engine.clone(), "n1".into(), tx);
        let mut checked = assignment("t1", 1, "busybox");
        std::sync::Arc::make_mut(&mut checked.spec).healthcheck = Some(orchestrator::swarm::Healthcheck {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        });
        runner.apply(&set(&[checked])).await;
        until(&mut rx, "t1", TaskState::Starting).await;
        eventually("the container started", || {
            engine
                .lock()
                .containers
                .get("c1")
                .is_some_and(|c| c.running)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            rx.try_recv().is_err(),
            "not reported running before its healthcheck passes"
        );
        engine.set_health("c1", Health::Healthy);
        until(&mut rx, "t1", TaskState::Running).await;
        engine.set_health("c1", Health::Unhealthy);
        let failed = until(&mut rx, "t1", TaskState::Failed).await;
        assert_eq!(
            failed.status.error.as_deref(),
            Some("task: unhealthy container")
        );
        eventually("the unhealthy container stopped", || {
            engine.calls().contains(&"stop c1".to_owned())
        })
        .await;
    }

    #[tokio::test]
    async fn a_task_on_a_network_gets_its_overlay_first_and_the_last_one_out_removes_it() {
        use crate::dispatcher::networks::{RemoteEndpoint, TaskNetwork};
        use std::net::Ipv4Addr;
        let engine = Arc::new(FakeEngine::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut runner = Runner::new(engine.clone(), "n1".into(), tx);
        let remote = |last: u8| RemoteEndpoint {
            ip: Ipv4Addr::new(10, 32, 0, last),
            mac: format!("02:42:0a:20:00:{last:02x}"),
            node: Ipv4Addr::new(10, 213, 0, 2),
            names: vec!["web".into()],
        };
        let mut a = assignment("t1", 1, "busybox");
        a.networks = vec![TaskNetwork {
            id: "net1".into(),
            name: "front".into(),
            vni: 4096,
            subnet: "10.32.0.0/20".into(),
            gateway: Ipv4Addr::new(10, 32, 0, 1),
            internal: false,
            attachable: false,
            underlay: Ipv4Addr::new(10, 213, 0, 1),
            ip: Ipv4Addr::new(10, 32, 0, 2),
            mac: "02:42:0a:20:00:02".into(),
            names: vec!["web".into(), "tasks.web".into()],
            peers: vec![remote(3)],
            services: Vec::new(),
            bridge_mac: None,
            keys: None,
        }];
        assert!(runner.apply(&set(&[a.clone()])).await);
        until(&mut rx, "t1", TaskState::Running).await;
        let calls = engine.calls();
        let overlay = calls
            .iter()
            .position(|c| c == "create overlay front vni 4096")
            .expect("overlay created");
        let create = calls
            .iter()
            .position(|c| c == "create web.1.t1")
            .expect("container created");
        assert!(overlay < create, "{calls:?}");
        assert!(calls.contains(&"peers front 10.32.0.3".to_owned()));

        // A remote task goes: its endpoint is withdrawn.
        a.networks[0].peers = vec![remote(4)];
        runner.apply(&set(&[a.clone()])).await;
        assert!(engine.calls().contains(&"peers front 10.32.0.4".to_owned()));

        // The task stops: the overlay goes once its container is gone.
        let mut down = a.clone();
        down.desired_state = DesiredState::Shutdown;
        runner.apply(&set(&[down])).await;
        until(&mut rx, "t1", TaskState::Shutdown).await;
        eventually("t1's container removed", || {
            engine.lock().containers.is_empty()
        })
        .await;
        assert!(runner.apply(&NodeSet::new()).await);
        assert!(engine.lock().overlays.is_empty());
        assert!(engine.calls().contains(&"remove overlay front".to_owned()));
    }

    #[tokio::test]
    async fn exits_report_their_code_and_finished_containers_go_with_the_task() {
        let engine = Arc::new(FakeEngine::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut runner = Runner::new(engine.clone(), "n1".into(), tx);
        runner.apply(&set(&[assignment("t1", 1, "busybox")])).await;
        until(&mut rx, "t1", TaskState::Running).await;
        engine.exit("c1", 3);
        let failed = until(&mut rx, "t1", TaskState::Failed).await;
        assert_eq!(failed.status.exit_code, Some(3));
        assert_eq!(engine.lock().containers.len(), 1, "kept as history");
        runner.apply(&NodeSet::new()).await;
        eventually("the finished container removed", || {
            engine.lock().containers.is_empty()
        })
        .await;
    }

    #[tokio::test]
    async fn cut_off_tasks_stop_and_fail_with_the_reason_once_the_others_run_on() {
        let engine = Arc::new(FakeEngine::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut runner = Runner::new(engine.clone(), "n1".into(), tx);
        let mut cut = assignment("t1", 1, "busybox");
        std::sync::Arc::make_mut(&mut cut.spec).stop_on_disconnect = Some(Duration::from_secs(3));
        let kept = assignment("t2", 2, "busybox");
        let tasks = set(&[cut, kept]);
        runner.apply(&tasks).await;
        until(&mut rx, "t1", TaskState::Running).await;
        until(&mut rx, "t2", TaskState::Running).await;
        let due = crate::tasks::disconnect::due(&tasks, Duration::from_secs(5));
        runner.cut_off(&due);
        runner.cut_off(&due);
        let failed = until(&mut rx, "t1", TaskState::Failed).await;
        assert_eq!(
            failed.status.error.as_deref(),
            Some("stopped: no manager reachable for 3s (stop-on-disconnect)")
        );
        let id = |name: &str| {
            let state = engine.lock();
            let (id, _) = state
                .containers
                .iter()
                .find(|(_, c)| c.name == name)
                .expect("container");
            id.clone()
        };
        let (c1, c2) = (id("web.1.t1"), id("web.2.t2"));
        let count = |call: String| engine.calls().iter().filter(|c| **c == call).count();
        assert_eq!(count(format!("stop {c1}")), 1, "{:?}", engine.calls());
        assert_eq!(count(format!("stop {c2}")), 0, "{:?}", engine.calls());
        assert_eq!(count(format!("remove {c1}")), 0, "kept as history");
        assert!(!engine.lock().containers[&c1].running);
        assert!(engine.lock().containers[&c2].running);
        // Back in touch with the same set, nothing starts the stopped task again.
        runner.apply(&tasks).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(count(format!("start {c1}")), 1);
        assert!(!engine.lock().containers[&c1].running);
    }

    #[tokio::test]
    async fn a_new_runner_adopts_containers_and_removes_strays() {
        let engine = Arc::new(FakeEngine::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let a = assignment("t1", 1, "busybox");
        let mut first = Runner::new(engine.clone(), "n1".into(), tx.clone());
        first
            .apply(&set(&[a.clone(), assignment("t2", 2, "busybox")]))
            .await;
        until(&mut rx, "t1", TaskState::Running).await;
        until(&mut rx, "t2", TaskState::Running).await;
        // The node daemon restarts: its actors go, the containers stay.
        drop(first);
        let mut second = Runner::new(engine.clone(), "n1".into(), tx);
        // Meanwhile t2 was unassigned.
        second.apply(&set(&[a])).await;
        until(&mut rx, "t1", TaskState::Running).await;
        eventually("t2's stray container removed", || {
            engine.lock().containers.len() == 1
        })
        .await;
        let creates = engine
            .calls()
            .iter()
            .filter(|c| c.starts_with("create web.1.t1"))
            .count();
        assert_eq!(creates, 1, "t1 adopted, not created again");
        assert_eq!(second.tasks().len(), 1);
    }
}
