//! The command line: argument definitions (clap), dispatch, and error rendering.

mod agent;
mod agent_lost;
mod cluster;
mod completion;
mod compose;
mod config;
mod container;
mod format;
mod image;
mod login;
mod network;
mod node;
mod node_inspect;
mod pipe;
mod project;
mod secret;
mod service;
mod stack;
mod system;
mod version;
mod volume;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Bosun: declarative multi-container orchestration. The top level acts on a compose project.
#[derive(Debug, Parser)]
#[command(name = "bosun", version, about, long_about = None, disable_help_subcommand = true)]
pub(crate) struct Cli {
    /// Options that select the compose project.
    #[command(flatten)]
    pub project: project::ProjectArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Parse, resolve and render the compose project in canonical form.
    Config(config::ConfigArgs),
    /// Show version information.
    Version(version::VersionArgs),
    /// Generate a shell completion script.
    Completion(completion::CompletionArgs),
    /// Manage containers (as `docker container`).
    Container(container::ContainerArgs),
    /// Run the node agent (the daemon that owns this node's containers).
    Agent(agent::AgentArgs),
    /// Manage the cluster (as `docker swarm`).
    Cluster(cluster::ClusterArgs),
    /// Manage cluster nodes.
    Node(node::NodeArgs),
    /// Manage replicated and global services of the cluster (as `docker service`).
    Service(service::ServiceArgs),
    /// Deploy compose files to the cluster as stacks of services (as `docker stack`).
    Stack(stack::StackArgs),
    /// Manage the cluster's secrets (as `docker secret`).
    Secret(secret::SecretArgs),
    /// Manage networks (as `docker network`).
    Network(network::NetworkArgs),
    /// Manage images (as `docker image`).
    Image(image::ImageArgs),
    /// Manage volumes (as `docker volume`).
    Volume(volume::VolumeArgs),
    /// Manage the node: info, disk usage, prune (as `docker system`).
    System(system::SystemArgs),
    /// Display system-wide information (as `docker info`).
    Info(system::InfoArgs),
    /// Log in to a registry (credentials kept for pulls and pushes).
    Login(login::LoginArgs),
    /// Log out from a registry.
    Logout(login::LogoutArgs),
    /// Run a cluster manager in the foreground (started by `cluster init` and `cluster join`).
    #[command(hide = true)]
    Manager(cluster::ManagerArgs),
    /// The compose commands (up, down, ps, logs, …).
    #[command(flatten)]
    Compose(compose::ComposeCommand),
}

/// `bosun compose <cmd>` is the same as `bosun <cmd>`: drop the word.
pub(crate) fn normalize_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.collect();
    if args.get(1).is_some_and(|a| a == "compose") {
        args.remove(1);
    }
    args
}

/// Parses the command line.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(args)
}

/// Runs the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.project.has_execution_options() && !matches!(cli.command, Command::Compose(_)) {
        anyhow::bail!(
            "--dry-run, --parallel and --progress before the command apply to compose commands only"
        );
    }
    if matches!(cli.command, Command::Agent(_) | Command::Manager(_)) {
        pipe::keep_running_on_closed_stdout();
    }
    match cli.command {
        Command::Config(args) => config::run(&cli.project, args),
        Command::Version(args) => version::run(&args),
        Command::Completion(args) => completion::run(&args, &mut Cli::command()),
        Command::Container(args) => container::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Node(args) => node::run(args),
        Command::Service(args) => service::run(args),
        Command::Stack(args) => stack::run(&cli.project, args),
        Command::Secret(args) => secret::run(args),
        Command::Network(args) => network::run(args),
        Command::Image(args) => image::run(args),
        Command::Volume(args) => volume::run(args),
        Command::System(args) => system::run(args),
        Command::Info(args) => system::run_info(args),
        Command::Login(args) => login::login(args),
        Command::Logout(args) => login::logout(args),
        Command::Manager(args) => cluster::run_manager(args),
        Command::Compose(command) => compose::run(&cli.project, command),
    }
}

