//! Which of a project's containers a command acts on.

use crate::compose::observed::{ContainerState, Observed, ObservedContainer};
use compose_spec::model::Project;

/// The services a lifecycle command acts on: the named ones, or with none named every service
/// of the model, so that `-f one.yaml stop` leaves the containers of another file's services
/// (orphans of this model) alone, as Compose does. A project rebuilt from its containers'
/// labels has every labelled service in its model.
pub fn scope(project: &Project, services: &[String]) -> Vec<String> {
    if services.is_empty() {
        project.services.keys().cloned().collect()
    } else {
        services.to_vec()
    }
}

/// The services attached `up` streams the output of: the `--attach` ones when given, else the
/// named services (every service when none is named) less those with `attach: false` and the
/// `--no-attach` ones.
pub fn attached_services(
    project: &Project,
    services: &[String],
    attach: &[String],
    no_attach: &[String],
) -> Vec<String> {
    if !attach.is_empty() {
        return attach.to_vec();
    }
    project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .filter(|(_, s)| s.attach != Some(false))
        .map(|(name, _)| name.clone())
        .filter(|name| !no_attach.contains(name))
        .collect()
}

/// The project's service containers (one-offs left out) of `services` (every service when
/// empty), in name order.
pub(crate) fn service_containers<'o>(
    observed: &'o Observed,
    project: &str,
    services: &[String],
) -> impl Iterator<Item = &'o ObservedContainer> {
    observed
        .project_containers(project)
        .filter(|c| !c.is_oneoff())
        .filter(move |c| {
            services.is_empty() || c.service().is_some_and(|s| services.iter().any(|n| n == s))
        })
}

/// The names of the [`service_containers`] whose state `keep` accepts.
pub(crate) fn containers(
    observed: &Observed,
    project: &str,
    services: &[String],
    keep: impl Fn(ContainerState) -> bool,
) -> Vec<String> {
    service_containers(observed, project, services)
        .filter(|c| keep(c.status.state))
        .map(|c| c.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use compose_spec::model;

    fn project() -> Project {
        model::from_json(&serde_json::json!({ "services": {
            "db": {"image": "d"},
            "init": {"image": "i", "attach": false},
            "web": {"image": "w"}
        }}))
        .unwrap()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_is_the_named_services_or_every_service_of_the_model() {
        let p = project();
        assert_eq!(scope(&p, &[]), strings(&["db", "init", "web"]));
        assert_eq!(scope(&p, &strings(&["web"])), strings(&["web"]));
    }

    #[test]
    fn up_attaches_to_the_services_that_did_not_opt_out() {
        let p = project();
        assert_eq!(
            attached_services(&p, &[], &[], &[]),
            strings(&["db", "web"])
        );
        assert_eq!(
            attached_services(&p, &[], &[], &strings(&["db"])),
            strings(&["web"])
        );
        assert_eq!(
            attached_services(&p, &strings(&["db", "init"]), &[], &[]),
            strings(&["db"])
        );
        // `--attach` wins, even over `attach: false`.
        assert_eq!(
            attached_services(&p, &[], &strings(&["init"]), &strings(&["init"])),
            strings(&["init"])
        );
    }
}
