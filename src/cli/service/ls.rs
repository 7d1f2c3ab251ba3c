//! The service table of `service ls`, as docker prints it.

use cluster_manager::services::client::ServiceInfo;
use cluster_manager::services::decode::mode_name;
use orchestrator::swarm::{Mode, PublishMode};

use super::ps::short;
use crate::cli::container::table;

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

fn ports(info: &ServiceInfo) -> String {
    info.record
        .service
        .spec
        .ports
        .iter()
        .map(|p| {
            let published = p.published.map(|n| n.to_string()).unwrap_or_default();
            let host = if p.mode == PublishMode::Host {
                " (host)"
            } else {
                ""
            };
            format!("*:{published}->{}/{}{host}", p.target, p.protocol)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints the services.
pub(crate) fn print(services: &[ServiceInfo], quiet: bool, format: &str) {
    if quiet {
        for info in services {
            println!("{}", short(&info.record.meta.id, false));
        }
        return;
    }
    if format == "json" {
        for info in services {
            let line = serde_json::json!({
                "ID": short(&info.record.meta.id, false),
                "Name": info.record.service.name,
                "Mode": mode_name(&info.record.service.spec.mode),
                "Replicas": replicas(info),
                "Image": info.record.service.spec.image,
                "Ports": ports(info),
            });
            println!("{line}");
        }
        return;
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|info| {
            vec![
                short(&info.record.meta.id, false),
                info.record.service.name.clone(),
                mode_name(&info.record.service.spec.mode).to_owned(),
                replicas(info),
                info.record.service.spec.image.clone(),
                ports(info),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], &rows)
    );
}
