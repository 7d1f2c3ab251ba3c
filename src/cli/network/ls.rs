//! `bosun network ls`.

use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use agent::proto::Network;
use clap::Args;
use cluster_manager::services::client::NetworkInfo;

use crate::cli::container::table;
use crate::cli::format::{self, Format, header};

/// Arguments of `ls`.
#[derive(Debug, Args)]
pub(super) struct LsArgs {
    /// Only display network IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output (name=, id=, label=key[=value], driver=, type=custom|builtin).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`, or a
    /// Go template (fields as docker's: ID, Name, Driver, Scope, IPv6, Internal, Labels,
    /// CreatedAt).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Do not truncate the output.
    #[arg(long)]
    pub no_trunc: bool,
}

/// One row of the list: an agent's network or, on a manager, a cluster network.
struct Row {
    id: String,
    name: String,
    driver: String,
    scope: &'static str,
    json: serde_json::Value,
}

/// One JSON line of `ls --format json`.
pub(super) fn json_line(n: &Network) -> serde_json::Value {
    serde_json::json!({
        "ID": n.id,
        "Name": n.name,
        "Driver": n.driver,
        "Scope": "local",
        "Internal": n.internal,
        "IPv6": !n.subnet_v6.is_empty(),
        "Subnet": n.subnet,
        "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "CreatedAt": n.created,
    })
}

fn local_row(n: &Network) -> Row {
    Row {
        id: n.id.clone(),
        name: n.name.clone(),
        driver: n.driver.clone(),
        scope: "local",
        json: json_line(n),
    }
}

fn cluster_row(n: &NetworkInfo) -> Row {
    let r = &n.record;
    Row {
        id: r.meta.id.clone(),
        name: r.name.clone(),
        driver: r.driver.clone(),
        scope: "swarm",
        json: serde_json::json!({
            "ID": r.meta.id,
            "Name": r.name,
            "Driver": r.driver,
            "Scope": "swarm",
            "Internal": r.internal,
            "IPv6": false,
            "Subnet": r.subnet.clone().unwrap_or_default(),
            "Labels": r.meta.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "CreatedAt": r.meta.created_at_ms / 1000,
        }),
    }
}

/// Runs `ls`. On a manager, the cluster's networks (`cluster`) are listed too, with scope
/// `swarm`, and the agent's copies of them are left out.
pub(super) async fn run(
    client: &mut NetworksClient,
    args: LsArgs,
    cluster: Option<&[NetworkInfo]>,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)?;
    let local = client.list(args.filters.clone()).await?;
    let mut rows: Vec<Row> = match cluster {
        Some(cluster) => local
            .iter()
            .filter(|n| !n.labels.contains_key(super::cluster::NETWORK_ID))
            .map(local_row)
            .chain(
                cluster
                    .iter()
                    .filter(|n| super::cluster::passes(n, &args.filters))
                    .map(cluster_row),
            )
            .collect(),
        None => local.iter().map(local_row).collect(),
    };
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let id = |r: &Row| {
        if args.no_trunc {
            r.id.clone()
        } else {
            r.id.chars().take(12).collect()
        }
    };
    if args.quiet {
        for r in &rows {
            println!("{}", id(r));
        }
    } else {
        let objects: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut json = r.json.clone();
                json["ID"] = serde_json::Value::String(id(r));
                json
            })
            .collect();
        if let Some(text) = format.rows(&objects, header::NETWORK)? {
            format::print(&text)?;
        } else {
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| vec![id(r), r.name.clone(), r.driver.clone(), r.scope.into()])
                .collect();
            format::print(&table::render(
                &["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                &table_rows,
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
