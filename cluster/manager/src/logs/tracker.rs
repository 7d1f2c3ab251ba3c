//! When a subscription without follow is complete: a pure state machine over the nodes it
//! waits for, with the time given by the caller. Each node must answer (its first publish
//! message) within the patience given, and is done when its stream ends or fails; a node that
//! never answers is given up, so a node that is down bounds the wait instead of hanging it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Where one node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    /// Nothing yet.
    Waiting,
    /// Publishing.
    Answered,
    /// Its stream ended or failed, or it was given up.
    Done,
}

/// The nodes a subscription waits for.
#[derive(Debug, Clone)]
pub struct Tracker {
    follow: bool,
    answer_by: Instant,
    nodes: BTreeMap<String, Heard>,
}

impl Tracker {
    /// Waits for `nodes`, each to answer within `patience` of `start`. With `follow` the
    /// subscription is never complete (but silent nodes are still given up).
    pub fn new(
        nodes: impl IntoIterator<Item = String>,
        follow: bool,
        start: Instant,
        patience: Duration,
    ) -> Self {
        Tracker {
            follow,
            answer_by: start + patience,
            nodes: nodes.into_iter().map(|n| (n, Heard::Waiting)).collect(),
        }
    }

    /// `node` sent its first message.
    pub fn answered(&mut self, node: &str) {
        let heard = self.nodes.entry(node.to_owned()).or_insert(Heard::Waiting);
        if *heard == Heard::Waiting {
            *heard = Heard::Answered;
        }
    }

    /// `node`'s stream ended (or failed): it has nothing more to say.
    pub fn ended(&mut self, node: &str) {
        self.nodes.insert(node.to_owned(), Heard::Done);
    }

    /// The nodes still silent at `now` past their time, given up from now on.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        if now < self.answer_by {
            return Vec::new();
        }
        let mut given_up = Vec::new();
        for (node, heard) in &mut self.nodes {
            if *heard == Heard::Waiting {
                *heard = Heard::Done;
                given_up.push(node.clone());
            }
        }
        given_up
    }

    /// When [`Tracker::expire`] may next give a node up, if any node is still silent.
    pub fn deadline(&self) -> Option<Instant> {
        self.nodes
            .values()
            .any(|h| *h == Heard::Waiting)
            .then_some(self.answer_by)
    }

    /// Every node is done (never with follow).
    pub fn complete(&self) -> bool {
        !self.follow && self.nodes.values().all(|h| *h == Heard::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Duration = Duration::from_secs(10);

    fn tracker(nodes: &[&str], follow: bool, start: Instant) -> Tracker {
        Tracker::new(nodes.iter().map(|n| n.to_string()), follow, start, PATIENCE)
    }

    #[test]
    fn complete_once_every_node_ended() {
        let start = Instant::now();
        let mut t = tracker(&["n1", "n2"], false, start);
        assert!(!t.complete());
        t.answered("n1");
        t.ended("n1");
        assert!(!t.complete());
        t.answered("n2");
        assert_eq!(t.deadline(), None);
        assert!(!t.complete());
        t.ended("n2");
        assert!(t.complete());
    }

    #[test]
    fn silent_nodes_are_given_up_after_the_patience_only() {
        let start = Instant::now();
        let mut t = tracker(&["n1", "n2", "n3"], false, start);
        t.answered("n1");
        t.ended("n1");
        t.answered("n2");
        assert_eq!(t.deadline(), Some(start + PATIENCE));
        assert!(t.expire(start + PATIENCE / 2).is_empty());
        assert_eq!(t.expire(start + PATIENCE), ["n3"]);
        assert!(t.expire(start + PATIENCE * 2).is_empty());
        // n2 answered: it is waited for until its stream ends.
        assert!(!t.complete());
        t.ended("n2");
        assert!(t.complete());
    }

    #[test]
    fn nothing_to_wait_for_is_complete_at_once() {
        assert!(tracker(&[], false, Instant::now()).complete());
    }

    #[test]
    fn follow_never_completes() {
        let start = Instant::now();
        let mut t = tracker(&["n1"], true, start);
        t.answered("n1");
        t.ended("n1");
        assert!(!t.complete());
    }
}
