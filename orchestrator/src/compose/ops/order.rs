//! Which services the lifecycle commands act on, and in what order, as Compose decides it:
//! `start` brings the named services up with everything they depend on; `restart` takes the
//! named services down and up again together with the services that declared
//! `depends_on: {SERVICE: {restart: true}}` on them. Both act in dependency order. `run` brings
//! up what its service depends on.

use compose_spec::model::Project;

use crate::compose::graph::ServiceGraph;

/// The services `start` acts on, dependencies first: the named ones and everything they
/// depend on, transitively (every service when none is named).
pub fn start_order(graph: &ServiceGraph, services: &[String]) -> Vec<String> {
    if services.is_empty() {
        return graph.order().to_vec();
    }
    let wanted = graph.with_dependencies(services);
    in_order(graph, |s| wanted.contains(s))
}

/// The services `run SERVICE` brings up before its one-off container: everything `service`
/// depends on, transitively, itself left out (sorted).
pub fn run_dependencies(graph: &ServiceGraph, service: &str) -> Vec<String> {
    let mut deps = graph.with_dependencies(&[service.to_string()]);
    deps.remove(service);
    deps.into_iter().collect()
}

/// The services `wanted` picks, in the graph's dependency order.
fn in_order(graph: &ServiceGraph, wanted: impl Fn(&String) -> bool) -> Vec<String> {
    graph
        .order()
        .iter()
        .filter(|s| wanted(s))
        .cloned()
        .collect()
}

/// The services `restart` acts on, dependencies first: the named ones (every service when
/// none is named) and, unless `no_deps`, the services that depend on one of them with
/// `restart: true`, transitively.
pub fn restart_order(
    project: &Project,
    graph: &ServiceGraph,
    services: &[String],
    no_deps: bool,
) -> Vec<String> {
    if services.is_empty() {
        return graph.order().to_vec();
    }
    let mut wanted: Vec<String> = services.to_vec();
    if !no_deps {
        // The graph's order puts every dependency before its dependents, so one pass in that
        // order reaches the dependents of dependents too.
        for service in graph.order() {
            let restarts_with = project.services.get(service).is_some_and(|s| {
                s.depends_on
                    .iter()
                    .any(|(dependency, on)| on.restart && wanted.contains(dependency))
            });
            if restarts_with && !wanted.contains(service) {
                wanted.push(service.clone());
            }
        }
    }
    in_order(graph, |s| wanted.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use compose_spec::model;

    fn project() -> Project {
        model::from_json(&serde_json::json!({ "services": {
            "db": {"image": "d"},
            "cache": {"image": "c"},
            "api": {"image": "a", "depends_on": {
                "db": {"condition": "service_started", "restart": true},
                "cache": {"condition": "service_started"}
            }},
            "web": {"image": "w", "depends_on": {
                "api": {"condition": "service_started", "restart": true}
            }},
            "worker": {"image": "k", "depends_on": ["db"]},
            "lone": {"image": "l"}
        }}))
        .unwrap()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn start_takes_the_dependencies_first() {
        let p = project();
        let g = ServiceGraph::new(&p).unwrap();
        let order = start_order(&g, &strings(&["web"]));
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, strings(&["api", "cache", "db", "web"]));
        let pos = |s: &str| order.iter().position(|x| x == s).unwrap();
        assert!(pos("db") < pos("api") && pos("cache") < pos("api") && pos("api") < pos("web"));
        assert_eq!(start_order(&g, &strings(&["lone"])), strings(&["lone"]));
        assert_eq!(start_order(&g, &[]).len(), 6);
    }

    #[test]
    fn run_brings_up_what_the_service_depends_on_not_itself() {
        let p = project();
        let g = ServiceGraph::new(&p).unwrap();
        assert_eq!(
            run_dependencies(&g, "web"),
            strings(&["api", "cache", "db"])
        );
        assert!(run_dependencies(&g, "lone").is_empty());
    }

    #[test]
    fn restart_takes_the_dependents_that_asked_for_it() {
        let p = project();
        let g = ServiceGraph::new(&p).unwrap();
        // db → api (restart: true) → web (restart: true); worker depends on db without it.
        let order = restart_order(&p, &g, &strings(&["db"]), false);
        assert_eq!(order, strings(&["db", "api", "web"]));
        // cache → api without restart: api is left alone.
        assert_eq!(
            restart_order(&p, &g, &strings(&["cache"]), false),
            strings(&["cache"])
        );
        assert_eq!(
            restart_order(&p, &g, &strings(&["db"]), true),
            strings(&["db"])
        );
        assert_eq!(restart_order(&p, &g, &[], false).len(), 6);
    }
}
