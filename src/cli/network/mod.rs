//! `bosun network …`: the node's networks through the agent, as `docker network …`.
//!
//! As for `bosun container`, the words after `network` are parsed here so that docker's short
//! flags (`ls -q`, `prune -f`) do not collide with the top-level project options.

mod cluster;
mod create;
mod inspect;
mod ls;
mod ops;
mod peers;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use agent::networks::client::NetworksClient;
use clap::{Args, Parser, Subcommand};

use super::container::connect::{HostArg, connect_with, run_words};

/// `bosun network`: the raw words, parsed by [`NetworkCli`].
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct NetworkArgs {
    /// The network command and its options (see `bosun network --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Manage networks.
#[derive(Debug, Parser)]
#[command(name = "bosun network", disable_help_subcommand = true)]
struct NetworkCli {
    #[command(flatten)]
    agent: HostArg,

    /// Where this node's cluster state is kept: on a cluster manager, overlay networks are
    /// the cluster's.
    #[arg(
        long,
        env = "BOSUN_DATA_ROOT",
        default_value = "/var/lib/bosun",
        value_name = "DIR",
        global = true
    )]
    data_root: PathBuf,

    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Create a network.
    Create(create::CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(inspect::InspectArgs),
    /// Remove one or more networks.
    #[command(visible_alias = "remove")]
    Rm(ops::RmArgs),
    /// Remove all unused networks.
    Prune(ops::PruneArgs),
    /// Connect a running container to a network.
    Connect(ops::ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(ops::DisconnectArgs),
    /// Set the remote endpoints of an overlay network on this node.
    Peers(peers::PeersArgs),
}

/// Runs `bosun network …`.
pub(super) fn run(args: NetworkArgs) -> anyhow::Result<ExitCode> {
    run_words("bosun network", args.args, dispatch)
}

async fn dispatch(cli: NetworkCli) -> anyhow::Result<ExitCode> {
    let scope = match &cli.command {
        Sub::Create(_) | Sub::Ls(_) | Sub::Inspect(_) | Sub::Rm(_) => {
            cluster::scope(&cli.data_root)?
        }
        _ => cluster::Scope::Standalone,
    };
    if let (Sub::Create(args), cluster::Scope::Manager(services)) = (&cli.command, &scope)
        && args.driver == "overlay"
    {
        let network = services.create_network(cluster::request(args)?).await?;
        println!("{}", network.record.meta.id);
        return Ok(ExitCode::SUCCESS);
    }
    if let (Sub::Create(args), cluster::Scope::Worker) = (&cli.command, &scope)
        && args.driver == "overlay"
    {
        anyhow::bail!(
            "this node is a cluster worker: create overlay networks on a manager (they are the cluster's)"
        );
    }
    let cluster_networks = match &scope {
        cluster::Scope::Manager(services) => Some(services.networks().await?),
        _ => None,
    };
    let mut client = connect_with(cli.agent.host.as_deref(), NetworksClient::connect).await?;
    match cli.command {
        Sub::Create(args) => create::run(&mut client, args).await,
        Sub::Ls(args) => ls::run(&mut client, args, cluster_networks.as_deref()).await,
        Sub::Inspect(args) => inspect::run(&mut client, args, cluster_networks.as_deref()).await,
        Sub::Rm(args) => {
            let services = match &scope {
                cluster::Scope::Manager(services) => Some(services.as_ref()),
                _ => None,
            };
            let cluster = services.zip(cluster_networks.as_deref());
            ops::rm(&mut client, args, cluster).await
        }
        Sub::Prune(args) => ops::prune(&mut client, args).await,
        Sub::Connect(args) => ops::connect(&mut client, args).await,
        Sub::Disconnect(args) => ops::disconnect(&mut client, args).await,
        Sub::Peers(args) => peers::run(&mut client, args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(words: &[&str]) -> Result<NetworkCli, clap::Error> {
        NetworkCli::try_parse_from(std::iter::once("bosun network").chain(words.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        NetworkCli::command().debug_assert();
    }

    #[test]
    fn docker_style_flags_parse() {
        let cli = parse(&[
            "create",
            "--subnet",
            "10.1.0.0/24",
            "--subnet",
            "fd00::/64",
            "--internal",
            "--label",
            "a=b",
            "-o",
            "mtu=1400",
            "--ipv6",
            "web",
        ])
        .unwrap();
        let Sub::Create(c) = cli.command else {
            panic!("not create")
        };
        assert_eq!(c.subnets, ["10.1.0.0/24", "fd00::/64"]);
        assert!(c.internal && c.ipv6);
        assert!(matches!(parse(&["ls", "-q"]).unwrap().command, Sub::Ls(a) if a.quiet));
        assert!(matches!(parse(&["prune", "-f"]).unwrap().command, Sub::Prune(a) if a.force));
        let cli = parse(&["connect", "--alias", "db", "--ip", "10.1.0.9", "net", "c1"]).unwrap();
        let Sub::Connect(c) = cli.command else {
            panic!("not connect")
        };
        assert_eq!(
            (c.aliases, c.ip, c.network, c.container),
            (
                vec!["db".to_string()],
                Some("10.1.0.9".to_string()),
                "net".to_string(),
                "c1".to_string()
            )
        );
        assert!(parse(&["rm"]).is_err(), "rm needs a network");
        let cli = parse(&[
            "peers",
            "--peer",
            "192.0.2.2=10.9.0.3/02:42:0a:09:00:03,192.0.2.3=10.9.0.4/02:42:0a:09:00:04",
            "--peer",
            "192.0.2.4=10.9.0.5/02:42:0a:09:00:05",
            "ov",
        ])
        .unwrap();
        let Sub::Peers(p) = cli.command else {
            panic!("not peers")
        };
        assert_eq!(
            (p.peers.len(), p.network.as_str(), p.none),
            (3, "ov", false)
        );
        assert!(parse(&["peers", "--none", "--peer", "a=b/c", "ov"]).is_err());
        let cli = parse(&[
            "create",
            "--driver",
            "overlay",
            "--attachable",
            "-o",
            "vni=7",
            "ov",
        ])
        .unwrap();
        assert!(matches!(cli.command, Sub::Create(c) if c.attachable && c.driver == "overlay"));
    }
}
