//! `bosun container stats`: CPU % from two samples, memory usage and limit, pids.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use agent::AgentClient;
use agent::names::short_id;
use agent::proto::StatsResponse;
use clap::Args;

use super::table;
use super::units::format_bytes;
pub(crate) use crate::cli::format::Format;
use crate::cli::format::{self, header};

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub(super) struct StatsArgs {
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// Format output: `table` (default), `json` (one object a line), `table TEMPLATE` or a Go
    /// template (fields as docker's: Container, ID, Name, CPUPerc, MemUsage, MemPerc, PIDs).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Containers (default: all running).
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// CPU use in percent of one CPU between two samples.
pub(super) fn cpu_percent(before: &StatsResponse, after: &StatsResponse) -> f64 {
    let wall = after.read_at.saturating_sub(before.read_at);
    if wall == 0 {
        return 0.0;
    }
    after.cpu_usage_ns.saturating_sub(before.cpu_usage_ns) as f64 / wall as f64 * 100.0
}

/// A row as docker's `stats --format json` names its fields.
fn json_row(row: &[String]) -> serde_json::Value {
    serde_json::json!({
        "ID": row[0],
        "Container": row[0],
        "Name": row[1],
        "CPUPerc": row[2],
        "MemUsage": row[3],
        "MemPerc": row[4],
        "NetIO": row[5],
        "BlockIO": row[6],
        "PIDs": row[7],
    })
}

/// `received / sent` as `docker stats` prints I/O (decimal units, 3 significant digits).
fn io_pair(a: u64, b: u64) -> String {
    let size = |n| crate::cli::image::human_size_with_precision(n, 3);
    format!("{} / {}", size(a), size(b))
}

fn row(id: &str, name: &str, before: &StatsResponse, after: &StatsResponse) -> Vec<String> {
    let limit = if after.memory_limit == 0 || after.memory_limit >= i64::MAX as u64 {
        host_memory()
    } else {
        after.memory_limit
    };
    let mem_pct = if limit == 0 {
        0.0
    } else {
        after.memory_usage as f64 / limit as f64 * 100.0
    };
    vec![
        short_id(id).to_string(),
        name.to_string(),
        format!("{:.2}%", cpu_percent(before, after)),
        format!(
            "{} / {}",
            format_bytes(after.memory_usage),
            format_bytes(limit)
        ),
        format!("{mem_pct:.2}%"),
        io_pair(after.net_rx_bytes, after.net_tx_bytes),
        io_pair(after.block_read_bytes, after.block_write_bytes),
        after.pids.to_string(),
    ]
}

/// Total memory of the host in bytes (0 when unknown), the limit shown for unlimited containers.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs `stats`.
pub(super) async fn run(client: &mut AgentClient, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)?;
    let targets: Vec<(String, String)> = if args.containers.is_empty() {
        client
            .list(false, Vec::new())
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect()
    } else {
        let mut out = Vec::new();
        for c in &args.containers {
            let s = client.inspect(c).await?.summary.unwrap_or_default();
            out.push((s.id, s.name));
        }
        out
    };
    show(client, &targets, args.no_stream, &format).await
}

/// Shows the usage of `targets` (id, name): once with `no_stream`, else every second.
pub(crate) async fn show(
    client: &mut AgentClient,
    targets: &[(String, String)],
    no_stream: bool,
    format: &Format,
) -> anyhow::Result<ExitCode> {
    let headers = [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ];
    let mut previous: HashMap<String, StatsResponse> = HashMap::new();
    for (id, _) in targets {
        previous.insert(id.clone(), client.stats(id).await?);
    }
    loop {
        tokio::time::sleep(Duration::from_millis(if no_stream { 500 } else { 1000 })).await;
        let mut rows = Vec::new();
        for (id, name) in targets {
            // A container that stopped meanwhile drops out of the table.
            let Ok(sample) = client.stats(id).await else {
                continue;
            };
            if let Some(before) = previous.get(id) {
                rows.push(row(id, name, before, &sample));
            }
            previous.insert(id.clone(), sample);
        }
        let objects: Vec<serde_json::Value> = rows.iter().map(|r| json_row(r)).collect();
        let text = match format.rows(&objects, header::STATS)? {
            Some(text) => text,
            None => table::render(&headers, &rows),
        };
        // The default table is redrawn in place; JSON lines and templates follow each other.
        let redraw = !no_stream && format.is_default();
        format::print(&if redraw {
            format!("\x1b[2J\x1b[H{text}")
        } else {
            text
        })?;
        if no_stream {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_between_samples() {
        let a = StatsResponse {
            cpu_usage_ns: 1_000,
            read_at: 10_000,
            ..Default::default()
        };
        let b = StatsResponse {
            cpu_usage_ns: 501_000,
            read_at: 1_010_000,
            ..Default::default()
        };
        assert!((cpu_percent(&a, &b) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&a, &a), 0.0);
    }

    #[test]
    fn network_and_block_io_as_docker_prints_them() {
        let sample = StatsResponse {
            memory_usage: 1 << 20,
            memory_limit: 64 << 20,
            net_rx_bytes: 1_234,
            net_tx_bytes: 0,
            block_read_bytes: 12_345_678,
            block_write_bytes: 999,
            pids: 3,
            ..Default::default()
        };
        let row = row(&"a".repeat(64), "web", &sample, &sample);
        assert_eq!(
            &row[3..],
            ["1MiB / 64MiB", "1.56%", "1.23kB / 0B", "12.3MB / 999B", "3"]
        );
        let json = json_row(&row);
        assert_eq!(
            (&json["NetIO"], &json["BlockIO"]),
            (&"1.23kB / 0B".into(), &"12.3MB / 999B".into())
        );
        assert_eq!(json["PIDs"], "3");
    }
}
