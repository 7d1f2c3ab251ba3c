//! `bosun system info|df|prune|events` and `bosun info`, as `docker system …`: the node's agent
//! summarized (counts, versions, host facts), its disk use, one prune of everything unused, and
//! its events.

mod df;
mod info;
mod prune;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use super::container::connect::{HostArg, connect_with, run_words};

/// `bosun system`: the raw words, parsed by [`SystemCli`].
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct SystemArgs {
    /// The system command and its options (see `bosun system --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Manage the node: information, disk usage, pruning.
#[derive(Debug, Parser)]
#[command(name = "bosun system", disable_help_subcommand = true)]
struct SystemCli {
    #[command(flatten)]
    agent: HostArg,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Display system-wide information.
    Info(info::InfoArgs),
    /// Show disk usage.
    Df(df::DfArgs),
    /// Get real time events from the node (as `bosun container events`).
    Events(crate::cli::container::events::EventsArgs),
    /// Remove unused data: stopped containers, unused networks, dangling images (and with
    /// --volumes, unused anonymous volumes).
    Prune(prune::PruneArgs),
}

/// `bosun info`: the raw words, parsed as `bosun system info`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct InfoArgs {
    /// The options of `bosun system info` (see `bosun system info --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Runs `bosun system …`.
pub(super) fn run(args: SystemArgs) -> anyhow::Result<ExitCode> {
    run_words("bosun system", args.args, dispatch)
}

/// Runs `bosun info` (the same as `bosun system info`).
pub(super) fn run_info(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let words = std::iter::once(OsString::from("info"))
        .chain(args.args)
        .collect();
    run_words("bosun system", words, dispatch)
}

async fn dispatch(cli: SystemCli) -> anyhow::Result<ExitCode> {
    let host = cli.agent.host.as_deref();
    match cli.command {
        Sub::Info(args) => info::run(host, args).await,
        Sub::Df(args) => df::run(host, args).await,
        Sub::Prune(args) => prune::run(host, args).await,
        Sub::Events(args) => {
            let mut client = connect_with(host, agent::AgentClient::connect).await?;
            crate::cli::container::events::run(&mut client, args).await
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        SystemCli::command().debug_assert();
    }

    #[test]
    fn parses_docker_flags() {
        let parse = |words: &[&str]| {
            SystemCli::try_parse_from(std::iter::once("bosun system").chain(words.iter().copied()))
        };
        assert!(matches!(
            parse(&["info", "-f", "{{.NCPU}}"]).expect("parses").command,
            Sub::Info(a) if a.format.as_deref() == Some("{{.NCPU}}")
        ));
        assert!(matches!(
            parse(&["prune", "-a", "-f", "--volumes"]).expect("parses").command,
            Sub::Prune(a) if a.all && a.force && a.volumes
        ));
        assert!(matches!(
            parse(&["df", "--format", "json"]).expect("parses").command,
            Sub::Df(a) if a.format == "json"
        ));
    }
}
