//! `bosun events [--json] [SERVICE…]`: the project's container events as they happen, in
//! docker compose's text or JSON form, until Ctrl-C.
//!
//! The agent streams every container event of the node; an event belongs to the project when
//! its container carries the project's label. Containers are looked up by id in a cache of the
//! project's containers, listed again when an unknown id shows up (a container just created),
//! so a destroyed container is still named in its last events.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use agent::proto;
use clap::Args;
use orchestrator::compose::labels;
use serde_json::json;

use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Arguments of `events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Output events as a stream of json objects.
    #[arg(long)]
    pub json: bool,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// What an event line says about its container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    name: String,
    service: String,
    image: String,
}

impl Known {
    fn of(c: &proto::ContainerSummary) -> Self {
        Self {
            name: c.name.clone(),
            service: c.labels.get(labels::SERVICE).cloned().unwrap_or_default(),
            image: c.image.clone(),
        }
    }
}

/// An event of the project, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProjectEvent {
    time: u64,
    action: String,
    id: String,
    container: Known,
    attributes: BTreeMap<String, String>,
}

impl ProjectEvent {
    fn new(event: proto::Event, container: Known) -> Self {
        let mut attributes: BTreeMap<String, String> = event.attributes.into_iter().collect();
        attributes.insert("name".into(), container.name.clone());
        attributes.insert("image".into(), container.image.clone());
        Self {
            time: event.time,
            action: event.action,
            id: event.id,
            container,
            attributes,
        }
    }

    /// docker compose's text line: `<time> container <action> <id> (k=v, …)`.
    fn text(&self) -> String {
        let attrs: Vec<String> = self
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{} container {} {} ({})",
            timestamp(self.time),
            self.action,
            self.id,
            attrs.join(", ")
        )
    }

    /// docker compose's JSON object.
    fn json(&self) -> serde_json::Value {
        json!({
            "time": timestamp(self.time),
            "type": "container",
            "action": self.action,
            "id": self.id,
            "service": self.container.service,
            "attributes": self.attributes,
        })
    }
}

/// `2026-11-22T10:00:00.123456Z` from nanoseconds since the epoch.
fn timestamp(nanos: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos);
    humantime::format_rfc3339_micros(time).to_string()
}

/// The project's containers by id (stopped ones and one-offs too).
async fn project_containers(
    session: &Session,
    services: &[String],
) -> anyhow::Result<HashMap<String, Known>> {
    Ok(session
        .list_containers(services, true, true)
        .await?
        .iter()
        .map(|c| (c.id.clone(), Known::of(c)))
        .collect())
}

/// Runs `events`: prints the project's events until Ctrl-C or the agent ends the stream.
pub(super) fn run(project: &ProjectArgs, args: EventsArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    let mut client = session.backend().client().containers.clone();
    let follow = async {
        // Subscribe before listing, so a container created in between is not missed.
        let request = proto::EventsRequest {
            since: None,
            until: None,
        };
        let mut stream = client.events(request).await?.into_inner();
        let mut known = project_containers(&session, &args.services).await?;
        while let Some(event) = stream.message().await? {
            // The project's containers only (the node's networks, volumes and images too
            // have events).
            if event.docker_type() != "container" {
                continue;
            }
            if !known.contains_key(&event.id) {
                known.extend(project_containers(&session, &args.services).await?);
            }
            let Some(container) = known.get(&event.id) else {
                continue;
            };
            let event = ProjectEvent::new(event, container.clone());
            if args.json {
                println!("{}", event.json());
            } else {
                println!("{}", event.text());
            }
        }
        anyhow::Ok(())
    };
    session.agent.block_on(async {
        tokio::select! {
            followed = follow => followed,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> ProjectEvent {
        let raw = proto::Event {
            time: 1_500_000_000,
            id: "abc123".into(),
            action: "die".into(),
            attributes: [("exitCode".to_string(), "3".to_string())].into(),
            r#type: String::new(),
        };
        let container = Known {
            name: "demo-web-1".into(),
            service: "web".into(),
            image: "busybox:latest".into(),
        };
        ProjectEvent::new(raw, container)
    }

    #[test]
    fn text_line_names_the_container_and_its_image() {
        assert_eq!(
            event().text(),
            "1970-01-01T00:00:01.500000Z container die abc123 \
             (exitCode=3, image=busybox:latest, name=demo-web-1)"
        );
    }

    #[test]
    fn json_object_carries_the_service() {
        let j = event().json();
        assert_eq!(j["action"], "die");
        assert_eq!(j["service"], "web");
        assert_eq!(j["type"], "container");
        assert_eq!(j["id"], "abc123");
        assert_eq!(j["attributes"]["name"], "demo-web-1");
        assert_eq!(j["time"], "1970-01-01T00:00:01.500000Z");
    }
}
