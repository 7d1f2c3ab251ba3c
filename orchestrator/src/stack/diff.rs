//! The desired services of a stack against the ones the cluster has: what to create, what to
//! update (only when the spec differs, so redeploying an unchanged file changes nothing), what
//! to remove (with prune) and what stays.

use super::convert::StackService;
use super::stack_of;
use crate::swarm::ServiceSpec;

/// A service the cluster has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its current spec.
    pub spec: ServiceSpec,
}

/// One thing `stack deploy` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A service of the file the cluster does not have.
    Create(StackService),
    /// A service whose spec differs from the file's.
    Update {
        /// The existing service's id.
        id: String,
        /// The service as the file has it.
        service: StackService,
    },
    /// A service the file and the cluster agree on.
    Unchanged(StackService),
    /// A service of the stack no longer in the file (with prune).
    Remove {
        /// Its id.
        id: String,
        /// Its name.
        name: String,
    },
}

impl Change {
    /// The cluster service's name.
    pub fn name(&self) -> &str {
        match self {
            Change::Create(s) | Change::Unchanged(s) | Change::Update { service: s, .. } => &s.name,
            Change::Remove { name, .. } => name,
        }
    }
}

/// What turns the services of `stack` among `existing` into `desired`: the desired ones in
/// their order, then, when `prune`, the removals by name. Services of other stacks, and
/// services without the stack's namespace label, are never touched.
pub fn diff(
    stack: &str,
    desired: Vec<StackService>,
    existing: &[Existing],
    prune: bool,
) -> Vec<Change> {
    let ours: Vec<&Existing> = existing
        .iter()
        .filter(|e| stack_of(&e.spec.labels) == Some(stack))
        .collect();
    let mut changes: Vec<Change> = desired
        .into_iter()
        .map(
            |service| match ours.iter().find(|e| e.name == service.name) {
                None => Change::Create(service),
                Some(current) if current.spec == service.spec => Change::Unchanged(service),
                Some(current) => Change::Update {
                    id: current.id.clone(),
                    service,
                },
            },
        )
        .collect();
    if prune {
        let mut gone: Vec<&&Existing> = ours
            .iter()
            .filter(|e| !changes.iter().any(|c| c.name() == e.name))
            .collect();
        gone.sort_by(|a, b| a.name.cmp(&b.name));
        changes.extend(gone.into_iter().map(|e| Change::Remove {
            id: e.id.clone(),
            name: e.name.clone(),
        }));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::NAMESPACE_LABEL;
    use crate::swarm::Mode;

    fn spec(stack: &str, image: &str) -> ServiceSpec {
        let mut spec = ServiceSpec {
            image: image.to_owned(),
            ..ServiceSpec::default()
        };
        spec.labels
            .insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
        spec
    }

    fn desired(name: &str, spec: ServiceSpec) -> StackService {
        StackService {
            service: name.to_owned(),
            name: format!("app_{name}"),
            spec,
        }
    }

    fn existing(id: &str, name: &str, spec: ServiceSpec) -> Existing {
        Existing {
            id: id.to_owned(),
            name: name.to_owned(),
            spec,
        }
    }

    fn kinds(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let kind = match c {
                    Change::Create(_) => "create",
                    Change::Update { .. } => "update",
                    Change::Unchanged(_) => "unchanged",
                    Change::Remove { .. } => "remove",
                };
                format!("{kind} {}", c.name())
            })
            .collect()
    }

    #[test]
    fn redeploying_the_same_specs_changes_nothing() {
        let current = [
            existing("1", "app_web", spec("app", "nginx")),
            existing("2", "app_db", spec("app", "postgres")),
        ];
        let wanted = vec![
            desired("db", spec("app", "postgres")),
            desired("web", spec("app", "nginx")),
        ];
        assert_eq!(
            kinds(&diff("app", wanted, &current, true)),
            ["unchanged app_db", "unchanged app_web"]
        );
    }

    #[test]
    fn only_what_differs_is_updated_and_new_services_are_created() {
        let current = [existing("1", "app_web", spec("app", "nginx"))];
        let mut scaled = spec("app", "nginx");
        scaled.mode = Mode::Replicated { replicas: 3 };
        let wanted = vec![
            desired("db", spec("app", "postgres")),
            desired("web", scaled),
        ];
        let changes = diff("app", wanted, &current, false);
        assert_eq!(kinds(&changes), ["create app_db", "update app_web"]);
        assert!(matches!(&changes[1], Change::Update { id, .. } if id == "1"));
    }

    #[test]
    fn prune_removes_only_this_stacks_services_missing_from_the_file() {
        let mut unlabelled = spec("app", "redis");
        unlabelled.labels.clear();
        let current = [
            existing("1", "app_web", spec("app", "nginx")),
            existing("2", "app_worker", spec("app", "busybox")),
            existing("3", "other_web", spec("other", "nginx")),
            existing("4", "app_cache", unlabelled),
        ];
        let wanted = vec![desired("web", spec("app", "nginx"))];
        assert_eq!(
            kinds(&diff("app", wanted.clone(), &current, true)),
            ["unchanged app_web", "remove app_worker"]
        );
        assert_eq!(
            kinds(&diff("app", wanted, &current, false)),
            ["unchanged app_web"]
        );
    }
}
