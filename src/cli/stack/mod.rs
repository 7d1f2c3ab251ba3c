//! `bosun stack …`: deploy a compose file's services to the cluster as `<stack>_<service>`,
//! and list, inspect the tasks of, and remove stacks (as `docker stack`). The file is loaded
//! by the same loader as `bosun up`; the mapping and the diff are `orchestrator::stack`.

mod dependencies;
mod deploy;
mod list;
mod secrets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use cluster_manager::Manager;

use super::cluster::{DataRootArg, runtime};
use super::project::ProjectArgs;
use super::service::ps::TaskOutput;

/// Arguments of `bosun stack`.
#[derive(Debug, Args)]
pub(crate) struct StackArgs {
    #[command(flatten)]
    root: DataRootArg,
    #[command(subcommand)]
    command: StackCommand,
}

#[derive(Debug, Subcommand)]
enum StackCommand {
    /// Deploy a new stack or update an existing one from compose files.
    #[command(alias = "up")]
    Deploy(DeployArgs),
    /// List the stacks.
    #[command(alias = "list")]
    Ls {
        /// Output format: table or json (one object per line).
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// List the services of a stack.
    Services {
        /// Print service ids only.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output: `table` (default), `json` (one object per line), or a Go template
        /// as `service ls --format` takes.
        #[arg(long, default_value = "table")]
        format: String,
        /// The stack.
        stack: String,
    },
    /// List the tasks of a stack.
    Ps {
        /// Filter: desired-state=running|shutdown, node=NODE.
        #[arg(short = 'f', long = "filter")]
        filter: Vec<String>,
        #[command(flatten)]
        output: TaskOutput,
        /// The stack.
        stack: String,
    },
    /// Remove stacks (their services and tasks; named volumes' data stays on the nodes).
    #[command(aliases = ["remove", "down"])]
    Rm {
        /// The stacks.
        #[arg(required = true)]
        stacks: Vec<String>,
    },
}

/// Arguments of `stack deploy`.
#[derive(Debug, Args)]
struct DeployArgs {
    /// Compose file (repeatable; later files override earlier ones; `-` reads one from
    /// standard input).
    #[arg(
        short = 'c',
        long = "compose-file",
        value_name = "FILE",
        required = true
    )]
    compose_files: Vec<PathBuf>,
    /// Remove the services of the stack that are no longer in the files.
    #[arg(long)]
    prune: bool,
    /// Return once the services are created or updated, without waiting for their tasks.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Send this user's credentials for each service's image registry (`bosun login`) to the
    /// managers, which keep them sealed and hand them to the nodes that run the tasks.
    #[arg(long)]
    with_registry_auth: bool,
    /// Pin each service's image to the manifest digest this node's agent holds it under:
    /// always, changed (only images whose reference differs from what the service runs) or
    /// never (references as typed).
    #[arg(long, value_name = "WHEN", default_value = "always", value_parser = ["always", "changed", "never"])]
    resolve_image: String,
    /// The stack's name (the prefix of its services' names).
    stack: String,
}

/// Runs `bosun stack`; `project` holds the global options (`--env-file`, `--profile`) the
/// compose files are loaded with.
pub(super) fn run(project: &ProjectArgs, args: StackArgs) -> anyhow::Result<ExitCode> {
    let manager = Manager::open(&args.root.data_root)?;
    let rt = runtime()?;
    let _context = rt.enter();
    let client = manager.services_client()?;
    match args.command {
        StackCommand::Deploy(deploy) => {
            let options = ProjectArgs {
                files: deploy.compose_files.clone(),
                project_name: Some(deploy.stack.clone()),
                ..project.clone()
            };
            rt.block_on(deploy::run(&client, &options, &deploy))?;
        }
        StackCommand::Ls { format } => {
            let services = rt.block_on(client.list())?;
            list::print_stacks(&services, &format);
        }
        StackCommand::Services {
            quiet,
            format,
            stack,
        } => {
            let services = rt.block_on(list::services_of(&client, &stack))?;
            super::service::print_services(&services, quiet, &format)?;
        }
        StackCommand::Ps {
            filter,
            output,
            stack,
        } => {
            let tasks = rt.block_on(list::tasks_of(&client, &stack, &filter))?;
            super::service::ps::print(&tasks, &output)?;
        }
        StackCommand::Rm { stacks } => {
            for stack in stacks {
                rt.block_on(list::remove(&client, &stack))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct StackCli {
        #[command(flatten)]
        args: StackArgs,
    }

    #[test]
    fn definition_is_consistent() {
        StackCli::command().debug_assert();
    }

    #[test]
    fn deploy_takes_files_prune_and_detach() {
        let cli = StackCli::try_parse_from([
            "stack", "deploy", "-c", "a.yaml", "-c", "b.yaml", "--prune", "-d", "shop",
        ])
        .unwrap();
        let StackCommand::Deploy(deploy) = cli.args.command else {
            panic!("not a deploy");
        };
        assert_eq!(
            deploy.compose_files,
            [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
        assert!(deploy.prune && deploy.detach && !deploy.with_registry_auth);
        assert_eq!(deploy.resolve_image, "always");
        assert_eq!(deploy.stack, "shop");
        let cli = StackCli::try_parse_from([
            "stack",
            "deploy",
            "-c",
            "a.yaml",
            "--with-registry-auth",
            "--resolve-image",
            "changed",
            "shop",
        ])
        .unwrap();
        let StackCommand::Deploy(deploy) = cli.args.command else {
            panic!("not a deploy");
        };
        assert!(deploy.with_registry_auth);
        assert_eq!(deploy.resolve_image, "changed");
        assert!(StackCli::try_parse_from(["stack", "deploy", "shop"]).is_err());
    }
}
