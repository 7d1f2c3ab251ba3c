//! `bosun container ls|ps`.

use std::process::ExitCode;

use agent::AgentClient;
use agent::names::short_id;
use agent::proto::{ContainerState, ContainerSummary, Health};
use clap::Args;

use super::table;
use super::units::{human_duration, rfc3339, since};

/// Arguments of `ls`.
#[derive(Debug, Args)]
pub(super) struct LsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (id=, name=, status=, exited=, label=,
    /// ancestor=, network=, volume=).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Output format: table or json (one object per line).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
}

/// The STATUS column: `Up 5 seconds`, `Up 5 seconds (healthy)`, `Exited (0) 3 seconds ago`, `Created`.
pub(super) fn status_text(c: &ContainerSummary) -> String {
    match c.state() {
        ContainerState::Running => match c.health() {
            Health::None => format!("Up {}", human_duration(since(c.started_at))),
            Health::Starting => format!(
                "Up {} (health: starting)",
                human_duration(since(c.started_at))
            ),
            health => format!(
                "Up {} ({})",
                human_duration(since(c.started_at)),
                health.docker_name()
            ),
        },
        ContainerState::Paused => format!("Up {} (Paused)", human_duration(since(c.started_at))),
        ContainerState::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code,
            human_duration(since(c.finished_at))
        ),
        _ => "Created".into(),
    }
}

/// The IMAGE column: the image as asked for, or the rootfs directory.
fn image_text(c: &ContainerSummary) -> String {
    if c.image.is_empty() {
        c.rootfs.clone()
    } else {
        c.image.clone()
    }
}

fn command_text(c: &ContainerSummary, no_trunc: bool) -> String {
    let command = c.command.join(" ");
    if no_trunc || command.chars().count() <= 20 {
        format!("\"{command}\"")
    } else {
        let cut: String = command.chars().take(19).collect();
        format!("\"{cut}…\"")
    }
}

/// Runs `ls`.
pub(super) async fn run(client: &mut AgentClient, args: LsArgs) -> anyhow::Result<ExitCode> {
    let containers = client.list(args.all, args.filters.clone()).await?;
    let id = |c: &ContainerSummary| {
        if args.no_trunc {
            c.id.clone()
        } else {
            short_id(&c.id).to_string()
        }
    };
    if args.quiet {
        for c in &containers {
            println!("{}", id(c));
        }
    } else if args.format == "json" {
        for c in &containers {
            let line = serde_json::json!({
                "ID": id(c),
                "Names": c.name,
                "Image": image_text(c),
                "Ports": super::port::column(&c.ports),
                "Labels": c.labels,
                "Command": command_text(c, true),
                "CreatedAt": rfc3339(c.created_at),
                "RunningFor": human_duration(since(c.created_at)) + " ago",
                "State": c.state().docker_name(),
                "Status": status_text(c),
                "ExitCode": c.exit_code,
            });
            println!("{line}");
        }
    } else {
        let rows: Vec<Vec<String>> = containers
            .iter()
            .map(|c| {
                vec![
                    id(c),
                    image_text(c),
                    command_text(c, args.no_trunc),
                    format!("{} ago", human_duration(since(c.created_at))),
                    status_text(c),
                    super::port::column(&c.ports),
                    c.name.clone(),
                ]
            })
            .collect();
        let headers = [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ];
        print!("{}", table::render(&headers, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_command() {
        let exited = ContainerSummary {
            state: ContainerState::Exited as i32,
            exit_code: 3,
            finished_at: engine::state::now_nanos(),
            command: vec!["sh".into(), "-c".into(), "echo hello world and more".into()],
            ..Default::default()
        };
        assert_eq!(status_text(&exited), "Exited (3) Less than a second ago");
        assert_eq!(command_text(&exited, false), "\"sh -c echo hello wo…\"");
        assert_eq!(
            command_text(&exited, true),
            "\"sh -c echo hello world and more\""
        );
        let created = ContainerSummary {
            state: ContainerState::Created as i32,
            ..Default::default()
        };
        assert_eq!(status_text(&created), "Created");
        let cases = [
            ("", "Up Less than a second"),
            ("starting", "Up Less than a second (health: starting)"),
            ("healthy", "Up Less than a second (healthy)"),
            ("unhealthy", "Up Less than a second (unhealthy)"),
        ];
        for (health, want) in cases {
            let running = ContainerSummary {
                state: ContainerState::Running as i32,
                started_at: engine::state::now_nanos(),
                health: Health::from_docker_name(health) as i32,
                ..Default::default()
            };
            assert_eq!(status_text(&running), want, "{health}");
        }
    }
}
