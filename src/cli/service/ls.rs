//! The service table of `service ls`, as docker prints it.

use cluster_manager::services::client::ServiceInfo;
use cluster_manager::services::decode::mode_name;
use orchestrator::swarm::{Mode, PublishMode};

use super::ps::short;
use crate::cli::container::table;
use crate::cli::format::{self, Format, header};

/// `running/desired`, with the completions of a job.
pub(super) fn replicas(info: &ServiceInfo) -> String {
    match info.record.service.spec.mode {
        Mode::ReplicatedJob {
            total_completions, ..
        } => format!(
            "{}/{} ({}/{} completed)",
            info.running, info.desired, info.completed, total_completions
        ),
        Mode::GlobalJob => format!(
            "{}/{} ({} completed)",
            info.running, info.desired, info.completed
        ),
        _ => format!("{}/{}", info.running, info.desired),
    }
}

/// The service's published ports as docker's PORTS column: the ones the leader recorded
/// (with the port it chose for an ingress port published without one), else the spec's.
fn ports(info: &ServiceInfo) -> String {
    let recorded = &info.record.endpoint.ports;
    let rows: Vec<String> = if recorded.is_empty() {
        info.record
            .service
            .spec
            .ports
            .iter()
            .map(|p| {
                port_text(
                    p.published,
                    p.target,
                    &p.protocol.to_string(),
                    p.mode == PublishMode::Host,
                )
            })
            .collect()
    } else {
        recorded
            .iter()
            .map(|p| {
                port_text(
                    p.published_port,
                    p.target_port,
                    &p.protocol,
                    !p.is_ingress(),
                )
            })
            .collect()
    };
    rows.join(", ")
}

/// One published port: `*:8080->80/tcp`, with ` (host)` for a host-mode port.
fn port_text(published: Option<u16>, target: u16, protocol: &str, host: bool) -> String {
    let published = published.map(|n| n.to_string()).unwrap_or_default();
    let host = if host { " (host)" } else { "" };
    format!("*:{published}->{target}/{protocol}{host}")
}

/// One service as docker's `service ls --format` sees it (and `--format json` prints it).
fn row(info: &ServiceInfo) -> serde_json::Value {
    serde_json::json!({
        "ID": short(&info.record.meta.id, false),
        "Name": info.record.service.name,
        "Mode": mode_name(&info.record.service.spec.mode),
        "Replicas": replicas(info),
        "Image": info.record.service.spec.image,
        "Ports": ports(info),
    })
}

/// Prints the services as `format` (a `--format` value) asks.
pub(crate) fn print(services: &[ServiceInfo], quiet: bool, format: &str) -> anyhow::Result<()> {
    let format = Format::parse(format)?;
    if quiet {
        let ids: String = services
            .iter()
            .map(|info| short(&info.record.meta.id, false) + "\n")
            .collect();
        format::print(&ids)?;
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = services.iter().map(row).collect();
    if let Some(text) = format.rows(&rows, header::PLAIN)? {
        format::print(&text)?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            ["ID", "Name", "Mode", "Replicas", "Image", "Ports"]
                .iter()
                .map(|k| row[*k].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    format::print(&table::render(
        &["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"],
        &cells,
    ))?;
    Ok(())
}
