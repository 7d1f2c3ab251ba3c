//! `bosun container …`: the engine's containers through the node agent, as `docker container …`.
//!
//! The words after `container` are parsed here rather than by the top-level parser, so that the
//! docker CLI's short flags (`rm -f`, `logs -f`, `ls -q`) do not collide with the project options
//! that are global at the top level.

pub(crate) mod attach;
pub(crate) mod attach_io;
mod attach_signals;
pub(crate) mod changes;
mod cluster_net;
pub(crate) mod connect;
pub(crate) mod cp;
pub(crate) mod detach_keys;
pub(crate) mod events;
pub(crate) mod exec;
mod flags;
mod health;
mod inspect;
pub(crate) mod logs;
mod ls;
mod ops;
pub(crate) mod port;
pub(crate) mod run;
pub(crate) mod stats;
pub(crate) mod table;
pub(crate) mod units;

use std::ffi::OsString;
use std::process::ExitCode;

use agent::AgentClient;
use clap::{Args, Parser, Subcommand};

use connect::{HostArg, connect_with, run_words};

/// `bosun container`: the raw words, parsed by [`ContainerCli`].
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct ContainerArgs {
    /// The container command and its options (see `bosun container --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Manage containers.
#[derive(Debug, Parser)]
#[command(name = "bosun container", disable_help_subcommand = true)]
struct ContainerCli {
    #[command(flatten)]
    agent: HostArg,

    /// Where this node's cluster state is kept: on a cluster node, `run --network` and
    /// `create --network` join the cluster's attachable overlays.
    #[arg(
        long,
        env = "BOSUN_DATA_ROOT",
        default_value = "/var/lib/bosun",
        value_name = "DIR",
        global = true
    )]
    data_root: std::path::PathBuf,

    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Create and run a new container.
    Run(Box<run::RunArgs>),
    /// Create a new container (not started).
    Create(Box<run::RunArgs>),
    /// Start one or more created or stopped containers.
    Start(ops::StartArgs),
    /// List port mappings of a container.
    Port(port::PortArgs),
    /// Rename a container.
    Rename(port::RenameArgs),
    /// List containers.
    #[command(visible_alias = "ps", alias = "list")]
    Ls(ls::LsArgs),
    /// Stop one or more running containers.
    Stop(ops::StopArgs),
    /// Kill one or more running containers.
    Kill(ops::KillArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(ops::RmArgs),
    /// Pause all processes within one or more containers.
    Pause(ops::Targets),
    /// Unpause all processes within one or more containers.
    Unpause(ops::Targets),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(ops::Targets),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Display detailed information on one or more containers.
    Inspect(inspect::InspectArgs),
    /// Display a live stream of container resource usage statistics.
    Stats(stats::StatsArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(attach::AttachArgs),
    /// Display the running processes of a container.
    Top(exec::TopArgs),
    /// Restart one or more containers.
    Restart(ops::StopArgs),
    /// Get real time events from the node.
    Events(events::EventsArgs),
    /// `cp`, `export`, `diff`, `commit`, `update`.
    #[command(flatten)]
    Changes(changes::ChangesCommand),
}

/// Runs `bosun container …`.
pub(super) fn run(args: ContainerArgs) -> anyhow::Result<ExitCode> {
    run_words("bosun container", args.args, dispatch)
}

async fn dispatch(cli: ContainerCli) -> anyhow::Result<ExitCode> {
    let mut client = connect_with(cli.agent.host.as_deref(), AgentClient::connect).await?;
    match cli.command {
        Sub::Run(args) => {
            run::run(
                &mut client,
                *args,
                cli.agent.host.as_deref(),
                &cli.data_root,
            )
            .await
        }
        Sub::Create(args) => {
            run::create(
                &mut client,
                *args,
                cli.agent.host.as_deref(),
                &cli.data_root,
            )
            .await
        }
        Sub::Start(args) => ops::start(&mut client, args, cli.agent.host.as_deref()).await,
        Sub::Port(args) => port::port(&mut client, args).await,
        Sub::Rename(args) => port::rename(&mut client, args).await,
        Sub::Ls(args) => ls::run(&mut client, args).await,
        Sub::Stop(args) => ops::stop(&mut client, args).await,
        Sub::Kill(args) => ops::kill(&mut client, args).await,
        Sub::Rm(args) => ops::rm(&mut client, args).await,
        Sub::Pause(args) => ops::pause(&mut client, args).await,
        Sub::Unpause(args) => ops::unpause(&mut client, args).await,
        Sub::Wait(args) => ops::wait(&mut client, args).await,
        Sub::Logs(args) => logs::run(&mut client, args).await,
        Sub::Inspect(args) => inspect::run(&mut client, args).await,
        Sub::Stats(args) => stats::run(&mut client, args).await,
        Sub::Exec(args) => exec::exec(&mut client, args, cli.agent.host.as_deref()).await,
        Sub::Attach(args) => attach::run(&mut client, args, cli.agent.host.as_deref()).await,
        Sub::Top(args) => exec::top(&mut client, args).await,
        Sub::Restart(args) => ops::restart(&mut client, args).await,
        Sub::Events(args) => events::run(&mut client, args).await,
        Sub::Changes(command) => {
            let mut changes =
                connect_with(cli.agent.host.as_deref(), agent::images_client::changes).await?;
            changes::run(&mut changes, command).await
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        ContainerCli::command().debug_assert();
    }

    #[test]
    fn docker_style_flags_parse() {
        let parse = |words: &[&str]| {
            ContainerCli::try_parse_from(
                std::iter::once("bosun container").chain(words.iter().copied()),
            )
        };
        let cli = parse(&[
            "run",
            "-d",
            "--rm",
            "--rootfs",
            "/r",
            "sh",
            "-c",
            "echo -n hi",
        ])
        .unwrap();
        let Sub::Run(run) = cli.command else {
            panic!("not run")
        };
        assert!(run.detach && run.rm);
        assert_eq!(run.command, ["sh", "-c", "echo -n hi"]);
        assert!(matches!(parse(&["rm", "-f", "web"]).unwrap().command, Sub::Rm(a) if a.force));
        assert!(matches!(parse(&["ps", "-aq"]).unwrap().command, Sub::Ls(a) if a.all && a.quiet));
        assert!(matches!(parse(&["logs", "-f", "web"]).unwrap().command, Sub::Logs(a) if a.follow));
        let cli = parse(&["-H", "unix:///tmp/x.sock", "ls"]).unwrap();
        assert_eq!(cli.agent.host.as_deref(), Some("unix:///tmp/x.sock"));
        let cli = parse(&["ls", "-H", "unix:///tmp/y.sock"]).unwrap();
        assert_eq!(cli.agent.host.as_deref(), Some("unix:///tmp/y.sock"));
    }
}
