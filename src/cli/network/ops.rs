//! `bosun network rm|prune|connect|disconnect`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use agent::proto::NetworkAttachment;
use clap::Args;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::client::NetworkInfo;

/// Arguments of `rm`.
#[derive(Debug, Args)]
pub(super) struct RmArgs {
    /// Do not error when a network does not exist.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The networks (name, id or id prefix).
    #[arg(required = true)]
    pub networks: Vec<String>,
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub(super) struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Only networks passing these filters (label=key[=value], name=, ...).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

/// Arguments of `connect`.
#[derive(Debug, Args)]
pub(super) struct ConnectArgs {
    /// Add a network-scoped alias for the container.
    #[arg(long = "alias", value_name = "ALIAS")]
    pub aliases: Vec<String>,
    /// IPv4 address.
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address.
    #[arg(long)]
    pub ip6: Option<String>,
    /// The network.
    pub network: String,
    /// The container (name, id or id prefix).
    pub container: String,
}

/// Arguments of `disconnect`.
#[derive(Debug, Args)]
pub(super) struct DisconnectArgs {
    /// Force the container to disconnect from the network.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The network.
    pub network: String,
    /// The container (name, id or id prefix).
    pub container: String,
}

/// Runs `rm`: prints each removed name; exits 1 when one could not be removed. A name the
/// cluster's networks hold (on a manager, `cluster`) is removed from the cluster (refused
/// while a service uses it); any other from the agent.
pub(super) async fn rm(
    client: &mut NetworksClient,
    args: RmArgs,
    cluster: Option<(&ServicesClient, &[NetworkInfo])>,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for name in &args.networks {
        if let Some((services, networks)) = cluster
            && let Some(network) = super::cluster::find(networks, name)
        {
            match services.remove_network(&network.record.meta.id).await {
                Ok(()) => println!("{name}"),
                Err(err) => {
                    crate::cli::report_item(&err);
                    failed = true;
                }
            }
            continue;
        }
        match client.remove(name).await {
            Ok(()) => println!("{name}"),
            Err(err) if args.force && err.code() == Some(tonic::Code::NotFound) => {}
            Err(err) => {
                crate::cli::report_item(&err);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `prune`: asks first unless `-f` (and refuses to guess without a terminal).
pub(super) async fn prune(
    client: &mut NetworksClient,
    args: PruneArgs,
) -> anyhow::Result<ExitCode> {
    if !args.force {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("refusing to prune without confirmation: use -f when not on a terminal");
        }
        print!(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let deleted = client.prune(args.filters).await?;
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for name in deleted {
            println!("{name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `connect`.
pub(super) async fn connect(
    client: &mut NetworksClient,
    args: ConnectArgs,
) -> anyhow::Result<ExitCode> {
    let attachment = NetworkAttachment {
        network: args.network,
        aliases: args.aliases,
        ipv4_address: args.ip.unwrap_or_default(),
        ipv6_address: args.ip6.unwrap_or_default(),
        mac_address: String::new(),
        service_task: false,
        interface_name: String::new(),
    };
    client
        .connect_container(&args.container, attachment)
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `disconnect`.
pub(super) async fn disconnect(
    client: &mut NetworksClient,
    args: DisconnectArgs,
) -> anyhow::Result<ExitCode> {
    client
        .disconnect_container(&args.container, &args.network, args.force)
        .await?;
    Ok(ExitCode::SUCCESS)
}
