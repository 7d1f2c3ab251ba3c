//! `bosun system prune`: stopped containers, unused networks, dangling (with `-a` unused)
//! images and, with `--volumes`, unused anonymous volumes, in one go, as `docker system prune`.

use std::process::ExitCode;

use agent::AgentClient;
use agent::images_client;
use agent::networks::client::NetworksClient;
use agent::proto;
use clap::Args;

use crate::cli::container::connect::connect_with;
use crate::cli::format;
use crate::cli::image::{confirm, human_size, status_error};

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub(super) struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes too.
    #[arg(long)]
    pub volumes: bool,
}

/// The warning docker prints before a system prune.
fn warning(args: &PruneArgs) -> String {
    let mut items = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if args.volumes {
        items.push("all anonymous volumes not used by at least one container");
    }
    items.push(if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    let list: String = items.iter().map(|i| format!("  - {i}\n")).collect();
    format!("WARNING! This will remove:\n{list}\nAre you sure you want to continue?")
}

/// A section of the report (`Deleted Containers:` and its lines), empty when nothing was.
fn section(title: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    format!("{title}:\n{body}\n")
}

/// Runs `prune`.
pub(super) async fn run(host: Option<&str>, args: PruneArgs) -> anyhow::Result<ExitCode> {
    if !args.force && !confirm(&warning(&args))? {
        return Ok(ExitCode::SUCCESS);
    }
    let mut reclaimed = 0;
    let mut agent = connect_with(host, AgentClient::connect).await?;
    let stopped = agent
        .list_with_sizes(
            true,
            vec!["status=exited".to_string(), "status=created".to_string()],
        )
        .await?;
    let mut containers = Vec::new();
    for c in stopped {
        match agent.remove(&c.id, false).await {
            Ok(()) => {
                reclaimed += c.size_rw;
                containers.push(c.id);
            }
            // A container that changed meanwhile (started, removed) stays out of the report.
            Err(err) => crate::cli::report_item(&err),
        }
    }
    let mut networks = connect_with(host, NetworksClient::connect).await?;
    let networks = networks.prune(Vec::new()).await?;
    let mut volumes = Vec::new();
    if args.volumes {
        let mut client = connect_with(host, images_client::volumes).await?;
        let report = client
            .prune(proto::VolumePruneRequest {
                all: false,
                filters: Vec::new(),
            })
            .await
            .map_err(status_error)?
            .into_inner();
        reclaimed += report.space_reclaimed;
        volumes = report.deleted;
    }
    let mut images = connect_with(host, images_client::images).await?;
    let report = images
        .prune(proto::ImagePruneRequest { all: args.all })
        .await
        .map_err(status_error)?
        .into_inner();
    reclaimed += report.space_reclaimed;
    let images: Vec<String> = report
        .deleted
        .iter()
        .map(|id| format!("deleted: {id}"))
        .collect();
    let text = [
        section("Deleted Containers", &containers),
        section("Deleted Networks", &networks),
        section("Deleted Volumes", &volumes),
        section("Deleted Images", &images),
        format!("Total reclaimed space: {}\n", human_size(reclaimed)),
    ]
    .concat();
    format::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_names_what_goes() {
        let args = PruneArgs {
            all: false,
            force: false,
            volumes: true,
        };
        assert_eq!(
            warning(&args),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue?"
        );
    }

    #[test]
    fn sections_skip_empty_lists() {
        assert_eq!(section("Deleted Networks", &[]), "");
        assert_eq!(
            section("Deleted Networks", &["a".into(), "b".into()]),
            "Deleted Networks:\na\nb\n\n"
        );
    }
}
