//! Looking at a service on a bed whose nodes run real containers: what the store wants (the
//! tasks through the services API) against what the agents run, and waiting on a condition
//! with a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use cluster_manager::pki::NodeIdentity;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::client::TaskList;
use cluster_manager::services::proto::{DesiredStateFilter, ListTasksRequest};
use orchestrator::swarm::{TaskSlot, TaskState};

use super::{Bed, blocking};

/// A running task container on a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunningContainer {
    /// The member whose agent runs it.
    pub member: usize,
    /// Its slot, from the container name `<service>.<slot>.<task id>`.
    pub slot: u64,
    /// Its task, from the task label.
    pub task: String,
    /// The container id.
    pub id: String,
    /// Its IPv4 address on each network it joins, by network name.
    pub addresses: std::collections::BTreeMap<String, String>,
}

impl Bed {
    /// The tasks of service `name` the store wants running, through member `via`'s services
    /// API.
    pub async fn desired_tasks(&self, via: usize, name: &str) -> Result<TaskList, String> {
        self.services(via)
            .tasks(ListTasksRequest {
                service: name.to_owned(),
                node: String::new(),
                desired_state: DesiredStateFilter::DesiredRunning as i32,
            })
            .await
            .map_err(|e| format!("cannot list the tasks: {e}"))
    }

    /// How many containers (running or not) on any node carry label `key=value`.
    pub fn containers_labelled(&self, key: &str, value: &str) -> usize {
        (0..self.members.len())
            .map(|i| {
                blocking(|| self.containers(i))
                    .into_iter()
                    .filter(|c| c.labels.get(key).map(String::as_str) == Some(value))
                    .count()
            })
            .sum()
    }

    /// A client of member `i`'s services API with member `i`'s certificate.
    pub fn services(&self, i: usize) -> ServicesClient {
        let identity = NodeIdentity::load(&self.members[i].root.join("cluster")).expect("identity");
        ServicesClient::new(&self.members[i].addr, &identity).expect("services client")
    }

    /// Every member's daemon log, one after the other.
    pub fn logs(&self) -> String {
        (0..self.members.len())
            .map(|i| format!("--- node {i} daemon:\n{}", self.log(i)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The running containers of replicated service `name` on every member with an agent.
    pub fn running_containers(&self, name: &str) -> Vec<RunningContainer> {
        let mut running = Vec::new();
        for member in 0..self.members.len() {
            if self.members[member].agent.is_none() {
                continue;
            }
            for c in blocking(|| self.containers(member)) {
                let of_service = c
                    .labels
                    .get("com.docker.swarm.service.name")
                    .map(String::as_str)
                    == Some(name);
                if !of_service || c.state != api::agent::ContainerState::Running as i32 {
                    continue;
                }
                let slot = c
                    .name
                    .trim_start_matches('/')
                    .split('.')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                running.push(RunningContainer {
                    member,
                    slot,
                    task: c
                        .labels
                        .get("com.docker.swarm.task.id")
                        .cloned()
                        .unwrap_or_default(),
                    id: c.id.clone(),
                    addresses: c
                        .networks
                        .iter()
                        .filter_map(|e| {
                            let ip = e.ipv4_address.split('/').next()?;
                            Some((e.network.clone(), ip.to_owned()))
                        })
                        .collect(),
                });
            }
        }
        running.sort();
        running
    }

    /// The member index of node `id`.
    pub fn member_of(&self, id: &str) -> Option<usize> {
        (0..self.members.len()).find(|i| self.node_id(*i) == id)
    }

    /// Whether replicated service `name` is at rest with `n` replicas, as seen through member
    /// `via` and on the agents: the store wants exactly one task in each of `n` slots, each
    /// reported running on its node, and the agents run exactly those tasks' containers, each
    /// on the node the store gives, one per slot. Otherwise, why not.
    pub async fn one_running_per_slot(
        &self,
        via: usize,
        name: &str,
        n: u64,
    ) -> Result<Vec<RunningContainer>, String> {
        let list = self.desired_tasks(via, name).await?;
        let wanted: BTreeMap<String, (u64, Option<usize>, TaskState)> = list
            .tasks
            .iter()
            .map(|t| {
                let slot = match t.task.slot {
                    TaskSlot::Slot(s) => s,
                    TaskSlot::Node(_) => 0,
                };
                let member = t
                    .task
                    .node
                    .as_ref()
                    .and_then(|n| self.member_of(n.as_str()));
                (t.task.id.to_string(), (slot, member, t.task.status.state))
            })
            .collect();
        let slots: BTreeSet<u64> = wanted.values().map(|(s, _, _)| *s).collect();
        if wanted.len() as u64 != n || slots.len() as u64 != n {
            return Err(format!("the store wants {wanted:?}"));
        }
        if let Some((id, _)) = wanted
            .iter()
            .find(|(_, (_, _, state))| *state != TaskState::Running)
        {
            return Err(format!("task {id} is not running yet: {wanted:?}"));
        }
        let running = self.running_containers(name);
        let placed: BTreeMap<String, (u64, Option<usize>)> = running
            .iter()
            .map(|c| (c.task.clone(), (c.slot, Some(c.member))))
            .collect();
        let expected: BTreeMap<String, (u64, Option<usize>)> = wanted
            .iter()
            .map(|(id, (slot, member, _))| (id.clone(), (*slot, *member)))
            .collect();
        if running.len() != placed.len() || placed != expected {
            return Err(format!(
                "the agents run {running:?}, the store wants {expected:?}"
            ));
        }
        Ok(running)
    }
}

/// Polls `check` until it gives a value or `within` passes; then panics with what it last
/// said about `what` and the daemons' logs.
pub async fn wait_until<T, F, Fut>(bed: &Bed, what: &str, within: Duration, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(why) if Instant::now() >= deadline => {
                panic!("{what}: not within {within:?}: {why}\n{}", bed.logs())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
