//! `bosun network ls`.

use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use agent::proto::Network;
use clap::Args;

use crate::cli::container::table;

/// Arguments of `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output (name=, id=, label=key[=value], driver=, type=custom|builtin).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Output format: table or json (one object per line).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Do not truncate the output.
    #[arg(long)]
    pub no_trunc: bool,
}

/// One JSON line of `ls --format json`.
pub fn json_line(n: &Network) -> serde_json::Value {
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

/// Runs `ls`.
pub async fn run(client: &mut NetworksClient, args: LsArgs) -> anyhow::Result<ExitCode> {
    let mut networks = client.list(args.filters.clone()).await?;
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let id = |n: &Network| {
        if args.no_trunc {
            n.id.clone()
        } else {
            n.id.chars().take(12).collect()
        }
    };
    if args.quiet {
        for n in &networks {
            println!("{}", id(n));
        }
    } else if args.format == "json" {
        for n in &networks {
            println!("{}", json_line(n));
        }
    } else {
        let rows: Vec<Vec<String>> = networks
            .iter()
            .map(|n| vec![id(n), n.name.clone(), n.driver.clone(), "local".into()])
            .collect();
        print!(
            "{}",
            table::render(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
        );
    }
    Ok(ExitCode::SUCCESS)
}
