//! The ranking of one batch: nodes that passed the static filters, grouped by the values of
//! the spread labels (one level per preference, outermost first, as Swarm nests them), with a
//! min-heap of nodes in each leaf group ranked by (recent failures of the service, tasks of
//! the service, tasks overall). Each placement descends to the child group with the fewest
//! tasks of the service that still has room, then takes the best node of the leaf: O(depth ×
//! values + log nodes) per task instead of a sort of every node.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Rank of a node in a leaf heap; lower is better. The last field is the node's index, so ties
/// go to the node listed first.
pub(crate) type Rank = (u32, u32, u32, usize);

#[derive(Debug, Default)]
struct Group<'v> {
    value: Option<&'v str>,
    parent: Option<usize>,
    children: Vec<usize>,
    /// Tasks of the service on the nodes below.
    count: u64,
    heap: BinaryHeap<Reverse<Rank>>,
    exhausted: bool,
}

/// The spread tree of one batch.
#[derive(Debug)]
pub(crate) struct Tree<'v> {
    groups: Vec<Group<'v>>,
    depth: usize,
    /// The leaf group of each node in it, by node index.
    leaf_of: HashMap<usize, usize>,
}

impl<'v> Tree<'v> {
    /// An empty tree with `depth` levels of spread.
    pub(super) fn new(depth: usize) -> Self {
        Self {
            groups: vec![Group::default()],
            depth,
            leaf_of: HashMap::new(),
        }
    }

    /// Adds node `index`, whose spread label values are `values` (one per level) and which
    /// holds `service_tasks` of the service; `rank` is set when it can take a task now.
    pub(super) fn add(
        &mut self,
        index: usize,
        values: &[Option<&'v str>],
        service_tasks: u32,
        rank: Option<Rank>,
    ) {
        let mut group = 0;
        for value in values.iter().take(self.depth) {
            let found = self.groups[group]
                .children
                .iter()
                .copied()
                .find(|&child| self.groups[child].value == *value);
            group = match found {
                Some(child) => child,
                None => {
                    let child = self.groups.len();
                    self.groups.push(Group {
                        value: *value,
                        parent: Some(group),
                        ..Group::default()
                    });
                    self.groups[group].children.push(child);
                    child
                }
            };
        }
        self.leaf_of.insert(index, group);
        if let Some(rank) = rank {
            self.groups[group].heap.push(Reverse(rank));
        }
        self.bump(group, u64::from(service_tasks));
    }

    /// Orders children by label value (nodes without the label last) and marks the groups
    /// with no node that can take a task.
    pub(super) fn seal(&mut self) {
        for g in 0..self.groups.len() {
            let mut children = std::mem::take(&mut self.groups[g].children);
            children.sort_by_key(|&c| (self.groups[c].value.is_none(), self.groups[c].value));
            self.groups[g].children = children;
        }
        for g in (0..self.groups.len()).rev() {
            let group = &self.groups[g];
            let exhausted = if group.children.is_empty() {
                group.heap.is_empty()
            } else {
                group.children.iter().all(|&c| self.groups[c].exhausted)
            };
            self.groups[g].exhausted = exhausted;
        }
    }

    fn bump(&mut self, mut group: usize, by: u64) {
        loop {
            self.groups[group].count += by;
            match self.groups[group].parent {
                Some(parent) => group = parent,
                None => break,
            }
        }
    }

    /// The leaf to place the next task in: at each level the child with the fewest tasks of
    /// the service that still has room.
    fn pick_leaf(&self) -> Option<usize> {
        let mut group = 0;
        if self.groups[group].exhausted {
            return None;
        }
        while !self.groups[group].children.is_empty() {
            group = self.groups[group]
                .children
                .iter()
                .copied()
                .filter(|&c| !self.groups[c].exhausted)
                .min_by_key(|&c| self.groups[c].count)?;
        }
        Some(group)
    }

    /// Takes the best node for the next task. `fresh` gives a node's current rank, or `None`
    /// when it can no longer take a task of the batch; stale heap entries are refreshed.
    pub(super) fn take(&mut self, mut fresh: impl FnMut(usize) -> Option<Rank>) -> Option<usize> {
        loop {
            let leaf = self.pick_leaf()?;
            if let Some(Reverse(rank)) = self.groups[leaf].heap.pop() {
                match fresh(rank.3) {
                    Some(current) if current == rank => return Some(rank.3),
                    Some(current) => self.groups[leaf].heap.push(Reverse(current)),
                    None => {}
                }
            }
            if self.groups[leaf].heap.is_empty() {
                self.exhaust(leaf);
            }
        }
    }

    /// Records a task placed on node `index`, which ranks `rank` now (`None` when it is full
    /// for the batch).
    pub(super) fn placed(&mut self, index: usize, rank: Option<Rank>) {
        let Some(&leaf) = self.leaf_of.get(&index) else {
            return;
        };
        self.bump(leaf, 1);
        if let Some(rank) = rank {
            self.groups[leaf].heap.push(Reverse(rank));
        } else if self.groups[leaf].heap.is_empty() {
            self.exhaust(leaf);
        }
    }

    fn exhaust(&mut self, leaf: usize) {
        self.groups[leaf].exhausted = true;
        let mut group = leaf;
        while let Some(parent) = self.groups[group].parent {
            if self.groups[parent]
                .children
                .iter()
                .any(|&c| !self.groups[c].exhausted)
            {
                break;
            }
            self.groups[parent].exhausted = true;
            group = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_over_label_values_then_ranks_nodes() {
        // Two zones: a (nodes 0, 1) holding 2 tasks, b (node 2) holding none.
        let mut tree = Tree::new(1);
        tree.add(0, &[Some("a")], 1, Some((0, 1, 1, 0)));
        tree.add(1, &[Some("a")], 1, Some((0, 1, 1, 1)));
        tree.add(2, &[Some("b")], 0, Some((0, 0, 0, 2)));
        tree.seal();
        let mut counts = [1u32, 1, 0];
        let mut order = Vec::new();
        for _ in 0..4 {
            let node = tree.take(|i| Some((0, counts[i], counts[i], i))).unwrap();
            counts[node] += 1;
            order.push(node);
            tree.placed(node, Some((0, counts[node], counts[node], node)));
        }
        // b twice to catch up, then alternate.
        assert_eq!(order, vec![2, 2, 0, 2]);
    }

    #[test]
    fn full_groups_are_skipped_and_an_empty_tree_places_nothing() {
        let mut tree = Tree::new(1);
        tree.add(0, &[Some("a")], 0, None);
        tree.add(1, &[Some("b")], 5, Some((0, 5, 5, 1)));
        tree.seal();
        assert_eq!(tree.take(|i| Some((0, 5, 5, i))), Some(1));
        tree.placed(1, None);
        assert_eq!(tree.take(|_| None), None);
    }
}
