//! Many simulated nodes: joined a bounded number at a time (each join is a certificate
//! signing and a raft write on the managers), each started as soon as it joined; killed and
//! brought back in groups; their running tasks counted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::FleetError;
use crate::node::SimNode;

/// How often a join that failed is tried again.
const JOIN_ATTEMPTS: u32 = 5;
/// Wait between two attempts of a join.
const JOIN_RETRY: Duration = Duration::from_millis(500);

/// How often [`Fleet::wait_running`] counts.
pub const POLL: Duration = Duration::from_millis(100);

/// What fleet to simulate.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The managers' addresses (`host:port`), tried in order for a join.
    pub managers: Vec<String>,
    /// The worker join token.
    pub token: String,
    /// How many nodes.
    pub nodes: usize,
    /// How long a simulated container takes to start.
    pub start_delay: Duration,
    /// Joins in flight at once at most.
    pub join_concurrency: usize,
    /// The directory that holds the nodes' data roots (one subdirectory each).
    pub work_dir: PathBuf,
    /// Hostnames are this, a dash and the node's index (`sim-00042`).
    pub hostname_prefix: String,
}

/// The hostname of node `index`.
pub fn hostname(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index:05}")
}

/// The address node `index` advertises: a distinct loopback address (nothing listens there;
/// the managers dial a node only to stream its tasks' logs).
pub fn advertise_addr(index: usize) -> String {
    format!(
        "127.{}.{}.{}:4242",
        1 + index / 65_536,
        (index / 256) % 256,
        index % 256
    )
}

/// The simulated nodes, in index order.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<SimNode>,
}

/// Running tasks over the nodes that are up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Nodes up.
    pub up: usize,
    /// Nodes down (killed or stopped).
    pub down: usize,
    /// Containers running over all nodes.
    pub running: usize,
    /// The fewest running on a node that is up.
    pub min_per_node: usize,
    /// The most running on a node that is up.
    pub max_per_node: usize,
    /// Tasks with more than one running container (over all nodes): none in a correct
    /// cluster once it is at rest.
    pub doubled: usize,
    /// A hash of every (node, running task) pair: unchanged exactly when no task stopped,
    /// started or moved (with overwhelming likelihood).
    pub fingerprint: u64,
}

async fn join_one(config: &FleetConfig, index: usize) -> Result<SimNode, FleetError> {
    let root = config.work_dir.join(format!("n{index:05}"));
    std::fs::create_dir_all(&root).map_err(|source| FleetError::Io {
        path: root.clone(),
        source,
    })?;
    let host = hostname(&config.hostname_prefix, index);
    let addr = advertise_addr(index);
    let mut attempt = 1;
    loop {
        match SimNode::join(
            &config.managers,
            &config.token,
            &host,
            &addr,
            &root,
            config.start_delay,
        )
        .await
        {
            Ok(node) => return Ok(node),
            Err(err @ (FleetError::NotWorker(_) | FleetError::NoManagers)) => return Err(err),
            Err(err) if attempt >= JOIN_ATTEMPTS => return Err(err),
            Err(err) => {
                tracing::info!(node = %host, attempt, cause = %err, "join failed; retrying");
                attempt += 1;
                tokio::time::sleep(JOIN_RETRY).await;
            }
        }
    }
}