/// Prints `error: <what>` and its causes, one per line; a write to a closed stdout ends the
/// process quietly instead (see [`pipe`]).
pub(crate) fn report(err: &anyhow::Error) {
    if pipe::is_broken_pipe(err) {
        pipe::exit_if_stdout_closed();
    }
    eprintln!("error: {}", agent_lost::text(err.as_ref()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", agent_lost::text(cause));
    }
}

/// Prints `error: <what>` for one failed item of a command that goes on with the others.
pub(crate) fn report_item(err: &(dyn std::error::Error + 'static)) {
    eprintln!("error: {}", agent_lost::text(err));
}

/// Help and version go to stdout with success; usage errors print one clap error and exit 1.
pub(crate) fn exit_for_clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 1,
        _ => 1,
    };
    // Printing can only fail when the terminal is gone; nothing useful is left to do then.
    let _ = err.print();
    ExitCode::from(code)
}

/// A bug must still end in one line, not a backtrace; a print to a closed stdout (which
/// panics in `print!`) ends the process quietly instead (see [`pipe`]).
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        pipe::exit_if_stdout_closed();
        eprintln!("error: internal error (please report this bug): {info}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn top_level_events_is_the_project_command() {
        let cli = parse(
            ["bosun", "events", "--json", "web"]
                .iter()
                .map(OsString::from)
                .collect(),
        )
        .expect("parses");
        match cli.command {
            Command::Compose(compose::ComposeCommand::Events(args)) => {
                assert!(args.json);
                assert_eq!(args.services, ["web"]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn execution_options_are_taken_before_the_command_too() {
        let cli = parse(
            [
                "bosun",
                "--dry-run",
                "--progress",
                "plain",
                "--parallel",
                "2",
                "up",
                "-d",
            ]
            .iter()
            .map(OsString::from)
            .collect(),
        )
        .expect("parses");
        assert!(cli.project.dry_run);
        let Command::Compose(compose::ComposeCommand::Up(up)) = cli.command else {
            panic!("not up")
        };
        let merged = up.create.globals.merged(&cli.project);
        assert!(merged.dry_run);
        assert_eq!((merged.parallel, merged.progress.as_str()), (2, "plain"));
    }

    #[test]
    fn execution_options_are_refused_for_engine_commands() {
        let cli = parse(
            ["bosun", "--dry-run", "volume", "ls"]
                .iter()
                .map(OsString::from)
                .collect(),
        )
        .expect("parses");
        let err = run(cli).expect_err("refused");
        assert!(err.to_string().contains("compose commands only"), "{err}");
    }

    /// Follows the Compose gap where project options leaked into every command's help: they
    /// belong to the compose commands (and the top level), not to `cluster`, `node`, ….
    #[test]
    fn project_options_stay_out_of_other_commands_help() {
        use clap::CommandFactory;
        let mut top = Cli::command();
        top.build();
        let help = |path: &[&str]| {
            let mut command = top.clone();
            for name in path {
                command = command
                    .find_subcommand(name)
                    .unwrap_or_else(|| panic!("no subcommand {name}"))
                    .clone();
            }
            command.render_long_help().to_string()
        };
        for path in [
            &["cluster"][..],
            &["node"],
            &["volume"],
            &["container"],
            &["network"],
        ] {
            let text = help(path);
            assert!(!text.contains("--profile"), "{path:?}: {text}");
            assert!(!text.contains("--project-name"), "{path:?}: {text}");
        }
        assert!(top.render_long_help().to_string().contains("--profile"));
    }

    #[test]
    fn compose_prefix_is_accepted() {
        let args = normalize_args(["bosun", "compose", "config"].iter().map(OsString::from));
        let cli = parse(args).expect("parses");
        assert!(matches!(cli.command, Command::Config(_)));
    }
}
