//! `bosun system df`: how much disk the node's images, containers and volumes take, and how
//! much of it a prune would give back, as `docker system df`.

use std::process::ExitCode;

use agent::AgentClient;
use agent::images_client;
use agent::proto::{self, ContainerSummary, ImageSummary, Volume};
use clap::Args;
use serde_json::{Value, json};

use crate::cli::container::connect::connect_with;
use crate::cli::container::table;
use crate::cli::format::{self, Format, header};
use crate::cli::image::{human_size, status_error};

/// Arguments of `df`.
#[derive(Debug, Args)]
pub(super) struct DfArgs {
    /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE` or a
    /// Go template (fields as docker's: Type, TotalCount, Active, Size, Reclaimable).
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Usage {
    kind: &'static str,
    total: usize,
    active: usize,
    size: u64,
    reclaimable: u64,
}

impl Usage {
    fn new(kind: &'static str, items: impl Iterator<Item = (bool, u64)>) -> Self {
        let mut usage = Usage {
            kind,
            total: 0,
            active: 0,
            size: 0,
            reclaimable: 0,
        };
        for (active, size) in items {
            usage.total += 1;
            usage.size += size;
            if active {
                usage.active += 1;
            } else {
                usage.reclaimable += size;
            }
        }
        usage
    }

    /// `11.63MB (70%)`, as docker shows what could be reclaimed.
    fn reclaimable_text(&self) -> String {
        let size = human_size(self.reclaimable);
        match (self.reclaimable * 100).checked_div(self.size) {
            Some(percent) => format!("{size} ({percent}%)"),
            None => size,
        }
    }

    fn row(&self) -> Value {
        json!({
            "Type": self.kind,
            "TotalCount": self.total.to_string(),
            "Active": self.active.to_string(),
            "Size": human_size(self.size),
            "Reclaimable": self.reclaimable_text(),
        })
    }
}

/// The report: images in use by a container are active; running (or paused) containers are,
/// their writable layers counting; volumes mounted by a container are.
fn usage(
    images: &[ImageSummary],
    containers: &[ContainerSummary],
    volumes: &[Volume],
) -> Vec<Usage> {
    vec![
        Usage::new("Images", images.iter().map(|i| (i.containers > 0, i.size))),
        Usage::new(
            "Containers",
            containers.iter().map(|c| (c.is_alive(), c.size_rw)),
        ),
        Usage::new(
            "Local Volumes",
            volumes.iter().map(|v| (!v.used_by.is_empty(), v.size)),
        ),
    ]
}

/// Runs `df`.
pub(super) async fn run(host: Option<&str>, args: DfArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)?;
    let mut agent = connect_with(host, AgentClient::connect).await?;
    let containers = agent.list_with_sizes(true, Vec::new()).await?;
    let mut images = connect_with(host, images_client::images).await?;
    let images = images
        .list(proto::ImageListRequest {
            all: true,
            filters: Vec::new(),
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .images;
    let mut volumes = connect_with(host, images_client::volumes).await?;
    let volumes = volumes
        .list(proto::VolumeListRequest {
            filters: Vec::new(),
            size: true,
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .volumes;
    let report = usage(&images, &containers, &volumes);
    let rows: Vec<Value> = report.iter().map(Usage::row).collect();
    match format.rows(&rows, DF_HEADERS)? {
        Some(text) => format::print(&text)?,
        None => {
            let cells: Vec<Vec<String>> = report
                .iter()
                .map(|u| {
                    vec![
                        u.kind.to_string(),
                        u.total.to_string(),
                        u.active.to_string(),
                        human_size(u.size),
                        u.reclaimable_text(),
                    ]
                })
                .collect();
            format::print(&table::render(
                &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                &cells,
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's headers of `system df --format 'table …'`.
const DF_HEADERS: header::Headers = &[("TotalCount", "TOTAL")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_and_reclaimable() {
        let images = [
            ImageSummary {
                size: 300,
                containers: 1,
                ..Default::default()
            },
            ImageSummary {
                size: 700,
                ..Default::default()
            },
        ];
        let running = ContainerSummary {
            state: proto::ContainerState::Running as i32,
            size_rw: 5,
            ..Default::default()
        };
        let exited = ContainerSummary {
            state: proto::ContainerState::Exited as i32,
            size_rw: 2000,
            ..Default::default()
        };
        let volumes = [Volume {
            size: 36,
            used_by: vec!["web".into()],
            ..Default::default()
        }];
        let report = usage(&images, &[running, exited], &volumes);
        assert_eq!(
            report.iter().map(|u| u.row()).collect::<Vec<_>>(),
            [
                json!({"Type": "Images", "TotalCount": "2", "Active": "1", "Size": "1kB",
                       "Reclaimable": "700B (70%)"}),
                json!({"Type": "Containers", "TotalCount": "2", "Active": "1", "Size": "2.005kB",
                       "Reclaimable": "2kB (99%)"}),
                json!({"Type": "Local Volumes", "TotalCount": "1", "Active": "1", "Size": "36B",
                       "Reclaimable": "0B (0%)"}),
            ]
        );
        assert_eq!(
            Usage::new("Empty", std::iter::empty()).reclaimable_text(),
            "0B"
        );
    }
}
