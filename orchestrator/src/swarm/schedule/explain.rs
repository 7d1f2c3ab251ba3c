//! Why a task cannot be placed: one line counting the nodes per failing filter, e.g.
//! `no suitable node (3 nodes: insufficient memory for a 2GiB reservation on 2, constraint
//! node.labels.zone==east not met on 1)`.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::swarm::schedule::filter::FilterFailure;

/// The reason a task stays pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct NoSuitableNode {
    /// Nodes considered.
    pub nodes: usize,
    /// Each failing filter (as it reads) with the number of nodes that failed it, most nodes
    /// first.
    pub failures: Vec<(String, usize)>,
}

impl NoSuitableNode {
    /// Counts `failures` (one per node considered).
    pub(crate) fn count(nodes: usize, failures: impl IntoIterator<Item = FilterFailure>) -> Self {
        let mut counts: HashMap<FilterFailure, usize> = HashMap::new();
        for failure in failures {
            *counts.entry(failure).or_default() += 1;
        }
        let mut sorted: Vec<(FilterFailure, usize)> = counts.into_iter().collect();
        sorted.sort_by(|(fa, a), (fb, b)| {
            b.cmp(a)
                .then(fa.rank().cmp(&fb.rank()))
                .then_with(|| fa.to_string().cmp(&fb.to_string()))
        });
        Self {
            nodes,
            failures: sorted
                .into_iter()
                .map(|(failure, count)| (failure.to_string(), count))
                .collect(),
        }
    }
}

impl fmt::Display for NoSuitableNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.nodes == 1 { "node" } else { "nodes" };
        write!(f, "no suitable node ({} {noun}", self.nodes)?;
        for (i, (failure, count)) in self.failures.iter().enumerate() {
            let lead = if i == 0 { ": " } else { ", " };
            write!(f, "{lead}{failure} on {count}")?;
        }
        f.write_str(")")
    }
}

impl From<NoSuitableNode> for String {
    fn from(value: NoSuitableNode) -> Self {
        value.to_string()
    }
}

/// A reason text that is not the shape [`NoSuitableNode`] prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a scheduling reason: {0:?}")]
pub struct ReasonParseError(String);

impl TryFrom<String> for NoSuitableNode {
    type Error = ReasonParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let bad = || ReasonParseError(text.clone());
        let inner = text
            .strip_prefix("no suitable node (")
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(bad)?;
        let (head, rest) = match inner.split_once(": ") {
            Some((head, rest)) => (head, Some(rest)),
            None => (inner, None),
        };
        let nodes = head
            .split_once(' ')
            .and_then(|(n, _)| n.parse().ok())
            .ok_or_else(bad)?;
        let mut failures = Vec::new();
        for part in rest.into_iter().flat_map(|r| r.split(", ")) {
            let (failure, count) = part.rsplit_once(" on ").ok_or_else(bad)?;
            failures.push((failure.to_string(), count.parse().map_err(|_| bad())?));
        }
        Ok(Self { nodes, failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_counts_nodes_per_failing_filter() {
        let zone = FilterFailure::Constraint("node.labels.zone==east".parse().unwrap());
        let memory = FilterFailure::Memory(2 << 30);
        let reason = NoSuitableNode::count(3, [zone, memory.clone(), memory]);
        assert_eq!(
            reason.to_string(),
            "no suitable node (3 nodes: insufficient memory for a 2GiB reservation on 2, constraint node.labels.zone==east not met on 1)"
        );
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(
            serde_json::from_str::<NoSuitableNode>(&json).unwrap(),
            reason
        );
    }

    #[test]
    fn ties_follow_the_pipeline_order() {
        let reason = NoSuitableNode::count(
            2,
            [
                FilterFailure::MaxReplicas(1),
                FilterFailure::NotReady(crate::swarm::node::NodeStatus::Down),
            ],
        );
        assert_eq!(
            reason.to_string(),
            "no suitable node (2 nodes: node down on 1, max replicas per node (1) reached on 1)"
        );
        assert_eq!(
            NoSuitableNode::count(0, []).to_string(),
            "no suitable node (0 nodes)"
        );
    }
}
