//! The task table of `service ps` and `node ps`, as docker prints it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cluster_manager::services::client::TaskList;
use orchestrator::swarm::{DesiredState, TaskSlot, TaskState};

use crate::cli::container::table;
use crate::cli::container::units::human_duration;
use crate::cli::format::{self, Format, header};

/// How `service ps` and `node ps` print.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TaskOutput {
    /// Print task ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`, or a
    /// Go template (fields as docker's: ID, Name, Image, Node, DesiredState, CurrentState,
    /// Error, Ports).
    #[arg(long, default_value = "table")]
    pub format: String,
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

pub(crate) fn ago(millis: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let elapsed = Duration::from_millis(now.saturating_sub(millis));
    format!("{} ago", human_duration(elapsed))
}

/// The short form of an id (12 characters), or the whole id.
pub(crate) fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_owned()
    } else {
        id.chars().take(12).collect()
    }
}

/// One task's row: ID, NAME, IMAGE, NODE, DESIRED STATE, CURRENT STATE, ERROR; and the
/// node's id.
struct Row {
    id: String,
    name: String,
    image: String,
    node: String,
    node_id: String,
    desired: String,
    current: String,
    error: String,
}

fn rows(list: &TaskList, no_trunc: bool) -> Vec<Row> {
    list.tasks
        .iter()
        .map(|record| {
            let task = &record.task;
            let service = list
                .service_names
                .get(task.service_id.as_str())
                .cloned()
                .unwrap_or_else(|| short(task.service_id.as_str(), no_trunc));
            let name = match &task.slot {
                TaskSlot::Slot(n) => format!("{service}.{n}"),
                TaskSlot::Node(node) => format!("{service}.{}", short(node.as_str(), no_trunc)),
            };
            let node_id = task
                .node
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_default();
            let node = list.node_names.get(&node_id).cloned().unwrap_or_default();
            let error = match (&task.status.error, task.status.state) {
                (Some(error), _) => error.clone(),
                (None, TaskState::Pending) => task.status.message.clone(),
                (None, _) => String::new(),
            };
            Row {
                id: short(task.id.as_str(), no_trunc),
                name,
                image: task.spec.image.clone(),
                node,
                node_id,
                desired: match task.desired_state {
                    DesiredState::Running => "Running".to_owned(),
                    DesiredState::Shutdown => "Shutdown".to_owned(),
                },
                current: format!(
                    "{} {}",
                    capitalized(task.status.state.as_str()),
                    ago(task.status.timestamp.as_millis())
                ),
                error,
            }
        })
        .collect()
}

/// Prints `list` as `output` asks.
pub(crate) fn print(list: &TaskList, output: &TaskOutput) -> anyhow::Result<()> {
    let format = Format::parse(&output.format)?;
    let rows = rows(list, output.no_trunc);
    if output.quiet {
        let ids: String = rows.iter().map(|row| format!("{}\n", row.id)).collect();
        format::print(&ids)?;
        return Ok(());
    }
    let objects: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "ID": row.id,
                "Name": row.name,
                "Image": row.image,
                "Node": row.node,
                "NodeID": row.node_id,
                "DesiredState": row.desired,
                "CurrentState": row.current,
                "Error": row.error,
                "Ports": "",
            })
        })
        .collect();
    if let Some(text) = format.rows(&objects, header::PLAIN)? {
        format::print(&text)?;
    } else {
        let cells: Vec<Vec<String>> = rows
            .into_iter()
            .map(|r| vec![r.id, r.name, r.image, r.node, r.desired, r.current, r.error])
            .collect();
        format::print(&table::render(
            &[
                "ID",
                "NAME",
                "IMAGE",
                "NODE",
                "DESIRED STATE",
                "CURRENT STATE",
                "ERROR",
            ],
            &cells,
        ))?;
    }
    Ok(())
}
