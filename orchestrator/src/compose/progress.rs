//! Progress events streamed by the executor, one per change of a step's state.

use compose_spec::model::DependsOnCondition;

use crate::compose::action::{Action, AwaitSpec};
use crate::compose::plan::StepId;

/// Something happened to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The step.
    pub step: StepId,
    /// The action, as the plan shows it (`start container demo-web-1`).
    pub action: String,
    /// The object it is about (container, network, volume, image, dependency service).
    pub target: String,
    /// What happened.
    pub event: ProgressEvent,
}

/// What happened to a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// It started.
    Started,
    /// It finished.
    Done,
    /// It finished, but something should be known (an optional dependency failed).
    Warning(String),
    /// It failed with this message.
    Failed(String),
    /// It was not run because a step it waits for failed.
    Skipped,
}

/// The lines Compose 2 prints for `event` of a step running `action` (with the plan's
/// `reason` for it) in its plain progress mode, where users script against them: `
/// Container demo-web-1  Started`. Compose prints each resource event as its object, its
/// (here always empty) text and its status joined by spaces, hence the two spaces; a rename
/// prints nothing, a dependency wait one line per container it waits for.
pub fn compose_lines(action: &Action, reason: &str, event: &ProgressEvent) -> Vec<String> {
    let recreate = reason.starts_with("recreate") || reason.starts_with("replaces");
    let (object, working, done) = match action {
        Action::CreateNetwork(spec) => (format!("Network {}", spec.name), "Creating", "Created"),
        Action::RemoveNetwork { name } => (format!("Network {name}"), "Removing", "Removed"),
        Action::CreateVolume(spec) => (format!("Volume {}", spec.name), "Creating", "Created"),
        Action::RemoveVolume { name } => (format!("Volume {name}"), "Removing", "Removed"),
        Action::PullImage { image } => (image.clone(), "Pulling", "Pulled"),
        Action::BuildImage(spec) => (format!("Image {}", spec.image), "Building", "Built"),
        Action::CreateContainer(spec) if recreate => {
            (format!("Container {}", spec.name), "Recreate", "Recreated")
        }
        Action::CreateContainer(spec) => {
            (format!("Container {}", spec.name), "Creating", "Created")
        }
        Action::StartContainer { name } => (format!("Container {name}"), "Starting", "Started"),
        Action::StopContainer { name, .. } => (format!("Container {name}"), "Stopping", "Stopped"),
        // The old container of a recreate, under its temporary name: Compose's `Recreated`
        // line for the new one says it all.
        Action::RenameContainer { .. } => return Vec::new(),
        Action::RemoveContainer { .. } if reason == REPLACED => return Vec::new(),
        Action::RemoveContainer { name, .. } => {
            (format!("Container {name}"), "Removing", "Removed")
        }
        Action::AwaitDependency(spec) => return await_lines(spec, event),
        Action::RunPreStart(spec) => {
            // Compose shows no line of its own for the hooks, only their failure.
            return match event {
                ProgressEvent::Failed(message) => {
                    vec![line(
                        &format!("Container {}", spec.container.name),
                        &format!("Error {message}"),
                    )]
                }
                _ => Vec::new(),
            };
        }
    };
    vec![match event {
        ProgressEvent::Started => line(&object, working),
        ProgressEvent::Done => line(&object, done),
        ProgressEvent::Warning(warning) => line(&object, &format!("{done} ({warning})")),
        ProgressEvent::Failed(message) => line(&object, &format!("Error {message}")),
        ProgressEvent::Skipped => line(&object, "Skipped: a step it waits for failed"),
    }]
}

/// A dependency wait: each container waited for is `Waiting`, then `Healthy` or `Exited`
/// (a wait for a mere start shows nothing: the dependency's `Started` said it).
fn await_lines(spec: &AwaitSpec, event: &ProgressEvent) -> Vec<String> {
    let done = match spec.condition {
        DependsOnCondition::ServiceStarted => return Vec::new(),
        DependsOnCondition::ServiceHealthy => "Healthy",
        DependsOnCondition::ServiceCompletedSuccessfully => "Exited",
    };
    let status = match event {
        ProgressEvent::Started => "Waiting".to_string(),
        ProgressEvent::Done => done.to_string(),
        ProgressEvent::Warning(warning) => format!("Error {warning}"),
        ProgressEvent::Failed(message) => format!("Error {message}"),
        ProgressEvent::Skipped => return Vec::new(),
    };
    spec.containers
        .iter()
        .map(|name| line(&format!("Container {name}"), &status))
        .collect()
}

