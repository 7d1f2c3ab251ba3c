//! `bosun completion SHELL`: shell completion scripts generated from the command definition.

use std::process::ExitCode;

use clap::Args;
use clap_complete::Shell;

/// Arguments of `bosun completion`.
#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to generate the script for.
    pub shell: Shell,
}

/// Writes the completion script for the chosen shell to stdout.
pub(super) fn run(args: &CompletionArgs, command: &mut clap::Command) -> anyhow::Result<ExitCode> {
    clap_complete::generate(args.shell, command, "bosun", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
