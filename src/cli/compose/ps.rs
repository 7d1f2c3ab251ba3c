//! Read-only views of projects: `ps`, `ls`, `top`, `port`, `images`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use agent::proto;
use clap::Args;
use orchestrator::compose::labels;

use super::session::{Agent, Session};
use crate::cli::container::port::host_side;
use crate::cli::format::{self, Format, header};
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun ps`.
#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    /// Show all stopped containers too.
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services.
    #[arg(long)]
    pub services: bool,
    /// Format the output: `table` (default), `json` (one object per line), `table TEMPLATE`
    /// or a Go template (fields: ID, Name, Image, Command, Project, Service, State, Health,
    /// ExitCode, Status, Ports).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services (all when none).
    pub names: Vec<String>,
}

/// Arguments of `bosun ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Show all stopped projects too.
    #[arg(short, long)]
    pub all: bool,
    /// Only display project names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output: `table` (default), `json` (an array), `table TEMPLATE` or a Go
    /// template (fields: Name, Status, ConfigFiles).
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// Arguments of `bosun top`.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// Services (all when none).
    pub services: Vec<String>,
}

/// Arguments of `bosun port`.
#[derive(Debug, Args)]
pub(crate) struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// The service.
    pub service: String,
    /// The container port.
    pub private_port: u32,
}

/// Arguments of `bosun images`.
#[derive(Debug, Args)]
pub(crate) struct ImagesArgs {
    /// Only display IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output: `table` (default), `json` (an array), `table TEMPLATE` or a Go
    /// template (fields: ContainerName, Repository, Tag, ID).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services (all when none).
    pub services: Vec<String>,
}

fn label<'c>(c: &'c proto::ContainerSummary, key: &str) -> &'c str {
    c.labels.get(key).map_or("", String::as_str)
}

/// `Up (healthy)`, `Exited (1)`, `Created`, ….
pub(super) fn status(c: &proto::ContainerSummary) -> String {
    let mut text = match c.state() {
        proto::ContainerState::Running => "Up".to_string(),
        proto::ContainerState::Exited => format!("Exited ({})", c.exit_code),
        proto::ContainerState::Paused => "Up (Paused)".to_string(),
        proto::ContainerState::Created => "Created".to_string(),
        proto::ContainerState::Unspecified => "Unknown".to_string(),
    };
    if c.health() != proto::Health::None && c.state() == proto::ContainerState::Running {
        text.push_str(&format!(" ({})", c.health().docker_name()));
    }
    text
}