impl Fleet {
    /// Joins `config.nodes` nodes, at most `config.join_concurrency` at a time, starting
    /// each as soon as it joined. Fails on the first node that cannot join (after retries);
    /// the nodes started by then are stopped.
    pub async fn join(config: &FleetConfig) -> Result<Fleet, FleetError> {
        if config.managers.is_empty() {
            return Err(FleetError::NoManagers);
        }
        let permits = Arc::new(Semaphore::new(config.join_concurrency.max(1)));
        let mut joins = JoinSet::new();
        for index in 0..config.nodes {
            let permits = permits.clone();
            let config = config.clone();
            joins.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let mut node = join_one(&config, index).await?;
                node.start();
                Ok::<_, FleetError>((index, node))
            });
        }
        let mut joined = BTreeMap::new();
        let mut failed = None;
        while let Some(result) = joins.join_next().await {
            match result {
                Ok(Ok((index, node))) => {
                    joined.insert(index, node);
                }
                Ok(Err(err)) => {
                    failed.get_or_insert(err);
                    joins.abort_all();
                }
                Err(err) if err.is_cancelled() => {}
                Err(err) => {
                    failed.get_or_insert(FleetError::Task(err.to_string()));
                    joins.abort_all();
                }
            }
        }
        let mut fleet = Fleet {
            nodes: joined.into_values().collect(),
        };
        if let Some(err) = failed {
            fleet.stop().await;
            return Err(err);
        }
        Ok(fleet)
    }

    /// The nodes, in index order.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// Counts the running tasks of the nodes.
    pub fn census(&self) -> Census {
        let mut census = Census {
            min_per_node: usize::MAX,
            ..Census::default()
        };
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut pairs = Vec::new();
        for node in &self.nodes {
            let mut tasks = node.engine().running_tasks();
            tasks.sort();
            if node.is_up() {
                census.up += 1;
                census.min_per_node = census.min_per_node.min(tasks.len());
                census.max_per_node = census.max_per_node.max(tasks.len());
            } else {
                census.down += 1;
            }
            census.running += tasks.len();
            for task in &tasks {
                *seen.entry(task.clone()).or_default() += 1;
            }
            pairs.push((node.node_id(), tasks));
        }
        if census.up == 0 {
            census.min_per_node = 0;
        }
        census.doubled = seen.values().filter(|n| **n > 1).count();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&pairs, &mut hasher);
        census.fingerprint = std::hash::Hasher::finish(&hasher);
        census
    }

    /// The running tasks of every node: (node id, task id) pairs, by node.
    pub fn running_tasks(&self) -> Vec<(String, String)> {
        self.nodes
            .iter()
            .flat_map(|n| {
                let id = n.node_id().to_owned();
                n.engine()
                    .running_tasks()
                    .into_iter()
                    .map(move |task| (id.clone(), task))
            })
            .collect()
    }

    /// Waits until exactly `tasks` tasks run over the nodes, none twice, looking every
    /// [`POLL`]; how long it took, or the last census when `timeout` passed first.
    pub async fn wait_running(&self, tasks: usize, timeout: Duration) -> Result<Duration, Census> {
        let start = tokio::time::Instant::now();
        loop {
            let census = self.census();
            if census.running == tasks && census.doubled == 0 {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(census);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Kills `count` nodes that are up (the lowest indexes first), as machines that die:
    /// their daemons stop, their containers are gone. Their ids.
    pub async fn kill(&mut self, count: usize) -> Vec<String> {
        let mut chosen: Vec<&mut SimNode> = self
            .nodes
            .iter_mut()
            .filter(|n| n.is_up())
            .take(count)
            .collect();
        // All at once: they go silent together, as a lost rack does.
        for node in &chosen {
            node.signal_stop();
        }
        let mut killed = Vec::new();
        for node in &mut chosen {
            node.kill().await;
            killed.push(node.node_id().to_owned());
        }
        killed
    }

    /// Starts every node that is down again (with the same identity); how many.
    pub fn restore(&mut self) -> usize {
        let mut started = 0;
        for node in self.nodes.iter_mut().filter(|n| !n.is_up()) {
            node.start();
            started += 1;
        }
        started
    }

    /// Crashes up to `count` running tasks, one node after the other; how many.
    pub fn crash(&self, count: usize) -> usize {
        let mut crashed = 0;
        for node in self.nodes.iter().filter(|n| n.is_up()) {
            if crashed == count {
                break;
            }
            crashed += node.engine().crash(count - crashed);
        }
        crashed
    }

    /// The nodes whose worker role ended by itself (removed from the cluster, or failed).
    pub fn ended(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.worker_ended())
            .map(|n| n.node_id().to_owned())
            .collect()
    }

    /// Stops every node's daemons (containers stay, as when node daemons stop).
    pub async fn stop(&mut self) {
        for node in &self.nodes {
            node.signal_stop();
        }
        for node in &mut self.nodes {
            node.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_distinct_per_node() {
        assert_eq!(hostname("sim", 42), "sim-00042");
        assert_eq!(advertise_addr(0), "127.1.0.0:4242");
        assert_eq!(advertise_addr(257), "127.1.1.1:4242");
        assert_eq!(advertise_addr(65_536), "127.2.0.0:4242");
        let all: std::collections::BTreeSet<String> = (0..3000).map(advertise_addr).collect();
        assert_eq!(all.len(), 3000);
    }
}
