//! `bosun container ls|ps`.

use std::process::ExitCode;

use agent::AgentClient;
use agent::names::short_id;
use agent::proto::{ContainerState, ContainerSummary, Health};
use clap::Args;

use super::table;
use super::units::{human_duration, rfc3339, since};
use crate::cli::format::{self, Format};

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
    /// ancestor=, network=, volume=, health=, before=, since=).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`, or a
    /// Go template such as '{{.ID}}: {{.Status}}' (fields as docker's: ID, Image, Command,
    /// CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Mounts, Networks).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Show the n last created containers (includes all states).
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes (the writable layer, and with the image's as "virtual").
    #[arg(short = 's', long)]
    pub size: bool,
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

/// The `Labels` field: `key=value` pairs joined by commas, sorted, as docker's.
fn labels_text(c: &ContainerSummary) -> String {
    let mut labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    labels.join(",")
}

/// The `Mounts` field: volume names (or bind sources), comma-separated.
fn mounts_text(c: &ContainerSummary) -> String {
    let names: Vec<&str> = c.mounts.iter().map(|m| m.source.as_str()).collect();
    names.join(",")
}

/// The `Networks` field: network names, comma-separated.
fn networks_text(c: &ContainerSummary) -> String {
    let names: Vec<&str> = c.networks.iter().map(|n| n.network.as_str()).collect();
    names.join(",")
}

/// The SIZE column: the writable layer, and with the image's layers as "virtual" (docker's
/// decimal units).
fn size_text(c: &ContainerSummary) -> String {
    let rw = crate::cli::image::human_size(c.size_rw);
    if c.size_root_fs > 0 {
        format!(
            "{rw} (virtual {})",
            crate::cli::image::human_size(c.size_root_fs)
        )
    } else {
        rw
    }
}

/// One container as docker's `ps --format` sees it (and `--format json` prints it).
fn row(c: &ContainerSummary, id: String, no_trunc: bool) -> serde_json::Value {
    serde_json::json!({
        "Command": command_text(c, no_trunc),
        "CreatedAt": rfc3339(c.created_at),
        "ExitCode": c.exit_code,
        "ID": id,
        "Image": image_text(c),
        "Labels": labels_text(c),
        "LocalVolumes": c.mounts.iter().filter(|m| m.r#type == "volume").count().to_string(),
        "Mounts": mounts_text(c),
        "Names": c.name,
        "Networks": networks_text(c),
        "Ports": super::port::column(&c.ports),
        "RunningFor": human_duration(since(c.created_at)) + " ago",
        "Size": size_text(c),
        "State": c.state().docker_name(),
        "Status": status_text(c),
    })
}

/// Runs `ls`.
pub(super) async fn run(client: &mut AgentClient, args: LsArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)?;
    let last = if args.latest { Some(1) } else { args.last };
    let all = args.all || last.is_some();
    // As docker, a template that shows the size measures it without `-s`.
    let size = args.size || args.format.contains(".Size");
    let mut containers = if size {
        client.list_with_sizes(all, args.filters.clone()).await?
    } else {
        client.list(all, args.filters.clone()).await?
    };
    if let Some(n) = last {
        // Newest first, as the agent sorts them.
        containers.truncate(n);
    }
    let id = |c: &ContainerSummary| {
        if args.no_trunc {
            c.id.clone()
        } else {
            short_id(&c.id).to_string()
        }
    };
    if args.quiet {
        let ids: String = containers.iter().map(|c| id(c) + "\n").collect();
        format::print(&ids)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<_> = containers
        .iter()
        .map(|c| row(c, id(c), args.no_trunc))
        .collect();
    if let Some(text) = format.rows(&rows, format::header::CONTAINER)? {
        format::print(&text)?;
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
        let mut headers = vec![
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ];
        let mut rows = rows;
        if args.size {
            headers.push("SIZE");
            for (row, c) in rows.iter_mut().zip(&containers) {
                row.push(size_text(c));
            }
        }
        format::print(&table::render(&headers, &rows))?;
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
