//! `depends_on` at a stack's first deploy: the services in an order where every dependency
//! comes before its dependents, each with what it waits for. The CLI creates a service only
//! once the services it depends on meet their conditions; afterwards, each service runs on
//! its own (a cluster restarts and moves tasks without regard to other services).

use compose_spec::model::{DependsOnCondition, Project};

use super::error::StackError;
use crate::compose::graph::ServiceGraph;

/// One dependency of a stack service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The cluster name of the service depended on (`<stack>_db`).
    pub service: String,
    /// What the dependent waits for.
    pub condition: DependsOnCondition,
}

/// A stack service's place in the start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// Its cluster name.
    pub service: String,
    /// Its dependencies among the stack's services, sorted.
    pub dependencies: Vec<Dependency>,
}

/// The services of `project` as stack `stack`, dependencies first (ties by name); a
/// dependency cycle is an error naming a service on it.
pub fn start_order(project: &Project, stack: &str) -> Result<Vec<Start>, StackError> {
    let graph = ServiceGraph::new(project).map_err(|e| StackError::Dependencies(e.to_string()))?;
    Ok(graph
        .order()
        .iter()
        .map(|name| {
            let dependencies = project.services[name]
                .depends_on
                .iter()
                .filter(|(dependency, _)| project.services.contains_key(*dependency))
                .map(|(dependency, given)| Dependency {
                    service: super::service_name(stack, dependency),
                    condition: given.condition,
                })
                .collect();
            Start {
                service: super::service_name(stack, name),
                dependencies,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::tests::project;

    #[test]
    fn dependencies_come_first_with_their_conditions() {
        let p = project(
            "app",
            r#"
services:
  web:
    image: nginx
    depends_on:
      api: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  api: {image: busybox, depends_on: [db]}
  db: {image: postgres}
  migrate: {image: busybox, depends_on: [db]}
"#,
        );
        let order = start_order(&p, "app").unwrap();
        let names: Vec<&str> = order.iter().map(|s| s.service.as_str()).collect();
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(at("app_db") < at("app_api") && at("app_db") < at("app_migrate"));
        assert!(at("app_api") < at("app_web") && at("app_migrate") < at("app_web"));
        let web = &order[at("app_web")];
        assert_eq!(
            web.dependencies,
            [
                Dependency {
                    service: "app_api".into(),
                    condition: DependsOnCondition::ServiceHealthy,
                },
                Dependency {
                    service: "app_migrate".into(),
                    condition: DependsOnCondition::ServiceCompletedSuccessfully,
                },
            ]
        );
        assert_eq!(
            order[at("app_api")].dependencies[0].condition,
            DependsOnCondition::ServiceStarted
        );
        assert!(order[at("app_db")].dependencies.is_empty());
    }
}
