//! `bosun network inspect`: Docker's JSON shape, so scripts written for it keep working.

use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use agent::proto::Network;
use clap::Args;
use cluster_manager::services::client::NetworkInfo;
use serde_json::{Value, json};

use crate::cli::format::{self, Format};

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// The networks (name, id or id prefix).
    #[arg(required = true)]
    pub networks: Vec<String>,
    /// Format output: `json` (one object per line) or a Go template such as
    /// '{{range .IPAM.Config}}{{.Subnet}}{{end}}' (default: the indented JSON array).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// Docker's inspect object for a network.
pub(super) fn document(n: &Network) -> Value {
    let mut config = vec![json!({
        "Subnet": n.subnet,
        "Gateway": n.gateway,
    })];
    if !n.ip_range.is_empty() {
        config[0]["IPRange"] = json!(n.ip_range);
    }
    if !n.subnet_v6.is_empty() {
        config.push(json!({ "Subnet": n.subnet_v6, "Gateway": n.gateway_v6 }));
    }
    let containers: serde_json::Map<String, Value> = n
        .endpoints
        .iter()
        .zip(&n.containers)
        .map(|(ep, name)| {
            // The endpoint does not carry the container id; the name identifies it.
            (
                name.clone(),
                json!({
                    "Name": name,
                    "MacAddress": ep.mac_address,
                    "IPv4Address": ep.ipv4_address,
                    "IPv6Address": ep.ipv6_address,
                    "Aliases": ep.aliases,
                }),
            )
        })
        .collect();
    let mut doc = json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": !n.subnet_v6.is_empty(),
        "IPAM": { "Driver": "default", "Config": config },
        "Internal": n.internal,
        "Attachable": n.overlay.as_ref().is_some_and(|o| o.attachable),
        "Containers": containers,
        "Options": {
            "com.docker.network.bridge.name": n.bridge,
            "com.docker.network.driver.mtu": n.mtu.to_string(),
        },
        "Labels": n.labels,
    });
    if let Some(o) = &n.overlay {
        doc["Options"]["com.docker.network.driver.overlay.vxlanid_list"] = json!(o.vni.to_string());
        doc["Options"]["vxlan.port"] = json!(o.port.to_string());
        doc["Options"]["underlay"] = json!(o.underlay);
        doc["Options"]["vxlan.device"] = json!(o.vxlan);
        doc["Peers"] = o
            .peers
            .iter()
            .map(|p| json!({ "IP": p.ip, "MacAddress": p.mac, "Node": p.node, "Names": p.names }))
            .collect();
    }
    doc
}

/// Runs `inspect`: a JSON array; exits 1 when a network is missing (after printing the
/// others). A name the cluster's networks hold (on a manager, `cluster`) shows the cluster
/// network; any other the agent's.
pub(super) async fn run(
    client: &mut NetworksClient,
    args: InspectArgs,
    cluster: Option<&[NetworkInfo]>,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse_inspect(args.format.as_deref())?;
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &args.networks {
        if let Some(network) = cluster.and_then(|c| super::cluster::find(c, name)) {
            docs.push(super::cluster::document(network));
            continue;
        }
        match client.inspect(name).await {
            Ok(n) => docs.push(document(&n)),
            Err(err) => {
                crate::cli::report_item(&err);
                failed = true;
            }
        }
    }
    format::print(&format.objects(&docs)?)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
