//! The service dependency graph of a project (`depends_on`, with the implicit dependencies the
//! loader added), over petgraph.

use std::collections::{BTreeMap, BTreeSet};

use compose_spec::model::{Project, Service};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;
use petgraph::{Direction, Graph};

use crate::compose::error::PlanError;

/// Services and their dependencies; edges point from a dependency to its dependent.
#[derive(Debug, Clone)]
pub struct ServiceGraph {
    graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
    order: Vec<String>,
}

impl ServiceGraph {
    /// The graph of the project's enabled services. Dependencies on services that are not
    /// enabled are left out; a cycle is an error naming a service on it.
    pub fn new(project: &Project) -> Result<Self, PlanError> {
        Self::of(&project.services)
    }

    /// The graph of these services.
    pub fn of(services: &BTreeMap<String, Service>) -> Result<Self, PlanError> {
        let mut graph = Graph::new();
        let mut index = BTreeMap::new();
        for name in services.keys() {
            index.insert(name.clone(), graph.add_node(name.clone()));
        }
        for (name, service) in services {
            for dependency in service.depends_on.keys() {
                if let Some(&from) = index.get(dependency) {
                    graph.add_edge(from, index[name], ());
                }
            }
        }
        let sorted = toposort(&graph, None).map_err(|cycle| PlanError::DependencyCycle {
            service: graph[cycle.node_id()].clone(),
        })?;
        let order = sorted.into_iter().map(|n| graph[n].clone()).collect();
        Ok(Self {
            graph,
            index,
            order,
        })
    }

    /// All services, dependencies before dependents (ties in a deterministic order).
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// The direct dependencies of `service`, sorted.
    pub fn dependencies(&self, service: &str) -> Vec<&str> {
        self.neighbors(service, Direction::Incoming)
    }

    /// The direct dependents of `service`, sorted.
    pub fn dependents(&self, service: &str) -> Vec<&str> {
        self.neighbors(service, Direction::Outgoing)
    }

    fn neighbors(&self, service: &str, direction: Direction) -> Vec<&str> {
        let Some(&node) = self.index.get(service) else {
            return Vec::new();
        };
        let mut found: Vec<&str> = self
            .graph
            .neighbors_directed(node, direction)
            .map(|n| self.graph[n].as_str())
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// `services` with everything they depend on, transitively.
    pub fn with_dependencies(&self, services: &[String]) -> BTreeSet<String> {
        let reversed = petgraph::visit::Reversed(&self.graph);
        let mut found = BTreeSet::new();
        for service in services {
            if let Some(&start) = self.index.get(service) {
                let mut dfs = Dfs::new(reversed, start);
                while let Some(node) = dfs.next(reversed) {
                    found.insert(self.graph[node].clone());
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compose_spec::model;

    fn project(services: serde_json::Value) -> Project {
        model::from_json(&serde_json::json!({ "services": services })).unwrap()
    }

    #[test]
    fn orders_dependencies_first() {
        let p = project(serde_json::json!({
            "web": {"image": "w", "depends_on": ["api"]},
            "api": {"image": "a", "depends_on": ["db", "cache"]},
            "db": {"image": "d"},
            "cache": {"image": "c"},
            "lone": {"image": "l", "depends_on": {"gone": {"required": false}}}
        }));
        let g = ServiceGraph::new(&p).unwrap();
        let pos = |s: &str| g.order().iter().position(|x| x == s).unwrap();
        assert!(pos("db") < pos("api") && pos("cache") < pos("api") && pos("api") < pos("web"));
        assert_eq!(g.dependencies("api"), ["cache", "db"]);
        assert_eq!(g.dependents("db"), ["api"]);
        assert!(g.dependencies("lone").is_empty());
        assert_eq!(
            g.with_dependencies(&["web".to_string()])
                .into_iter()
                .collect::<Vec<_>>(),
            ["api", "cache", "db", "web"]
        );
    }

    #[test]
    fn a_cycle_is_an_error() {
        let p = project(serde_json::json!({
            "a": {"image": "x", "depends_on": ["b"]},
            "b": {"image": "x", "depends_on": ["a"]}
        }));
        let err = ServiceGraph::new(&p).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dependency cycle through service "),
            "{err}"
        );
    }
}