/// `0.0.0.0:8080->80/tcp, [::1]:8081->81/tcp, 53/udp`.
pub(super) fn ports(c: &proto::ContainerSummary) -> String {
    c.ports
        .iter()
        .map(|p| {
            let protocol = if p.protocol.is_empty() {
                "tcp"
            } else {
                &p.protocol
            };
            if p.host_port == 0 {
                format!("{}/{protocol}", p.container_port)
            } else {
                format!("{}->{}/{protocol}", host_side(p), p.container_port)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints rows as left-aligned columns.
pub(super) fn table(rows: &[Vec<String>]) {
    let mut widths = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// Runs `bosun ps`.
pub(super) fn ps(project: &ProjectArgs, args: PsArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.names)?;
    if args.services {
        for name in session.project().services.keys() {
            if args.names.is_empty() || args.names.contains(name) {
                println!("{name}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let format = Format::parse(&args.format)?;
    let containers = session.containers(&args.names, args.all, true)?;
    if args.quiet {
        for c in &containers {
            println!("{}", c.id);
        }
    } else if !format.is_default() {
        let mut rows = Vec::new();
        for c in &containers {
            rows.push(serde_json::json!({
                "ID": c.id, "Name": c.name, "Image": c.image, "Command": c.command.join(" "),
                "Project": label(c, labels::PROJECT), "Service": label(c, labels::SERVICE),
                "State": c.state().docker_name(), "Health": c.health().docker_name(), "ExitCode": c.exit_code,
                "Status": status(c), "Ports": ports(c),
                "Publishers": c.ports.iter().map(|p| serde_json::json!({
                    "URL": p.host_ip, "TargetPort": p.container_port,
                    "PublishedPort": p.host_port, "Protocol": p.protocol})).collect::<Vec<_>>(),
            }));
        }
        if let Some(text) = format.rows(&rows, header::CONTAINER)? {
            format::print(&text)?;
        }
    } else {
        let mut rows = vec![
            ["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"]
                .map(String::from)
                .to_vec(),
        ];
        for c in &containers {
            let command = c.command.join(" ");
            let command = if command.chars().count() > 20 {
                format!("\"{}…\"", command.chars().take(19).collect::<String>())
            } else {
                format!("\"{command}\"")
            };
            rows.push(vec![
                c.name.clone(),
                c.image.clone(),
                command,
                label(c, labels::SERVICE).to_string(),
                status(c),
                ports(c),
            ]);
        }
        table(&rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun ls`: projects found from the labels of the node's containers.
pub(super) fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)?;
    let agent = Agent::connect()?;
    let mut client = agent.backend.client().containers.clone();
    let request = proto::ListRequest {
        size: false,
        all: true,
        filters: vec![format!("label={}", labels::PROJECT)],
    };
    let containers = agent
        .block_on(async move { client.list(request).await })?
        .into_inner()
        .containers;
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in &containers {
        let entry = projects
            .entry(label(c, labels::PROJECT).to_string())
            .or_default();
        *entry
            .0
            .entry(c.state().docker_name().to_string())
            .or_default() += 1;
        entry.1 = label(c, labels::CONFIG_FILES).to_string();
    }
    projects.retain(|_, (states, _)| args.all || states.contains_key("running"));
    let describe = |states: &BTreeMap<String, usize>| {
        states
            .iter()
            .map(|(state, n)| format!("{state}({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if args.quiet {
        for name in projects.keys() {
            println!("{name}");
        }
    } else if !format.is_default() {
        let list: Vec<serde_json::Value> = projects
            .iter()
            .map(|(name, (states, files))| {
                serde_json::json!({"Name": name, "Status": describe(states), "ConfigFiles": files})
            })
            .collect();
        print_rows(&format, list)?;
    } else {
        let mut rows = vec![
            ["NAME", "STATUS", "CONFIG FILES"]
                .map(String::from)
                .to_vec(),
        ];
        for (name, (states, files)) in &projects {
            rows.push(vec![name.clone(), describe(states), files.clone()]);
        }
        table(&rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun top`.
pub(super) fn top(project: &ProjectArgs, args: TopArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    for c in session.containers(&args.services, false, false)? {
        let mut client = session.backend().client().containers.clone();
        let request = proto::ContainerRef {
            container: c.id.clone(),
        };
        let top = session
            .agent
            .block_on(async move { client.top(request).await })?
            .into_inner();
        println!("{}", c.name);
        let mut rows = vec![top.titles.clone()];
        rows.extend(top.processes.into_iter().map(|p| p.values));
        table(&rows);
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun port`.
pub(super) fn port(project: &ProjectArgs, args: PortArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(std::slice::from_ref(&args.service))?;
    let containers = session.containers(std::slice::from_ref(&args.service), false, false)?;
    let container = containers
        .iter()
        .find(|c| label(c, labels::CONTAINER_NUMBER) == args.index.to_string())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "service {} has no running container number {}",
                args.service,
                args.index
            )
        })?;
    let binding = container
        .ports
        .iter()
        .find(|p| {
            let protocol = if p.protocol.is_empty() {
                "tcp"
            } else {
                &p.protocol
            };
            p.container_port == args.private_port && protocol == args.protocol
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no port {}/{} published by {}",
                args.private_port,
                args.protocol,
                container.name
            )
        })?;
    println!("{}", host_side(binding));
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun images`.
pub(super) fn images(project: &ProjectArgs, args: ImagesArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    let format = Format::parse(&args.format)?;
    let containers = session.containers(&args.services, true, false)?;
    if args.quiet {
        let mut ids: Vec<&str> = containers.iter().map(|c| c.image_id.as_str()).collect();
        ids.dedup();
        for id in ids {
            println!("{id}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !format.is_default() {
        let list = containers
            .iter()
            .map(|c| {
                let (repository, tag) = split_reference(&c.image);
                serde_json::json!({
                    "ID": c.image_id,
                    "ContainerName": c.name,
                    "Repository": repository,
                    "Tag": tag,
                })
            })
            .collect();
        print_rows(&format, list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![
        ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID"]
            .map(String::from)
            .to_vec(),
    ];
    for c in &containers {
        let (repository, tag) = split_reference(&c.image);
        let id = c.image_id.strip_prefix("sha256:").unwrap_or(&c.image_id);
        rows.push(vec![
            c.name.clone(),
            repository.to_string(),
            tag.to_string(),
            id.chars().take(12).collect(),
        ]);
    }
    table(&rows);
    Ok(ExitCode::SUCCESS)
}

/// Prints `rows` as `--format` asks; `json` is one array, as docker compose prints its
/// project and image lists.
fn print_rows(format: &Format, rows: Vec<serde_json::Value>) -> anyhow::Result<()> {
    if matches!(format, Format::Json) {
        format::print(&format!("{}\n", serde_json::Value::Array(rows)))?;
    } else if let Some(text) = format.rows(&rows, header::PLAIN)? {
        format::print(&text)?;
    }
    Ok(())
}

/// `registry:5000/app:1` → (`registry:5000/app`, `1`); no tag → `latest`.
pub(super) fn split_reference(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[name_start..].rfind(':') {
        Some(i) => (
            &reference[..name_start + i],
            &reference[name_start + i + 1..],
        ),
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split_reference("redis:7"), ("redis", "7"));
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_reference("host:5000/app"),
            ("host:5000/app", "latest")
        );
        assert_eq!(split_reference("host:5000/app:v1"), ("host:5000/app", "v1"));
    }

    #[test]
    fn status_and_ports_read_like_docker() {
        let c = proto::ContainerSummary {
            state: proto::ContainerState::Running as i32,
            health: proto::Health::Healthy as i32,
            ports: vec![
                proto::PortBinding {
                    host_port: 8080,
                    container_port: 80,
                    protocol: "tcp".into(),
                    ..Default::default()
                },
                proto::PortBinding {
                    host_ip: "::1".into(),
                    host_port: 8081,
                    container_port: 81,
                    protocol: "udp".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(status(&c), "Up (healthy)");
        assert_eq!(ports(&c), "0.0.0.0:8080->80/tcp, [::1]:8081->81/udp");
        let exited = proto::ContainerSummary {
            state: proto::ContainerState::Exited as i32,
            exit_code: 3,
            ..Default::default()
        };
        assert_eq!(status(&exited), "Exited (3)");
    }
}
