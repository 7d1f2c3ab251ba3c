//! A plan: a DAG of atomic actions, each with the reason it is needed, plus warnings.
//!
//! Edges point from an action to the actions that must wait for it. The `Display` form is one
//! line per action, numbered in the order the planner added them, with the numbers it waits
//! for and its reason; it is deterministic, so it serves both `--dry-run` and golden tests.

use std::fmt;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::compose::action::Action;

/// One action of a plan and why it is needed.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Why (`config hash changed: image redis:6 → redis:7`).
    pub reason: String,
}

/// The identity of a step within its plan.
pub type StepId = NodeIndex;

/// A DAG of steps and the warnings found while planning.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    graph: DiGraph<Step, ()>,
    warnings: Vec<String>,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step that waits for `after`, and returns its id.
    pub fn add(
        &mut self,
        action: Action,
        reason: impl Into<String>,
        after: impl IntoIterator<Item = StepId>,
    ) -> StepId {
        let id = self.graph.add_node(Step {
            action,
            reason: reason.into(),
        });
        for dependency in after {
            self.depend(id, dependency);
        }
        id
    }

    /// Makes `step` wait for `dependency` (once).
    pub fn depend(&mut self, step: StepId, dependency: StepId) {
        if step != dependency && !self.graph.contains_edge(dependency, step) {
            self.graph.add_edge(dependency, step, ());
        }
    }

    /// Adds a warning.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// The warnings, in the order found.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether the plan has no action (warnings do not count).
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The number of actions.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// The step with this id.
    pub fn step(&self, id: StepId) -> &Step {
        &self.graph[id]
    }

    /// The step ids, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = StepId> + '_ {
        self.graph.node_indices()
    }

    /// The steps `id` waits for, in id order.
    pub fn dependencies(&self, id: StepId) -> Vec<StepId> {
        self.sorted_neighbors(id, Direction::Incoming)
    }

    /// The steps waiting for `id`, in id order.
    pub fn dependants(&self, id: StepId) -> Vec<StepId> {
        self.sorted_neighbors(id, Direction::Outgoing)
    }

    fn sorted_neighbors(&self, id: StepId, direction: Direction) -> Vec<StepId> {
        let mut found: Vec<StepId> = self.graph.neighbors_directed(id, direction).collect();
        found.sort();
        found
    }

    /// The underlying graph (edges from a step to the steps waiting for it).
    pub fn graph(&self) -> &DiGraph<Step, ()> {
        &self.graph
    }

    /// The number shown for a step in the text form (1-based).
    pub fn number(id: StepId) -> usize {
        id.index() + 1
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        for id in self.ids() {
            let step = &self.graph[id];
            write!(f, "{:>2}. {}", Self::number(id), step.action)?;
            let after = self.dependencies(id);
            if !after.is_empty() {
                let numbers: Vec<String> =
                    after.iter().map(|d| Self::number(*d).to_string()).collect();
                write!(f, " [after {}]", numbers.join(", "))?;
            }
            writeln!(f, ": {}", step.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_lists_actions_with_dependencies_and_reasons() {
        let mut plan = Plan::new();
        plan.warn("something odd");
        let pull = plan.add(
            Action::PullImage {
                image: "redis:7".into(),
            },
            "image not present locally",
            [],
        );
        let start = plan.add(
            Action::StartContainer {
                name: "demo-db-1".into(),
            },
            "created",
            [pull],
        );
        plan.depend(start, pull);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan.dependants(pull), [start]);
        assert_eq!(
            plan.to_string(),
            "warning: something odd\n \
             1. pull image redis:7: image not present locally\n \
             2. start container demo-db-1 [after 1]: created\n"
        );
    }
}