/// The plan's reason for removing the container a recreate replaced.
pub const REPLACED: &str = "replaced";

/// ` <object>  <status>`: Compose's `fmt.Fprintln(out, "", id, "", status)`.
fn line(object: &str, status: &str) -> String {
    format!(" {object}  {status}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::action::ContainerSpec;

    fn lines(action: &Action, reason: &str) -> Vec<String> {
        [
            ProgressEvent::Started,
            ProgressEvent::Done,
            ProgressEvent::Failed("boom".into()),
        ]
        .iter()
        .flat_map(|event| compose_lines(action, reason, event))
        .collect()
    }

    #[test]
    fn container_network_and_volume_lines_read_as_compose_plain_mode() {
        let start = Action::StartContainer {
            name: "demo-web-1".into(),
        };
        assert_eq!(
            lines(&start, "created"),
            [
                " Container demo-web-1  Starting",
                " Container demo-web-1  Started",
                " Container demo-web-1  Error boom"
            ]
        );
        let stop = Action::StopContainer {
            name: "demo-web-1".into(),
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(
            compose_lines(&stop, "", &ProgressEvent::Done),
            [" Container demo-web-1  Stopped"]
        );
        let remove = Action::RemoveContainer {
            name: "demo-web-1".into(),
            anonymous_volumes: false,
        };
        assert_eq!(
            compose_lines(&remove, "", &ProgressEvent::Done),
            [" Container demo-web-1  Removed"]
        );
        let network = Action::RemoveNetwork {
            name: "demo_default".into(),
        };
        assert_eq!(
            compose_lines(&network, "", &ProgressEvent::Started),
            [" Network demo_default  Removing"]
        );
        let volume = Action::RemoveVolume {
            name: "demo_data".into(),
        };
        assert_eq!(
            compose_lines(&volume, "", &ProgressEvent::Skipped),
            [" Volume demo_data  Skipped: a step it waits for failed"]
        );
        let rename = Action::RenameContainer {
            from: "a".into(),
            to: "b".into(),
        };
        assert!(lines(&rename, "").is_empty());
        assert!(lines(&remove, REPLACED).is_empty());
        let create = |name: &str| {
            Action::CreateContainer(Box::new(ContainerSpec {
                name: name.into(),
                project: "demo".into(),
                service: "web".into(),
                number: 1,
                image: "app:1".into(),
                definition: Default::default(),
                labels: Default::default(),
                networks: Default::default(),
                volumes: Default::default(),
                carried_volumes: Default::default(),
                files: Ok(Vec::new()),
            }))
        };
        assert_eq!(
            compose_lines(
                &create("demo-web-1"),
                "recreate: image changed",
                &ProgressEvent::Done
            ),
            [" Container demo-web-1  Recreated"]
        );
        assert_eq!(
            compose_lines(
                &create("demo-web-1"),
                "scale 1 of 1",
                &ProgressEvent::Started
            ),
            [" Container demo-web-1  Creating"]
        );
    }

    #[test]
    fn waits_show_each_container_waited_for() {
        let wait = |condition| {
            Action::AwaitDependency(AwaitSpec {
                dependent: "web".into(),
                dependency: "db".into(),
                condition,
                required: true,
                containers: vec!["demo-db-1".into(), "demo-db-2".into()],
            })
        };
        assert_eq!(
            lines(&wait(DependsOnCondition::ServiceHealthy), ""),
            [
                " Container demo-db-1  Waiting",
                " Container demo-db-2  Waiting",
                " Container demo-db-1  Healthy",
                " Container demo-db-2  Healthy",
                " Container demo-db-1  Error boom",
                " Container demo-db-2  Error boom"
            ]
        );
        assert_eq!(
            compose_lines(
                &wait(DependsOnCondition::ServiceCompletedSuccessfully),
                "",
                &ProgressEvent::Done
            )[0],
            " Container demo-db-1  Exited"
        );
        assert!(lines(&wait(DependsOnCondition::ServiceStarted), "").is_empty());
    }
}
